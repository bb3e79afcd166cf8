//! Chat messages reach this instance's sockets in one broadcast (encoded
//! once), and no socket ever silently misses one while staying connected:
//!
//! - every socket may have [`SOCKET_BUFFER`] packets waiting, far more than
//!   a client can fall behind before it is disconnected: a WebSocket that
//!   has not taken a byte for [`STALL_LIMIT`] is cut ([`sweep_stalled`]),
//!   and the transport's heartbeat ends any session over ~40 s behind;
//! - should a broadcast still find a full buffer (it reports how many, not
//!   which), every socket it went to is disconnected: each client
//!   reconnects and resumes from history, none keeps a gap.
//!
//! A disconnected client resumes with `history` `after` its last id.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{BroadcastError, SocketError, SocketIo, TransportType};

use crate::severable::Severance;

/// Packets a socket may have waiting (allocated only as used; a queued
/// broadcast shares its bytes with every other socket's copy).
pub const SOCKET_BUFFER: u32 = 65_536;
/// A WebSocket whose writes have been blocked this long is cut.
pub const STALL_LIMIT: Duration = Duration::from_secs(5);
/// How often a lagging socket is asked again to take its disconnect.
const RETRY_EVERY: Duration = Duration::from_millis(50);
/// Past this, the transport's own heartbeat has ended a stuck client.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Sockets being disconnected for falling behind.
#[derive(Clone, Default)]
pub struct Lagging {
    sids: Arc<Mutex<HashSet<Sid>>>,
}

impl Lagging {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Sid>> {
        self.sids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Broadcasts a serialised event to this instance's sockets in `room`;
    /// returns how many buffers were full (everyone it went to is then
    /// being disconnected).
    pub async fn deliver<A: Adapter>(
        &self,
        io: &SocketIo<A>,
        room: &str,
        event: &str,
        payload: &RawValue,
    ) -> usize {
        // `io.to` panics once the namespace is gone (at shutdown).
        let Some(ns) = io.of("/") else {
            return 0;
        };
        let result = ns
            .clone()
            .local()
            .to(room.to_owned())
            .emit(event, payload)
            .await;
        let full = match &result {
            Err(BroadcastError::Socket(errors)) => errors
                .iter()
                .filter(|e| matches!(e, SocketError::InternalChannelFull))
                .count(),
            Err(err) => {
                tracing::warn!(error = %err, "broadcast failed");
                0
            }
            Ok(()) => 0,
        };
        if full > 0 {
            tracing::error!(
                full,
                room,
                "a socket buffer was full: disconnecting the room's sockets here so none keeps a gap"
            );
            for socket in ns.local().to(room.to_owned()).sockets() {
                self.disconnect(socket);
            }
        }
        full
    }

    /// Cuts every WebSocket in `room` whose writes have been blocked for
    /// longer than [`STALL_LIMIT`] (its client stopped reading).
    pub fn sweep_stalled<A: Adapter>(&self, io: &SocketIo<A>, room: &str) {
        let Some(ns) = io.of("/") else {
            return;
        };
        for socket in ns.local().to(room.to_owned()).sockets() {
            // Runs every second over every socket: the atomic load first,
            // the transport checks only for a connection that is blocked.
            let blocked = socket
                .req_parts()
                .extensions
                .get::<Severance>()
                .and_then(Severance::blocked_for)
                .is_some_and(|blocked| blocked > STALL_LIMIT);
            if blocked && own_connection(&socket).is_some() {
                self.disconnect(socket);
            }
        }
    }

    /// Ends a socket that missed a message. A WebSocket opened as one has
    /// its connection cut at once; otherwise (its buffer is full) the
    /// disconnect packet is retried until it fits or the transport's
    /// heartbeat ends the session. Either way it is sent nothing more.
    fn disconnect<A: Adapter>(&self, socket: SocketRef<A>) {
        if !self.lock().insert(socket.id) {
            return;
        }
        tracing::warn!(sid = %socket.id, "client too slow: disconnecting it; it resumes from history");
        if let Some(severance) = own_connection(&socket) {
            severance.sever();
        }
        let lagging = self.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            while socket.connected() && started.elapsed() < GIVE_UP_AFTER {
                match socket.clone().disconnect() {
                    Err(SocketError::InternalChannelFull) => {
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                    _ => break,
                }
            }
            lagging.lock().remove(&socket.id);
        });
    }
}

/// The connection carrying this socket, when it is the one its handshake
/// came on (a WebSocket from the start; a session upgraded from polling
/// was opened by another request).
fn own_connection<A: Adapter>(socket: &SocketRef<A>) -> Option<Severance> {
    let parts = socket.req_parts();
    let direct = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "transport=websocket"));
    if socket.transport_type() != TransportType::Websocket || !direct {
        return None;
    }
    parts.extensions.get::<Severance>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivering_after_shutdown_reaches_nobody_and_does_not_panic() {
        let (_layer, io) = SocketIo::builder().build_layer();
        io.ns("/", async |_: SocketRef| {});
        io.close().await;
        let payload = serde_json::value::to_raw_value(&1).unwrap();
        let full = Lagging::default()
            .deliver(&io, "global", "message", &payload)
            .await;
        assert_eq!(full, 0);
    }
}
