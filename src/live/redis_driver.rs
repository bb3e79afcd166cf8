//! The pub/sub driver under the Socket.IO Redis adapter. Unlike the
//! adapter's stock driver, it reconnects after a Redis restart and
//! re-subscribes to every channel, so instances hear each other again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// Room for bursts between Redis and the adapter; a full buffer is logged.
const MIN_BUFFER: usize = 65_536;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// A reconnecting pub/sub driver.
#[derive(Clone)]
pub struct ResilientDriver {
    conn: ConnectionManager,
    handlers: Handlers,
}

/// A driver error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DriverError(#[from] redis::RedisError);

fn deliver(push: PushInfo, handlers: &Handlers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
        (data.next(), data.next())
    else {
        return;
    };
    let Ok(channel) = String::from_utf8(channel) else {
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&channel) {
        if let Err(err) = tx.try_send((channel.clone(), payload)) {
            tracing::error!(%channel, error = %err, "redis message dropped: the adapter is not keeping up");
        }
    }
}

impl ResilientDriver {
    /// Connects with automatic reconnection and re-subscription.
    pub async fn new(client: &redis::Client) -> redis::RedisResult<Self> {
        let handlers: Handlers = Arc::new(RwLock::new(HashMap::new()));
        let sink = handlers.clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(2))
            .set_automatic_resubscription()
            .set_push_sender(move |push: PushInfo| {
                deliver(push, &sink);
                Ok::<(), std::convert::Infallible>(())
            });
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(ResilientDriver { conn, handlers })
    }

    /// Publishes several payloads on one channel, in order, in one
    /// pipelined round trip.
    pub async fn publish_many(
        &self,
        chan: &str,
        payloads: Vec<Vec<u8>>,
    ) -> Result<(), DriverError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for payload in payloads {
            pipe.cmd("PUBLISH").arg(chan).arg(payload).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Checks the connection. The manager notices a lost connection (and
    /// reconnects and re-subscribes) only when a command fails: an
    /// instance that only listens must ask now and then, or it would never
    /// hear again after a Redis restart.
    pub async fn ping(&self) -> Result<(), DriverError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<Value>(&mut conn).await?;
        Ok(())
    }
}

impl Driver for ResilientDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), DriverError> {
        let mut conn = self.conn.clone();
        redis::cmd("PUBLISH")
            .arg(chan)
            .arg(val)
            .query_async::<Value>(&mut conn)
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, DriverError> {
        let (tx, rx) = mpsc::channel(size.max(MIN_BUFFER));
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan.as_str()).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), DriverError> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, DriverError> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }
}
