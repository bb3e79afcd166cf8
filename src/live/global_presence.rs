//! Presence across instances, kept in Redis: each instance owns a hash of
//! the users it has sockets for, and refreshes its liveness in a sorted set.
//! An instance that stops refreshing is reaped by the others, so a crashed
//! instance leaves no ghosts.

use std::collections::HashMap;

use redis::aio::ConnectionManager;

use crate::cluster::Cluster;
use crate::db::now_ms;
use crate::views::Author;

/// An instance silent for this long is dead.
pub const DEAD_AFTER_MS: i64 = 15_000;

/// This instance's view of global presence.
#[derive(Clone)]
pub struct GlobalPresence {
    conn: ConnectionManager,
    instance: String,
    prefix: String,
}

impl GlobalPresence {
    pub fn new(cluster: &Cluster) -> Self {
        GlobalPresence {
            conn: cluster.conn.clone(),
            instance: cluster.instance_id.clone(),
            prefix: cluster.prefix.clone(),
        }
    }

    /// The sorted set of instances, scored by their last heartbeat.
    fn instances_key(&self) -> String {
        format!("{}:presence:instances", self.prefix)
    }

    /// The hash of users an instance has sockets for.
    fn users_key(&self, instance: &str) -> String {
        format!("{}:presence:users:{instance}", self.prefix)
    }

    /// Records that this instance has a socket of the user.
    pub async fn add(&self, author: &Author) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let json = serde_json::to_string(author).unwrap_or_default();
        redis::pipe()
            .hset(self.users_key(&self.instance), author.id, json)
            .ignore()
            .zadd(self.instances_key(), &self.instance, now_ms())
            .ignore()
            .query_async(&mut conn)
            .await
    }

    /// Records that this instance has no socket of the user any more.
    pub async fn remove(&self, user_id: i64) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("HDEL")
            .arg(self.users_key(&self.instance))
            .arg(user_id)
            .query_async(&mut conn)
            .await
    }

    async fn live_instances(&self) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.conn.clone();
        redis::cmd("ZRANGEBYSCORE")
            .arg(self.instances_key())
            .arg(now_ms() - DEAD_AFTER_MS)
            .arg("+inf")
            .query_async(&mut conn)
            .await
    }

    /// Everyone online on any live instance; with `except`, on the others.
    pub async fn online(&self, except_self: bool) -> redis::RedisResult<HashMap<i64, Author>> {
        let mut conn = self.conn.clone();
        let mut online = HashMap::new();
        for instance in self.live_instances().await? {
            if except_self && instance == self.instance {
                continue;
            }
            let users: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(self.users_key(&instance))
                .query_async(&mut conn)
                .await?;
            for (id, json) in users {
                if let (Ok(id), Ok(author)) =
                    (id.parse::<i64>(), serde_json::from_str::<Author>(&json))
                {
                    online.insert(id, author);
                }
            }
        }
        Ok(online)
    }

    /// Refreshes this instance's liveness; the first live instance also reaps
    /// dead ones and returns the users that vanished with them.
    pub async fn heartbeat(&self, local: &[Author]) -> redis::RedisResult<Vec<Author>> {
        let mut conn = self.conn.clone();
        let now = now_ms();
        // Re-assert our own users, in case Redis restarted and lost them.
        let mut pipe = redis::pipe();
        pipe.zadd(self.instances_key(), &self.instance, now)
            .ignore();
        pipe.del(self.users_key(&self.instance)).ignore();
        for author in local {
            let json = serde_json::to_string(author).unwrap_or_default();
            pipe.hset(self.users_key(&self.instance), author.id, json)
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;

        let live = self.live_instances().await?;
        if live.iter().min() != Some(&self.instance) {
            return Ok(Vec::new());
        }
        let dead: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.instances_key())
            .arg("-inf")
            .arg(format!("({}", now - DEAD_AFTER_MS))
            .query_async(&mut conn)
            .await?;
        if dead.is_empty() {
            return Ok(Vec::new());
        }
        let mut vanished = HashMap::new();
        for instance in &dead {
            let users: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(self.users_key(instance))
                .query_async(&mut conn)
                .await?;
            for (_, json) in users {
                if let Ok(author) = serde_json::from_str::<Author>(&json) {
                    vanished.insert(author.id, author);
                }
            }
            redis::pipe()
                .del(self.users_key(instance))
                .ignore()
                .zrem(self.instances_key(), instance)
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
        }
        let still_here = self.online(false).await?;
        Ok(vanished
            .into_values()
            .filter(|a| !still_here.contains_key(&a.id))
            .collect())
    }
}
