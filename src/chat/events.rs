//! The Socket.IO namespace: who may connect, and what each event does.

use std::fmt;

use serde_json::{json, Value};
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{AckSender, Extension, HttpExtension, SocketRef, TryData};

use super::bus::{ClusterAdapter, RedisIo};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::history::{parse_page, Param};
use super::writer::{WriteJob, GLOBAL_ROOM};
use super::{session_room, user_room};
use crate::auth::rate_limit::TokenBucket;
use crate::auth::{csrf, secret, session};
use crate::db::messages::{self, NewMessage};
use crate::db::{now_ms, sessions};
use crate::domain::MessageText;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{Author, MessageView};

/// The user behind a socket, stored in its extensions at connect.
#[derive(Debug, Clone)]
struct ChatUser {
    id: i64,
    username: String,
    author: Author,
    /// Every event of this socket takes a token: a flood gets error acks.
    events: Arc<Mutex<TokenBucket>>,
}

impl ChatUser {
    fn allow_event(&self) -> Result<(), AppError> {
        let mut bucket = self.events.lock().unwrap_or_else(|e| e.into_inner());
        bucket
            .take()
            .map_err(|retry_after| AppError::RateLimited { retry_after })
    }
}

/// Why a connection was refused; its text is the connect error's `message`.
#[derive(Debug)]
enum Refused {
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

/// Registers the default namespace on a single instance.
pub(super) fn register_local(io: &SocketIo<LocalAdapter>) {
    io.ns(
        "/",
        on_connect::<LocalAdapter>.with(authenticate::<LocalAdapter>),
    );
}

/// Registers the default namespace behind the Redis adapter.
pub(super) async fn register_redis(io: &RedisIo) -> Result<(), String> {
    type A = ClusterAdapter;
    io.ns("/", on_connect::<A>.with(authenticate::<A>))
        .await
        .map_err(|e| e.to_string())
}

/// Admits only handshakes with a live session cookie and, when an Origin is
/// sent, our own origin (no cross-site WebSocket hijacking).
async fn authenticate<A: Adapter>(
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
        .map_err(|err| {
            tracing::warn!(error = %err, "session lookup failed at socket handshake");
            Refused::Unavailable
        })?;
    let (session, user) = found.ok_or(Refused::Unauthenticated)?;
    s.join([
        GLOBAL_ROOM.to_owned(),
        user_room(user.id),
        session_room(session.id),
    ]);
    s.extensions.insert(ChatUser {
        id: user.id,
        username: user.username.clone(),
        author: Author::from(&user),
        events: Arc::new(Mutex::new(state.chat.event_bucket())),
    });
    // Handlers are registered here, before the server confirms the
    // connection: a client that emits right after connecting must not race
    // the (asynchronous) connect handler.
    s.on("message", on_message::<A>);
    s.on("history", on_history::<A>);
    s.on("presence", on_presence::<A>);
    s.on("typing", on_typing::<A>);
    s.on_fallback(on_unknown::<A>);
    Ok(())
}

async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    s.on_disconnect(on_disconnect);
    state.chat.socket_connected(user.author).await;

    if let Err(err) = s.emit(
        "presence",
        &state
            .chat
            .snapshot(user.id, super::CONNECT_LIST_LIMIT)
            .await,
    ) {
        tracing::debug!(error = %err, "could not send the presence list");
    }
}

fn error_ack(err: &AppError) -> Value {
    json!({ "ok": false, "error": err.body() })
}

async fn on_message<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = match user.allow_event() {
        Ok(()) => send_message(&state, &user, data.ok()).await,
        Err(err) => Err(err),
    };
    let reply = match result {
        Ok(message) => json!({ "ok": true, "message": message }),
        Err(err) => error_ack(&err),
    };
    let _ = ack.send(&reply);
}

async fn send_message(
    state: &AppState,
    user: &ChatUser,
    data: Option<Value>,
) -> Result<MessageView, AppError> {
    let raw = data
        .as_ref()
        .and_then(|d| d.get("text"))
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::field("text", "must be a string"))?;
    let text = MessageText::parse(raw).map_err(|reason| AppError::field("text", reason))?;
    state
        .chat
        .take_message_token(user.id)
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    // The presence table holds the freshest name and picture; right after
    // connecting it may not have the user yet.
    let author = state
        .chat
        .presence
        .author(user.id)
        .unwrap_or_else(|| std::sync::Arc::new(user.author.clone()));
    let (reply, outcome) = oneshot::channel();
    let job = WriteJob {
        message: NewMessage {
            room: GLOBAL_ROOM.to_owned(),
            author_id: user.id,
            text: text.into_string(),
            created_at: now_ms(),
        },
        author,
        reply,
    };
    state
        .chat
        .writer
        .send(job)
        .await
        .map_err(|_| AppError::Unavailable("the message writer stopped".into()))?;
    outcome
        .await
        .map_err(|_| AppError::Unavailable("the message writer stopped".into()))?
}

async fn on_history<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    if let Err(err) = user.allow_event() {
        let _ = ack.send(&error_ack(&err));
        return;
    }
    let data = data.unwrap_or(Value::Null);
    let param = |name: &str| match data.get(name) {
        Some(v) => Param::Json(v),
        None => Param::Absent,
    };
    let reply = match parse_page(param("before"), param("after"), param("limit")) {
        Ok(page) => match messages::page(&state.db, GLOBAL_ROOM, page).await {
            Ok(rows) => {
                let messages: Vec<MessageView> = rows.into_iter().map(MessageView::from).collect();
                json!({ "ok": true, "messages": messages })
            }
            Err(err) => error_ack(&AppError::from(err)),
        },
        Err(err) => error_ack(&err),
    };
    let _ = ack.send(&reply);
}

async fn on_presence<A: Adapter>(
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    if let Err(err) = user.allow_event() {
        let _ = ack.send(&error_ack(&err));
        return;
    }
    let snapshot = state.chat.snapshot(user.id, super::ONLINE_LIST_LIMIT).await;
    let _ = ack.send(&json!({ "ok": true, "online": snapshot.online, "count": snapshot.count }));
}

async fn on_typing<A: Adapter>(s: SocketRef<A>, Extension(user): Extension<ChatUser>) {
    if user.allow_event().is_err() {
        return;
    }
    let payload = json!({ "user": { "id": user.id, "username": user.username } });
    if let Err(err) = s.to(GLOBAL_ROOM).emit("typing", &payload).await {
        tracing::debug!(error = %err, "typing broadcast failed");
    }
}

async fn on_unknown<A: Adapter>(ack: AckSender<A>, Extension(user): Extension<ChatUser>) {
    if let Err(err) = user.allow_event() {
        let _ = ack.send(&error_ack(&err));
        return;
    }
    let _ = ack.send(&json!({
        "ok": false,
        "error": { "code": "unknown_event", "message": "this event is not supported" }
    }));
}

async fn on_disconnect(
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    state.chat.socket_disconnected(user.id).await;
}
