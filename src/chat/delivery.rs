//! Chat messages reach this instance's sockets one socket at a time, so a
//! socket that cannot take one more is known by name. Such a client has
//! fallen too far behind: it is sent nothing more and disconnected, and
//! its client resumes from history. No socket ever silently misses a
//! message while staying connected (a room-wide broadcast would drop it).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError, SocketIo, TransportType};

use crate::severable::Severance;

/// Packets a socket may have waiting before its client counts as too
/// slow (a few seconds of a busy room).
pub const SOCKET_BUFFER: usize = 1024;
/// How often a lagging socket is asked again to take its disconnect.
const RETRY_EVERY: Duration = Duration::from_millis(50);
/// Past this, the transport's own heartbeat has ended a stuck client.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// What one delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    /// Sockets found too slow by this delivery (now being disconnected).
    pub lagging: usize,
}

/// Sockets found too slow, until their disconnect goes through.
#[derive(Clone, Default)]
pub struct Lagging {
    sids: Arc<Mutex<HashSet<Sid>>>,
}

impl Lagging {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Sid>> {
        self.sids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a serialised event to every socket of this instance in `room`.
    pub fn deliver<A: Adapter>(
        &self,
        io: &SocketIo<A>,
        room: &str,
        event: &str,
        payload: &RawValue,
    ) -> Delivered {
        // `io.to` panics once the namespace is gone (at shutdown).
        let Some(ns) = io.of("/") else {
            return Delivered::default();
        };
        let sockets = ns.to(room.to_owned()).sockets();
        let skip = self.lock().clone();
        let mut outcome = Delivered::default();
        for socket in sockets {
            if skip.contains(&socket.id) {
                continue;
            }
            match socket.emit(event, payload) {
                Ok(()) => outcome.sent += 1,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    outcome.lagging += 1;
                    self.disconnect(socket);
                }
                // Closed meanwhile: its disconnect handler runs anyway.
                Err(_) => {}
            }
        }
        outcome
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
        let outcome = Lagging::default().deliver(&io, "global", "message", &payload);
        assert_eq!(outcome, Delivered::default());
    }
}
