//! Sockets are authorized at the handshake, and cut at once when their
//! session ends (logout, password change, suspension, deletion). Should
//! that cut be missed — Redis away when it was broadcast, a session that
//! simply expired — this sweep finds it: every few seconds, each instance
//! checks the sessions of its own sockets in one query, disconnects those
//! whose session is gone (telling them `signed_out` `session_expired`
//! first), and keeps the others' sessions fresh (an open socket is use).

use std::collections::HashMap;
use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::SocketIo;

use super::user::ChatUser;
use crate::auth::sign_out::SignOutReason;
use crate::db::{sessions, Db};
use crate::domain::room_id::GLOBAL;
use crate::live::bus::with_io;
use crate::state::AppState;

/// How often the sessions of open sockets are checked.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Starts the sweep.
pub fn spawn_session_sweep(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let cut = with_io!(state.live.bus(), io => sweep(io, &state.db).await);
            match cut {
                Ok(0) => {}
                Ok(cut) => tracing::info!(cut, "sockets of ended sessions disconnected"),
                Err(err) => tracing::warn!(error = %err, "session sweep failed"),
            }
        }
    });
}

/// Checks this instance's sockets once; returns how many were cut.
async fn sweep<A: Adapter>(io: &SocketIo<A>, db: &Db) -> Result<usize, sqlx::Error> {
    let Some(ns) = io.of("/") else {
        return Ok(0);
    };
    let mut by_session: HashMap<i64, Vec<SocketRef<A>>> = HashMap::new();
    for socket in ns.local().to(GLOBAL).sockets() {
        if let Some(user) = socket.extensions.get::<ChatUser>() {
            by_session.entry(user.session_id).or_default().push(socket);
        }
    }
    if by_session.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = by_session.keys().copied().collect();
    let live = sessions::keep_alive(db, &ids).await?;
    let farewell = SignOutReason::SessionExpired.payload();
    let mut cut = 0;
    for (session, sockets) in by_session {
        if live.contains(&session) {
            continue;
        }
        for socket in sockets {
            cut += 1;
            // Queued before the disconnect packet, so it arrives first.
            let _ = socket.emit("signed_out", &farewell);
            let _ = socket.disconnect();
        }
    }
    Ok(cut)
}
