//! Presence across instances, kept in Redis: each instance owns a hash of
//! the users it has sockets for and refreshes its liveness in a sorted
//! set; a third hash counts, per user, the instances holding them. Every
//! change runs as one script, so exactly one instance learns that a user
//! came online anywhere (the count went 0 → 1) or went offline everywhere
//! (1 → 0), even when tabs on two instances open or close at the same
//! moment — and announces it only after Redis holds it, so a snapshot read
//! after the announcement agrees with it. An instance that stops
//! refreshing is reaped by the others, so a crashed instance leaves no
//! ghosts; after a Redis restart each instance puts its users back.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use redis::Script;

use super::presence::Departed;
use crate::cluster::Cluster;
use crate::db::now_ms;
use crate::views::Author;

/// An instance silent for this long is dead.
pub const DEAD_AFTER_MS: i64 = 15_000;

/// KEYS: this instance's users, holders, instances. ARGV: user id, author,
/// instance, now. Returns the user's holder count, or -1 when this
/// instance held them already (only the author was refreshed).
const ADD: &str = r"
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
return -1
";

/// KEYS: this instance's users, holders. ARGV: user id. Returns the user's
/// remaining holder count, or -1 when this instance did not hold them.
const REMOVE: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  local n = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
  if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) return 0 end
  return n
end
return -1
";

/// KEYS: this instance's users, holders, instances. ARGV: instance, now,
/// then id, author pairs of every user this instance holds. Makes Redis
/// agree with them (after a Redis restart, or an update that failed while
/// Redis was away); returns {ids now online anywhere, authors now offline
/// everywhere}.
const RECONCILE: &str = r"
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
local wanted = {}
for i = 3, #ARGV, 2 do wanted[ARGV[i]] = ARGV[i + 1] end
local joined, left = {}, {}
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  local id = held[i]
  if not wanted[id] then
    redis.call('HDEL', KEYS[1], id)
    local n = redis.call('HINCRBY', KEYS[2], id, -1)
    if n <= 0 then
      redis.call('HDEL', KEYS[2], id)
      table.insert(left, held[i + 1])
    end
  end
end
for id, author in pairs(wanted) do
  if redis.call('HSET', KEYS[1], id, author) == 1 then
    if redis.call('HINCRBY', KEYS[2], id, 1) == 1 then table.insert(joined, id) end
  end
end
return {joined, left}
";

/// KEYS: instances, the dead instance's users, holders. ARGV: instance,
/// cutoff. Removes the instance if it is still silent since before the
/// cutoff (so two reapers never count it twice); returns the authors now
/// offline everywhere.
const REAP: &str = r"
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seen or tonumber(seen) >= tonumber(ARGV[2]) then return {} end
redis.call('ZREM', KEYS[1], ARGV[1])
local held = redis.call('HGETALL', KEYS[2])
local gone = {}
for i = 1, #held, 2 do
  local n = redis.call('HINCRBY', KEYS[3], held[i], -1)
  if n <= 0 then
    redis.call('HDEL', KEYS[3], held[i])
    table.insert(gone, held[i + 1])
  end
end
redis.call('DEL', KEYS[2])
return gone
";

/// This instance's view of global presence.
#[derive(Clone)]
pub struct GlobalPresence {
    conn: ConnectionManager,
    instance: String,
    prefix: String,
}

/// What a reconciliation found changed anywhere.
#[derive(Debug, Default)]
pub struct Changes {
    pub joined: Vec<Author>,
    pub left: Vec<Departed>,
}

fn departed(json: &str) -> Option<Departed> {
    serde_json::from_str::<Author>(json).ok().map(|a| Departed {
        id: a.id,
        username: a.username,
    })
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

    /// The hash counting, per user, the instances holding them.
    fn holders_key(&self) -> String {
        format!("{}:presence:holders", self.prefix)
    }

    /// Records that this instance has a socket of the user; true when the
    /// user just came online anywhere.
    pub async fn add(&self, author: &Author) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let json = serde_json::to_string(author).unwrap_or_default();
        let holders: i64 = Script::new(ADD)
            .key(self.users_key(&self.instance))
            .key(self.holders_key())
            .key(self.instances_key())
            .arg(author.id)
            .arg(json)
            .arg(&self.instance)
            .arg(now_ms())
            .invoke_async(&mut conn)
            .await?;
        Ok(holders == 1)
    }

    /// Records that this instance has no socket of the user any more; true
    /// when the user just went offline everywhere.
    pub async fn remove(&self, user_id: i64) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let holders: i64 = Script::new(REMOVE)
            .key(self.users_key(&self.instance))
            .key(self.holders_key())
            .arg(user_id)
            .invoke_async(&mut conn)
            .await?;
        Ok(holders == 0)
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

    /// Everyone online on any live instance.
    pub async fn online(&self) -> redis::RedisResult<HashMap<i64, Author>> {
        let mut conn = self.conn.clone();
        let mut online = HashMap::new();
        for instance in self.live_instances().await? {
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

    /// How many users are online anywhere.
    pub async fn count(&self) -> redis::RedisResult<usize> {
        let mut conn = self.conn.clone();
        redis::cmd("HLEN")
            .arg(self.holders_key())
            .query_async(&mut conn)
            .await
    }

    /// Refreshes this instance's liveness and makes Redis agree with the
    /// users it holds (`local`); reaps instances that went silent. Returns
    /// who came online or went offline anywhere because of it.
    pub async fn heartbeat(&self, local: &[Author]) -> redis::RedisResult<Changes> {
        let mut conn = self.conn.clone();
        let now = now_ms();
        let reconcile = Script::new(RECONCILE);
        let mut invocation = reconcile.prepare_invoke();
        invocation
            .key(self.users_key(&self.instance))
            .key(self.holders_key())
            .key(self.instances_key())
            .arg(&self.instance)
            .arg(now);
        for author in local {
            invocation
                .arg(author.id)
                .arg(serde_json::to_string(author).unwrap_or_default());
        }
        let (joined, left): (Vec<String>, Vec<String>) = invocation.invoke_async(&mut conn).await?;
        let mut changes = Changes {
            joined: local
                .iter()
                .filter(|a| joined.contains(&a.id.to_string()))
                .cloned()
                .collect(),
            left: left.iter().filter_map(|json| departed(json)).collect(),
        };
        let reap = Script::new(REAP);
        let cutoff = now - DEAD_AFTER_MS;
        let dead: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.instances_key())
            .arg("-inf")
            .arg(format!("({cutoff}"))
            .query_async(&mut conn)
            .await?;
        for instance in dead {
            let gone: Vec<String> = reap
                .key(self.instances_key())
                .key(self.users_key(&instance))
                .key(self.holders_key())
                .arg(&instance)
                .arg(cutoff)
                .invoke_async(&mut conn)
                .await?;
            changes
                .left
                .extend(gone.iter().filter_map(|json| departed(json)));
        }
        Ok(changes)
    }
}
