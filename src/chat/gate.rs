//! Who may connect: the handshake is checked against the session cookie
//! and the Origin, the socket joins its rooms, and every event handler is
//! registered before the connection is confirmed.

use std::fmt;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, HttpExtension, SocketRef};

use super::events;
use super::user::ChatUser;
use crate::auth::{csrf, secret, session};
use crate::db::sessions;
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
    // Two reads and no write per connection (a reconnect storm is
    // thousands of these a second): the session, its account and its
    // conversations; then, after joining, the same again by session id.
    let found = sessions::find_for_socket(&state.db, &secret::hash_token(token))
        .await
        .map_err(unavailable("session lookup"))?;
    let (session, user, conversations) = found.ok_or(Refused::Unauthenticated)?;
    let mut rooms = vec![
        GLOBAL.to_owned(),
        user_room(user.id),
        session_room(session.id),
    ];
    rooms.extend(conversations.iter().cloned());
    s.join(rooms);
    // Read again now that the socket is in its user's and its session's
    // rooms: a logout, suspension, join or leave committed before this read
    // is in it; one committed after it is broadcast to a room the socket is
    // already in. Rooms joined only now (a membership added between the two
    // reads) are read once more, as a leave may have been broadcast before
    // they were joined.
    let mut joined = conversations;
    for _ in 0..3 {
        let now = sessions::rooms_if_live(&state.db, session.id)
            .await
            .map_err(unavailable("session re-check"))?
            .ok_or(Refused::Unauthenticated)?;
        let gone: Vec<String> = joined
            .iter()
            .filter(|room| !now.contains(room))
            .cloned()
            .collect();
        if !gone.is_empty() {
            s.leave(gone);
        }
        let added: Vec<String> = now
            .iter()
            .filter(|room| !joined.contains(room))
            .cloned()
            .collect();
        joined = now;
        if added.is_empty() {
            break;
        }
        s.join(added);
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
