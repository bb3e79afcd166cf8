//! Scale-out through Redis: the connection shared by global presence and
//! cross-instance rate limits (the Socket.IO adapter has its own).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use url::Url;

/// This instance's handle on Redis.
#[derive(Clone)]
pub struct Cluster {
    pub conn: ConnectionManager,
    /// A random id naming this instance in Redis keys.
    pub instance_id: String,
    pub client: redis::Client,
    /// Prefix of every key and channel.
    pub prefix: String,
}

/// The URL with `protocol=resp3` (the adapter needs RESP3 push messages).
pub fn resp3_url(url: &Url) -> String {
    let mut url = url.clone();
    let has_protocol = url.query_pairs().any(|(k, _)| k == "protocol");
    if !has_protocol {
        url.query_pairs_mut().append_pair("protocol", "resp3");
    }
    url.to_string()
}

impl Cluster {
    /// Connects (failing fast when Redis does not answer at start).
    pub async fn connect(url: &Url, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(resp3_url(url))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let conn = client.get_connection_manager_with_config(config).await?;
        let instance_id = crate::auth::secret::random_token()[..12].to_owned();
        Ok(Cluster {
            conn,
            instance_id,
            client,
            prefix: prefix.to_owned(),
        })
    }

    /// Answers when Redis does.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        let reply: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
        reply.is_ok()
    }
}
