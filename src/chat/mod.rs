//! Live chat over Socket.IO (SPEC §5): the connection gate, the events,
//! presence and the message writer.

pub mod api;
mod events;
pub mod history;
pub mod presence;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketioxide::SocketIo;
use tokio::sync::mpsc;

use crate::auth::rate_limit::TokenBucket;
use crate::db::Db;
use crate::views::Author;
pub use presence::Presence;
pub use writer::GLOBAL_ROOM;

/// Handle on the live chat, shared by HTTP handlers (to end connections)
/// and socket handlers.
#[derive(Clone)]
pub struct Chat {
    io: SocketIo,
    writer: mpsc::Sender<writer::WriteJob>,
    presence: Arc<Presence>,
    buckets: Arc<Mutex<HashMap<i64, TokenBucket>>>,
    rate: f64,
}

fn user_room(user_id: i64) -> String {
    format!("user:{user_id}")
}

fn session_room(session_id: i64) -> String {
    format!("session:{session_id}")
}

impl Chat {
    /// Starts the writer and the presence broadcaster.
    pub fn start(io: SocketIo, db: Db, rate: f64) -> Self {
        let writer = writer::spawn(db, io.clone());
        let presence = Arc::new(Presence::default());
        spawn_presence_broadcaster(io.clone(), presence.clone());
        Chat {
            io,
            writer,
            presence,
            buckets: Arc::new(Mutex::new(HashMap::new())),
            rate,
        }
    }

    /// Registers the namespace and its handlers.
    pub fn register(&self) {
        events::register(&self.io);
    }

    /// Ends every live connection of the user (account deleted).
    pub async fn disconnect_user(&self, user_id: i64) {
        if let Err(err) = self.io.to(user_room(user_id)).disconnect().await {
            tracing::warn!(error = %err, user_id, "could not disconnect sockets");
        }
    }

    /// Ends the live connections that came with these sessions.
    pub async fn disconnect_sessions(&self, session_ids: &[i64]) {
        for id in session_ids {
            if let Err(err) = self.io.to(session_room(*id)).disconnect().await {
                tracing::warn!(error = %err, session_id = id, "could not disconnect sockets");
            }
        }
    }

    /// New name or picture for an online user.
    pub fn update_author(&self, author: Author) {
        self.presence.update_author(author);
    }

    /// Takes one message token of the user's allowance.
    fn take_message_token(&self, user_id: i64) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let rate = self.rate;
        buckets
            .entry(user_id)
            .or_insert_with(|| TokenBucket::new(rate, (rate * 5.0).max(10.0)))
            .take()
    }
}

/// Sends the batched presence changes, at most a few times a second.
fn spawn_presence_broadcaster(io: SocketIo, presence: Arc<Presence>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Some(diff) = presence.take_diff() {
                if let Err(err) = io.to(GLOBAL_ROOM).emit("presence_diff", &diff).await {
                    tracing::warn!(error = %err, "presence broadcast failed");
                }
            }
        }
    });
}
