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
use super::{changes, mentions};
use super::{session_room, user_room};
use crate::auth::rate_limit::TokenBucket;
use crate::auth::{csrf, secret, session};
use crate::db::messages::{self, NewMessage};
use crate::db::rooms;
use crate::db::{now_ms, sessions};
use crate::domain::MessageText;
use crate::error::AppError;
use crate::rooms::check_access;
use crate::rooms::service as room_service;
use crate::state::AppState;
use crate::views::{Author, MessageView};

/// The user behind a socket, stored in its extensions at connect.
#[derive(Debug, Clone)]
struct ChatUser {
    id: i64,
    username: String,
    is_admin: bool,
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
    // Joined after the user's own room: a membership added meanwhile is
    // either read here or reaches this socket through that room.
    let conversations = rooms::ids_of_user(&state.db, user.id)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "room lookup failed at socket handshake");
            Refused::Unavailable
        })?;
    if !conversations.is_empty() {
        s.join(conversations.clone());
        // A leave committed while the list was read may have been
        // broadcast before this socket joined: read again, leave what went.
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
    s.extensions.insert(ChatUser {
        id: user.id,
        username: user.username.clone(),
        is_admin: user.is_admin,
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
    s.on("edit", on_edit::<A>);
    s.on("delete", on_delete::<A>);
    s.on("react", on_react::<A>);
    s.on("unreact", on_unreact::<A>);
    s.on("read", on_read::<A>);
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
    let room = room_param(data.as_ref())?;
    if room != GLOBAL_ROOM {
        check_access(&state.db, user.id, &room).await?;
    }
    state
        .chat
        .take_message_token(user.id)
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let mentioned = if text.as_str().contains('@') {
        mentions::resolve(state, user.id, &room, text.as_str()).await?
    } else {
        Vec::new()
    };
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
            room,
            author_id: user.id,
            text: text.into_string(),
            created_at: now_ms(),
            mentions: mentioned.clone(),
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
    let message = outcome
        .await
        .map_err(|_| AppError::Unavailable("the message writer stopped".into()))??;
    for user_id in mentioned {
        state
            .chat
            .emit_to_user(user_id, "mention", &json!({ "message": &message }))
            .await;
    }
    Ok(message)
}

/// The conversation an event is about: `room`, or the global room when absent.
fn room_param(data: Option<&Value>) -> Result<String, AppError> {
    match data.and_then(|d| d.get("room")) {
        None | Some(Value::Null) => Ok(GLOBAL_ROOM.to_owned()),
        Some(Value::String(room)) if !room.trim().is_empty() && room.len() <= 100 => {
            Ok(crate::rooms::normalize(room))
        }
        Some(_) => Err(AppError::field("room", "must be a room id")),
    }
}

/// A message id in an event's data.
fn id_param(data: Option<&Value>) -> Result<i64, AppError> {
    data.and_then(|d| d.get("id"))
        .and_then(Value::as_i64)
        .filter(|id| *id >= 0)
        .ok_or_else(|| AppError::field("id", "must be a message id"))
}

/// A string field of an event's data.
fn text_param<'a>(data: Option<&'a Value>, name: &'static str) -> Result<&'a str, AppError> {
    data.and_then(|d| d.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::field(name, "must be a string"))
}

/// Answers an event with `{"ok": true, "message": …}` or an error.
fn message_ack<A: Adapter>(ack: AckSender<A>, result: Result<MessageView, AppError>) {
    let reply = match result {
        Ok(message) => json!({ "ok": true, "message": message }),
        Err(err) => error_ack(&err),
    };
    let _ = ack.send(&reply);
}

async fn on_edit<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let data = data.ok();
    let result = async {
        user.allow_event()?;
        let id = id_param(data.as_ref())?;
        let text = text_param(data.as_ref(), "text")?;
        changes::edit(&state, user.id, id, text).await
    }
    .await;
    message_ack(ack, result);
}

async fn on_delete<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let data = data.ok();
    let result = async {
        user.allow_event()?;
        let id = id_param(data.as_ref())?;
        changes::delete(&state, user.id, user.is_admin, id).await
    }
    .await;
    message_ack(ack, result);
}

async fn react<A: Adapter>(
    data: Option<Value>,
    ack: AckSender<A>,
    state: AppState,
    user: ChatUser,
    on: bool,
) {
    let result = async {
        user.allow_event()?;
        let id = id_param(data.as_ref())?;
        let emoji = text_param(data.as_ref(), "emoji")?;
        changes::react(&state, user.id, id, emoji, on).await
    }
    .await;
    message_ack(ack, result);
}

async fn on_react<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    react(data.ok(), ack, state, user, true).await;
}

async fn on_unreact<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    react(data.ok(), ack, state, user, false).await;
}

async fn on_read<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let data = data.ok();
    let result = async {
        user.allow_event()?;
        let room = room_param(data.as_ref())?;
        let id = id_param(data.as_ref())?;
        let now = room_service::mark_read(&state, user.id, &room, id).await?;
        Ok::<_, AppError>(json!({ "ok": true, "room": room, "last_read_id": now }))
    }
    .await;
    let _ = ack.send(&result.unwrap_or_else(|err| error_ack(&err)));
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
    let result = async {
        let page = parse_page(param("before"), param("after"), param("limit"))?;
        let room = room_param(Some(&data))?;
        if room != GLOBAL_ROOM {
            check_access(&state.db, user.id, &room).await?;
        }
        let rows = messages::page(&state.db, &room, page).await?;
        let messages = changes::views(&state, rows).await?;
        Ok::<_, AppError>(json!({ "ok": true, "messages": messages }))
    }
    .await;
    let _ = ack.send(&result.unwrap_or_else(|err| error_ack(&err)));
}

async fn on_presence<A: Adapter>(
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let data = data.ok();
    let result = async {
        user.allow_event()?;
        let room = room_param(data.as_ref())?;
        if room == GLOBAL_ROOM {
            let snapshot = state.chat.snapshot(user.id, super::ONLINE_LIST_LIMIT).await;
            return Ok(json!({ "ok": true, "online": snapshot.online, "count": snapshot.count }));
        }
        check_access(&state.db, user.id, &room).await?;
        let members = rooms::member_ids(&state.db, &room, 10_000).await?;
        let mut online = state.chat.online_among(&members).await;
        let count = online.len();
        online.truncate(super::ONLINE_LIST_LIMIT);
        Ok::<_, AppError>(json!({ "ok": true, "online": online, "count": count }))
    }
    .await;
    let _ = ack.send(&result.unwrap_or_else(|err| error_ack(&err)));
}

async fn on_typing<A: Adapter>(
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    if user.allow_event().is_err() {
        return;
    }
    let Ok(room) = room_param(data.ok().as_ref()) else {
        return;
    };
    if room != GLOBAL_ROOM && check_access(&state.db, user.id, &room).await.is_err() {
        return;
    }
    let payload = json!({ "user": { "id": user.id, "username": user.username }, "room": room });
    if let Err(err) = s.to(room).emit("typing", &payload).await {
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
