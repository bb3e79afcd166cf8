//! What reaches live sockets, on this instance or every instance: message
//! delivery in id order (the relay), presence, and the socket rooms users
//! are in. Services call this to make their changes seen at once; it knows
//! nothing of who may do what (that is the services' business) nor of
//! Socket.IO events' payloads (that is `chat`'s).

pub mod bus;
pub mod delivery;
mod global_presence;
pub mod presence;
pub mod redis_driver;
pub mod relay;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::sign_out::SignOutReason;
use crate::cluster::Cluster;
use crate::db::Db;
use crate::domain::room_id::GLOBAL;
use crate::domain::RoomId;
use crate::views::{Author, MessageView};
pub use bus::Bus;
use global_presence::GlobalPresence;
pub use presence::{Presence, PresenceDiff, Snapshot};
pub use relay::Relay;

/// Handle on every live socket, shared by the services and the Socket.IO
/// transport.
#[derive(Clone)]
pub struct Live {
    bus: Bus,
    relay: Relay,
    presence: Arc<Presence>,
    global: Option<GlobalPresence>,
    /// With Redis: this instance's presence changes reach Redis in the
    /// order they happened here (a quick leave cannot overtake its join).
    presence_order: Arc<tokio::sync::Mutex<()>>,
}

/// The most people listed in a `presence` ack; `count` is always exact.
/// Every socket keeps a write buffer as large as the largest frame it was
/// ever sent, so unbounded lists would make memory grow with the square of
/// the number of users online.
pub const ONLINE_LIST_LIMIT: usize = 200;
/// The most people listed in the `presence` event sent on connect. Most
/// rooms fit; in a bigger one the page asks (`presence`) for up to
/// [`ONLINE_LIST_LIMIT`]. A socket that never asks (a bot, an idle tab in a
/// huge room) keeps a write buffer of ~2 KiB instead of ~15 KiB.
pub const CONNECT_LIST_LIMIT: usize = 25;
/// The most changes carried by one `presence_diff` (for the same reason).
pub const DIFF_CHUNK: usize = 50;
/// Whether a diff names the people who came online. Past
/// [`ONLINE_LIST_LIMIT`] people online, every list is a sample already: a
/// diff then carries only the exact `count` (and still names those who
/// left, so nobody is shown online after leaving). Naming every arrival
/// would send each of N sockets all N names while a crowd connects.
pub fn names_arrivals(count: usize) -> bool {
    count <= ONLINE_LIST_LIMIT
}
/// Pause between the parts of one large presence change.
const DIFF_PACING: Duration = Duration::from_millis(15);

/// The socket room of every socket of one user.
pub fn user_room(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// The socket room of the sockets watching the room directory
/// (`room_updated` for every public room). Its colon keeps it apart from
/// every public room's id.
pub const DIRECTORY_WATCHERS: &str = "directory:watchers";

/// The socket room of the sockets opened with one session.
pub fn session_room(session_id: i64) -> String {
    format!("session:{session_id}")
}

impl Live {
    /// Starts the message relay and the presence broadcaster.
    pub async fn start(bus: Bus, db: Db, cluster: Option<&Cluster>) -> Result<Self, String> {
        let relay = Relay::start(bus.clone(), db, cluster).await?;
        let live = Live {
            bus,
            relay,
            presence: Arc::new(Presence::default()),
            global: cluster.map(GlobalPresence::new),
            presence_order: Arc::default(),
        };
        spawn_presence_broadcaster(live.clone());
        Ok(live)
    }

    /// The Socket.IO server behind this handle.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// The relay new messages are published on (the writer's).
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Closes this instance's sockets.
    pub async fn close(&self) {
        self.bus.close().await;
    }

    /// Ends every live connection of the user (account deleted or
    /// suspended), everywhere: each socket is told why (`signed_out`) just
    /// before it is cut.
    pub async fn sign_out_user(&self, user_id: i64, reason: SignOutReason) {
        self.say_and_disconnect(user_room(user_id), reason).await;
    }

    /// Ends the live connections that came with these sessions, everywhere,
    /// each told why (`signed_out`) just before it is cut.
    pub async fn sign_out_sessions(&self, session_ids: &[i64], reason: SignOutReason) {
        for id in session_ids {
            self.say_and_disconnect(session_room(*id), reason).await;
        }
    }

    /// `signed_out` then the disconnect, to every socket of a socket room.
    /// Both travel the same way (this instance's sockets' queues, and one
    /// Redis channel read in order by the others), so the event always
    /// arrives first.
    async fn say_and_disconnect(&self, room: String, reason: SignOutReason) {
        if let Err(err) = self
            .bus
            .emit_to(&room, "signed_out", &reason.payload())
            .await
        {
            tracing::debug!(error = %err, %room, "could not say why sockets are cut");
        }
        if let Err(err) = self.bus.disconnect_room(room.clone()).await {
            tracing::warn!(error = %err, %room, "could not disconnect sockets");
        }
    }

    /// Makes every socket of the user, everywhere, receive a room's events.
    pub async fn add_user_to_room(&self, user_id: i64, room: &RoomId) {
        if let Err(err) = self
            .bus
            .join_room(user_room(user_id), room.to_string())
            .await
        {
            tracing::warn!(error = %err, user_id, %room, "could not add sockets to a room");
        }
    }

    /// Stops every socket of the user, everywhere, receiving a room's events.
    pub async fn remove_user_from_room(&self, user_id: i64, room: &RoomId) {
        if let Err(err) = self
            .bus
            .leave_room(user_room(user_id), room.to_string())
            .await
        {
            tracing::warn!(error = %err, user_id, %room, "could not remove sockets from a room");
        }
    }

    /// Sends an event to every socket in socket room `to` but those also in
    /// `except`, everywhere.
    pub async fn emit_except<T: serde::Serialize + ?Sized>(
        &self,
        to: &str,
        except: &str,
        event: &str,
        data: &T,
    ) {
        if let Err(err) = self.bus.emit_to_except(to, except, event, data).await {
            tracing::debug!(error = %err, to, event, "could not broadcast");
        }
    }

    /// Sends an event to every socket in a socket room, everywhere.
    pub async fn emit_to_room<T: serde::Serialize + ?Sized>(
        &self,
        room: &str,
        event: &str,
        data: &T,
    ) {
        if let Err(err) = self.bus.emit_to(room, event, data).await {
            tracing::debug!(error = %err, room, event, "could not broadcast");
        }
    }

    /// Sends an event to every socket of the user, everywhere.
    pub async fn emit_to_user<T: serde::Serialize + ?Sized>(
        &self,
        user_id: i64,
        event: &str,
        data: &T,
    ) {
        if let Err(err) = self.bus.emit_to(&user_room(user_id), event, data).await {
            tracing::debug!(error = %err, user_id, event, "could not notify the user's sockets");
        }
    }

    /// Sends a changed message to its room, everywhere.
    pub async fn publish_update(&self, view: &MessageView) {
        self.relay.publish_update(view).await;
    }

    /// New name or picture for a user: the online list keeps it, and every
    /// socket, everywhere, gets `user_updated` `{"user"}` so pictures
    /// already on screen change at once.
    pub async fn update_author(&self, author: Author) {
        let event = serde_json::json!({ "user": &author });
        self.presence.update_author(author);
        if let Err(err) = self.bus.emit_to(GLOBAL, "user_updated", &event).await {
            tracing::debug!(error = %err, "could not announce a changed picture");
        }
    }

    /// Counts a socket. A user's first socket anywhere is announced (with
    /// Redis: once Redis holds it, by the one instance that made it first).
    pub async fn socket_connected(&self, author: Author) {
        let Some(global) = &self.global else {
            if self.presence.connect(author.clone()) {
                self.presence.announce_joined(author);
            }
            return;
        };
        let _order = self.presence_order.lock().await;
        if !self.presence.connect(author.clone()) {
            return;
        }
        match global.add(&author).await {
            Ok(false) => {}
            Ok(true) => self.presence.announce_joined(author),
            Err(err) => {
                // Said rather than missed; the heartbeat puts Redis right.
                tracing::warn!(error = %err, "redis presence update failed");
                self.presence.announce_joined(author);
            }
        }
    }

    /// Uncounts a socket. A user's last socket anywhere is announced.
    pub async fn socket_disconnected(&self, user_id: i64) {
        let Some(global) = &self.global else {
            if let Some(username) = self.presence.disconnect(user_id) {
                self.presence.announce_left(presence::Departed {
                    id: user_id,
                    username,
                });
            }
            return;
        };
        let _order = self.presence_order.lock().await;
        let Some(username) = self.presence.disconnect(user_id) else {
            return;
        };
        let departed = presence::Departed {
            id: user_id,
            username,
        };
        match global.remove(user_id).await {
            Ok(false) => {}
            Ok(true) => self.presence.announce_left(departed),
            Err(err) => {
                tracing::warn!(error = %err, "redis presence update failed");
                self.presence.announce_left(departed);
            }
        }
    }

    /// Who is online (on every instance), as sent to user `me`: at most
    /// `limit` people (`me` always among them), `count` exact.
    pub async fn snapshot(&self, me: i64, limit: usize) -> Snapshot {
        let limit = limit.max(1);
        let mut snapshot = match &self.global {
            None => self.presence.snapshot_limited(limit),
            Some(_) => self.full_snapshot().await,
        };
        snapshot.online.truncate(limit);
        if !snapshot.online.iter().any(|a| a.id == me) {
            if let Some(author) = self.presence.author(me) {
                if snapshot.online.len() == limit {
                    snapshot.online[limit - 1] = (*author).clone();
                } else {
                    snapshot.online.push((*author).clone());
                }
            }
        }
        snapshot
    }

    /// Which of these users are online (on every instance).
    pub async fn online_among(&self, ids: &[i64]) -> Vec<Author> {
        let mut online: Vec<Author> = match &self.global {
            None => ids
                .iter()
                .filter_map(|id| self.presence.author(*id))
                .map(|a| (*a).clone())
                .collect(),
            Some(_) => self
                .full_snapshot()
                .await
                .online
                .into_iter()
                .filter(|a| ids.contains(&a.id))
                .collect(),
        };
        online.sort_by_cached_key(|a| a.username.to_lowercase());
        online
    }

    async fn full_snapshot(&self) -> Snapshot {
        let local = self.presence.snapshot();
        let Some(global) = &self.global else {
            return local;
        };
        match global.online().await {
            Ok(mut everyone) => {
                for author in local.online {
                    everyone.entry(author.id).or_insert(author);
                }
                let mut online: Vec<Author> = everyone.into_values().collect();
                online.sort_by_cached_key(|a| a.username.to_lowercase());
                Snapshot {
                    count: online.len(),
                    online,
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "redis presence unavailable; showing this instance only");
                local
            }
        }
    }

    /// The freshest name and picture of an online user (no database read
    /// per message).
    pub fn author(&self, user_id: i64) -> Option<Arc<Author>> {
        self.presence.author(user_id)
    }

    /// The pending presence change, as the whole cluster sees it.
    async fn next_diff(&self, heartbeat: bool) -> Option<PresenceDiff> {
        let Some(global) = &self.global else {
            return self.presence.take_diff();
        };
        if heartbeat {
            let _order = self.presence_order.lock().await;
            match global.heartbeat(&self.presence.snapshot().online).await {
                Ok(changes) => {
                    for author in changes.joined {
                        self.presence.announce_joined(author);
                    }
                    for departed in changes.left {
                        self.presence.announce_left(departed);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "redis presence heartbeat failed"),
            }
        }
        let mut diff = self.presence.take_diff()?;
        match global.count().await {
            Ok(count) => diff.count = count,
            Err(err) => tracing::warn!(error = %err, "redis presence unavailable"),
        }
        Some(diff)
    }
}

/// Sends batched presence changes a few times a second; with Redis, also
/// keeps this instance alive in the shared table and reaps dead instances.
fn spawn_presence_broadcaster(chat: Live) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            let heartbeat = chat.global.is_some() && ticks % 20 == 1;
            if let Some(mut diff) = chat.next_diff(heartbeat).await {
                if !names_arrivals(diff.count) {
                    diff.joined.clear();
                }
                for (i, part) in diff.into_chunks(DIFF_CHUNK).into_iter().enumerate() {
                    if i > 0 {
                        // Let sockets flush between parts: a socket's write
                        // buffer grows to whatever is queued at once.
                        tokio::time::sleep(DIFF_PACING).await;
                    }
                    if let Err(err) = chat.bus.emit_to(GLOBAL, "presence_diff", &part).await {
                        tracing::warn!(error = %err, "presence broadcast failed");
                    }
                }
            }
        }
    });
}
