//! How a stored message reaches every socket. Alone, an instance hands it
//! to its own sockets. With Redis, every instance (the sender's included)
//! hands on what arrives on one pub/sub channel, so all instances deliver
//! in the one order Redis published, which is id order (the writer
//! publishes under the database's publication lock).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketioxide_redis::drivers::Driver;

use super::bus::with_io;
use super::delivery::Lagging;
use super::redis_driver::ResilientDriver;
use super::Bus;
use crate::cluster::Cluster;
use crate::db::{attachments, messages, now_ms, Db};
use crate::domain::room_id::GLOBAL;
use crate::views::MessageView;

/// The most messages one gap fill hands on (a longer outage: clients
/// reconnect and resume from history anyway).
const GAP_FILL_LIMIT: i64 = 1000;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The event a new message travels as.
const NEW_MESSAGE: &str = "message";
/// The event a changed message (edit, delete, reactions) travels as.
pub const MESSAGE_UPDATED: &str = "message_updated";

/// Hands stored messages to sockets, here or on every instance.
#[derive(Clone)]
pub struct Relay {
    bus: Bus,
    lagging: Lagging,
    redis: Option<Channel>,
}

#[derive(Clone)]
struct Channel {
    driver: ResilientDriver,
    name: String,
    /// New messages this instance delivered itself because publishing
    /// failed: the gap they leave on the channel is not filled here again.
    delivered_here: Arc<Mutex<BTreeSet<i64>>>,
    db: Db,
}

/// What travels on the channel.
#[derive(Serialize)]
struct Outgoing<'a> {
    room: &'a str,
    event: &'a str,
    id: i64,
    /// When the message was written and when it was published (unix ms):
    /// for the lag metrics of the instances that receive it.
    created_ms: i64,
    published_ms: i64,
    message: &'a MessageView,
}

/// What arrives: the message is handed on as it came, not re-encoded.
#[derive(Deserialize)]
struct Incoming<'a> {
    room: String,
    event: String,
    #[serde(default)]
    id: i64,
    #[serde(default)]
    created_ms: i64,
    #[serde(default)]
    published_ms: i64,
    #[serde(borrow)]
    message: &'a RawValue,
}

/// How long ago a unix-ms time was (none for a missing or future time).
fn since(ms: i64) -> Option<Duration> {
    let elapsed = now_ms().checked_sub(ms).filter(|_| ms > 0)?;
    u64::try_from(elapsed).ok().map(Duration::from_millis)
}

impl Relay {
    /// With a cluster, subscribes to the message channel and starts
    /// handing on what arrives.
    pub async fn start(bus: Bus, db: Db, cluster: Option<&Cluster>) -> Result<Relay, String> {
        let redis = match cluster {
            None => None,
            Some(cluster) => {
                let driver = ResilientDriver::new(&cluster.client)
                    .await
                    .map_err(|e| e.to_string())?;
                Some(Channel {
                    driver,
                    name: format!("{}chatroom:messages", cluster.prefix),
                    delivered_here: Arc::default(),
                    db,
                })
            }
        };
        let relay = Relay {
            bus,
            lagging: Lagging::default(),
            redis,
        };
        let sweeper = relay.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                sweeper.sweep_stalled();
                if let Some(channel) = &sweeper.redis {
                    if let Err(err) = channel.driver.ping().await {
                        tracing::debug!(error = %err, "relay channel unavailable");
                    }
                }
            }
        });
        if let Some(channel) = &relay.redis {
            let mut stream = channel
                .driver
                .subscribe(channel.name.clone(), 0)
                .await
                .map_err(|e| e.to_string())?;
            let relay = relay.clone();
            let channel = channel.clone();
            tokio::spawn(async move {
                // The newest message id handed on so far.
                let mut last = 0;
                while let Some((_, payload)) = stream.next().await {
                    match serde_json::from_slice::<Incoming>(&payload) {
                        Ok(envelope) => {
                            if let Some(lag) = since(envelope.published_ms) {
                                crate::monitoring::relayed(lag);
                            }
                            if envelope.event == MESSAGE_UPDATED {
                                relay
                                    .deliver_here(&envelope.room, MESSAGE_UPDATED, envelope.message)
                                    .await;
                                continue;
                            }
                            if last > 0 && envelope.id > last + 1 {
                                relay.fill_gap(&channel, last, envelope.id).await;
                            }
                            last = last.max(envelope.id);
                            relay
                                .deliver_here(&envelope.room, NEW_MESSAGE, envelope.message)
                                .await;
                            crate::monitoring::message_delivered(since(envelope.created_ms));
                        }
                        Err(err) => tracing::error!(error = %err, "unreadable relayed message"),
                    }
                }
            });
        }
        Ok(relay)
    }

    /// Sends stored messages (each with the unix ms it was written at) to
    /// everyone in their rooms, on every instance, in the order given. With
    /// Redis the whole batch goes out in one pipelined round trip, so the
    /// writer waits for Redis once per batch, not once per message, and
    /// every instance receives the batch back to back and broadcasts it in
    /// one burst (each socket then writes several frames per `send`).
    pub async fn publish_all(&self, batch: &[(MessageView, i64)]) {
        let Some(channel) = &self.redis else {
            for (view, created_ms) in batch {
                self.deliver_view_here(NEW_MESSAGE, view).await;
                crate::monitoring::message_delivered(since(*created_ms));
            }
            return;
        };
        let published_ms = now_ms();
        let mut frames = Vec::with_capacity(batch.len());
        for (view, created_ms) in batch {
            let outgoing = Outgoing {
                room: &view.room,
                event: NEW_MESSAGE,
                id: view.id,
                created_ms: *created_ms,
                published_ms,
                message: view,
            };
            match serde_json::to_vec(&outgoing) {
                Ok(bytes) => frames.push(bytes),
                Err(err) => tracing::error!(error = %err, "message not serialisable"),
            }
        }
        if let Err(err) = channel.driver.publish_many(&channel.name, frames).await {
            // Redis is away: this instance's own clients still get them
            // live; the others' clients find them in history when they
            // reconnect.
            tracing::warn!(error = %err, count = batch.len(), "relay unavailable: delivering here only");
            lock(&channel.delivered_here).extend(batch.iter().map(|(view, _)| view.id));
            for (view, _) in batch {
                self.deliver_view_here(NEW_MESSAGE, view).await;
            }
        }
    }

    /// Sends a changed message to everyone in its room, on every instance,
    /// in the same order as new messages.
    pub async fn publish_update(&self, view: &MessageView) {
        let Some(channel) = &self.redis else {
            return self.deliver_view_here(MESSAGE_UPDATED, view).await;
        };
        let outgoing = Outgoing {
            room: &view.room,
            event: MESSAGE_UPDATED,
            id: view.id,
            created_ms: 0,
            published_ms: now_ms(),
            message: view,
        };
        let bytes = match serde_json::to_vec(&outgoing) {
            Ok(bytes) => bytes,
            Err(err) => return tracing::error!(error = %err, "message not serialisable"),
        };
        if let Err(err) = channel.driver.publish(channel.name.clone(), bytes).await {
            tracing::warn!(error = %err, message_id = view.id, "relay unavailable: delivering here only");
            self.deliver_view_here(MESSAGE_UPDATED, view).await;
        }
    }

    async fn deliver_view_here(&self, event: &str, view: &MessageView) {
        match serde_json::value::to_raw_value(view) {
            Ok(payload) => self.deliver_here(&view.room, event, &payload).await,
            Err(err) => tracing::error!(error = %err, "message not serialisable"),
        }
    }

    /// Hands on, from the database, the messages whose ids lie between two
    /// relayed ones: their publishing failed (Redis was away) or this
    /// instance was not subscribed yet. Every instance publishes under the
    /// publication lock, in id order, so nothing below `before` is still
    /// on its way; ids that were never committed are simply absent.
    async fn fill_gap(&self, channel: &Channel, after: i64, before: i64) {
        let rows = match messages::between(&channel.db, after, before, GAP_FILL_LIMIT).await {
            Ok(rows) => rows,
            Err(err) => {
                return tracing::warn!(error = %err, after, before, "could not fill a relay gap")
            }
        };
        // Taken out once: what this instance showed itself inside the gap
        // (and, as it is settled, anything older).
        let shown_here = {
            let mut delivered = lock(&channel.delivered_here);
            let newer = delivered.split_off(&before);
            std::mem::replace(&mut *delivered, newer)
        };
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let files = match attachments::of_messages(&channel.db, &ids).await {
            Ok(files) => files,
            Err(err) => {
                tracing::warn!(error = %err, "attachments of a relay gap not read");
                Vec::new()
            }
        };
        let mut filled = 0;
        for row in rows {
            if shown_here.contains(&row.id) {
                continue;
            }
            let view = MessageView::from(row).with_attachments(&files);
            if let Ok(payload) = serde_json::value::to_raw_value(&view) {
                self.deliver_here(&view.room, NEW_MESSAGE, &payload).await;
                filled += 1;
            }
        }
        if filled > 0 {
            tracing::info!(filled, after, before, "relay gap filled from the database");
            crate::monitoring::gap_filled(filled);
        }
    }

    /// Whether messages go through Redis (several instances).
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    async fn deliver_here(&self, room: &str, event: &str, payload: &RawValue) {
        with_io!(&self.bus, io => self.lagging.deliver(io, room, event, payload).await);
    }

    /// Cuts this instance's WebSockets whose clients stopped reading.
    fn sweep_stalled(&self) {
        with_io!(&self.bus, io => self.lagging.sweep_stalled(io, GLOBAL));
    }
}
