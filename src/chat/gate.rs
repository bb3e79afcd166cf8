//! Who may connect: the handshake is checked against the session cookie
//! and the Origin, the socket joins its rooms, and every event handler is
//! registered before the connection is confirmed.

use std::fmt;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, HttpExtension, SocketRef};

use super::events;
use super::user::ChatUser;
use crate::auth::{csrf, secret, session};
use crate::db::{rooms, sessions};
use crate::domain::room_id::GLOBAL;
use crate::live::{session_room, user_room, CONNECT_LIST_LIMIT};
use crate::state::AppState;
use crate::views::Author;

/// Why a connection was refused; its text is the connect error's `message`.
#[derive(Debug)]
pub enum Refused {
    /// No live session, or a foreign Origin.
    Unauthenticated,
    /// The session could not be checked (database busy or down): retry.
    Unavailable,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Unauthenticated => "unauthenticated",
            Refused::Unavailable => "unavailable",
        })
    }
}

fn unavailable(what: &'static str) -> impl Fn(sqlx::Error) -> Refused {
    move |err| {
        tracing::warn!(error = %err, "{what} failed at socket handshake");
        Refused::Unavailable
    }
}

/// Admits only handshakes with a live session cookie and, when an Origin is
/// sent, our own origin (no cross-site WebSocket hijacking).
pub async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    HttpExtension(state): HttpExtension<AppState>,
) -> Result<(), Refused> {
    let headers = &s.req_parts().headers;
    if headers.contains_key(axum::http::header::ORIGIN)
        && !csrf::same_origin(headers, &state.config.public_origin())
    {
        return Err(Refused::Unauthenticated);
    }
    let token =
        session::cookie_value(headers, session::COOKIE_NAME).ok_or(Refused::Unauthenticated)?;
    let found = sessions::find_active(&state.db, &secret::hash_token(token))
        .await
        .map_err(unavailable("session lookup"))?;
    let (session, user) = found.ok_or(Refused::Unauthenticated)?;
    s.join([
        GLOBAL.to_owned(),
        user_room(user.id),
        session_room(session.id),
    ]);
    // Joined after the user's own room: a membership added meanwhile is
    // either read here or reaches this socket through that room.
    let conversations = rooms::ids_of_user(&state.db, user.id)
        .await
        .map_err(unavailable("room lookup"))?;
    if !conversations.is_empty() {
        s.join(conversations.clone());
    }
    // A logout, suspension or leave committed while this handshake ran may
    // have been broadcast before the socket joined its rooms: read again.
    if !sessions::is_live(&state.db, session.id)
        .await
        .map_err(unavailable("session re-check"))?
    {
        return Err(Refused::Unauthenticated);
    }
    if !conversations.is_empty() {
        if let Ok(now) = rooms::ids_of_user(&state.db, user.id).await {
            let gone: Vec<String> = conversations
                .into_iter()
                .filter(|room| !now.contains(room))
                .collect();
            if !gone.is_empty() {
                s.leave(gone);
            }
        }
    }
    s.extensions.insert(ChatUser::new(
        user.id,
        user.username.clone(),
        session.id,
        Author::from(&user),
        state.config.chat_rate,
    ));
    // Handlers are registered here, before the server confirms the
    // connection: a client that emits right after connecting must not race
    // the (asynchronous) connect handler.
    events::register(&s);
    Ok(())
}

/// A confirmed connection: counted in presence, sent who is online.
pub async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    s.on_disconnect(on_disconnect);
    crate::monitoring::socket_opened(true);
    state.live.socket_connected(user.author).await;
    let snapshot = state.live.snapshot(user.id, CONNECT_LIST_LIMIT).await;
    if let Err(err) = s.emit("presence", &snapshot) {
        tracing::debug!(error = %err, "could not send the presence list");
    }
}

async fn on_disconnect(
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    crate::monitoring::socket_opened(false);
    state.live.socket_disconnected(user.id).await;
}
