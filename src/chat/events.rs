//! The socket events: each parses its data once (`payloads`), calls one
//! service and answers through [`reply`]. No rule lives here.

use serde_json::{json, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, HttpExtension, SocketRef, TryData};

use super::payloads::{self, parse};
use super::user::ChatUser;
use crate::db;
use crate::error::AppError;
use crate::live::{DIRECTORY_WATCHERS, ONLINE_LIST_LIMIT};
use crate::messages;
use crate::messages::history::{parse_page, Param};
use crate::rooms::{access, service as rooms};
use crate::state::AppState;
use crate::views::MessageView;

/// Registers every event handler on a socket.
pub fn register<A: Adapter>(s: &SocketRef<A>) {
    s.on("message", on_message::<A>);
    s.on("history", on_history::<A>);
    s.on("presence", on_presence::<A>);
    s.on("typing", on_typing::<A>);
    s.on("edit", on_edit::<A>);
    s.on("delete", on_delete::<A>);
    s.on("react", on_react::<A>);
    s.on("unreact", on_unreact::<A>);
    s.on("read", on_read::<A>);
    s.on("thread", on_thread::<A>);
    s.on("thread_read", on_thread_read::<A>);
    s.on("directory", on_directory::<A>);
    s.on_fallback(on_unknown::<A>);
}

/// The error ack: `{"ok": false, "error": {code, message[, fields]}}`.
fn error_ack(err: &AppError) -> Value {
    json!({ "ok": false, "error": err.body() })
}

/// Answers an event: the success object (with `"ok": true` added) or the
/// error ack.
fn reply<A: Adapter>(ack: AckSender<A>, result: Result<Value, AppError>) {
    let answer = match result {
        Ok(mut value) => {
            if let Some(object) = value.as_object_mut() {
                object.insert("ok".into(), Value::Bool(true));
            }
            value
        }
        Err(err) => error_ack(&err),
    };
    let _ = ack.send(&answer);
}

fn with_message(result: Result<MessageView, AppError>) -> Result<Value, AppError> {
    result.map(|message| json!({ "message": message }))
}

/// The event's data, when it could be read at all.
type Data = TryData<Value>;

async fn on_message<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let post: payloads::Post = parse(data.ok())?;
        let room = payloads::room(post.room.as_ref())?;
        let outgoing = messages::Outgoing {
            text: &post.text,
            client_id: messages::parse_client_id(post.client_id.as_deref())?,
            reply_to: post.reply_to.map(payloads::message_id).transpose()?,
            also_in_room: post.also_in_room.unwrap_or(false),
            attachments: post.attachments.unwrap_or_default(),
        };
        messages::post(&state, &user.author, &room, outgoing).await
    }
    .await;
    reply(ack, with_message(result));
}

async fn on_history<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let asked: payloads::History = parse(data.ok())?;
        let page = parse_page(
            Param::from_json(asked.before.as_ref()),
            Param::from_json(asked.after.as_ref()),
            Param::from_json(asked.limit.as_ref()),
        )?;
        let room = payloads::room(asked.room.as_ref())?;
        let messages = messages::history(&state, user.id, &room, page).await?;
        Ok(json!({ "messages": messages }))
    }
    .await;
    reply(ack, result);
}

async fn on_presence<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let asked: payloads::InRoom = parse(data.ok())?;
        let room = payloads::room(asked.room.as_ref())?;
        if room.is_global() {
            let snapshot = state.live.snapshot(user.id, ONLINE_LIST_LIMIT).await;
            return Ok(json!({ "online": snapshot.online, "count": snapshot.count }));
        }
        access::may_read(&state.db, user.id, &room).await?;
        let members = db::rooms::member_ids(&state.db, &room.to_string(), 10_000).await?;
        let mut online = state.live.online_among(&members).await;
        let count = online.len();
        online.truncate(ONLINE_LIST_LIMIT);
        Ok(json!({ "online": online, "count": count }))
    }
    .await;
    reply(ack, result);
}

async fn on_typing<A: Adapter>(
    s: SocketRef<A>,
    TryData(data): Data,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let allowed = async {
        user.allow_event()?;
        let asked: payloads::InRoom = parse(data.ok())?;
        let room = payloads::room(asked.room.as_ref())?;
        access::may_write(&state.db, user.id, &room).await?;
        Ok::<_, AppError>(room)
    }
    .await;
    let Ok(room) = allowed else { return };
    let payload = json!({ "user": { "id": user.id, "username": user.username }, "room": room });
    if let Err(err) = s.to(room.to_string()).emit("typing", &payload).await {
        tracing::debug!(error = %err, "typing broadcast failed");
    }
}

async fn on_edit<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let edit: payloads::Edit = parse(data.ok())?;
        let id = payloads::message_id(edit.id)?;
        messages::edit(&state, user.id, id, &edit.text).await
    }
    .await;
    reply(ack, with_message(result));
}

async fn on_delete<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let delete: payloads::Delete = parse(data.ok())?;
        let id = payloads::message_id(delete.id)?;
        let message = messages::delete(&state, user.id, id).await?;
        Ok(json!({ "message": message }))
    }
    .await;
    reply(ack, result);
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
        let react: payloads::React = parse(data)?;
        let id = payloads::message_id(react.id)?;
        messages::react(&state, user.id, id, &react.emoji, on).await
    }
    .await;
    reply(ack, with_message(result));
}

async fn on_react<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    react(data.ok(), ack, state, user, true).await;
}

async fn on_unreact<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    react(data.ok(), ack, state, user, false).await;
}

async fn on_read<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let read: payloads::Read = parse(data.ok())?;
        let room = payloads::room(read.room.as_ref())?;
        let id = payloads::message_id(read.id)?;
        let now = rooms::mark_read(&state, user.id, &room, id).await?;
        Ok(json!({ "room": room, "last_read_id": now }))
    }
    .await;
    reply(ack, result);
}

async fn on_thread<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let asked: payloads::Thread = parse(data.ok())?;
        let id = payloads::message_id(asked.id)?;
        let page = parse_page(
            Param::from_json(asked.before.as_ref()),
            Param::from_json(asked.after.as_ref()),
            Param::from_json(asked.limit.as_ref()),
        )?;
        let (root, messages) = messages::threads::thread(&state, user.id, id, page).await?;
        Ok(json!({ "root": root, "messages": messages }))
    }
    .await;
    reply(ack, result);
}

async fn on_thread_read<A: Adapter>(
    TryData(data): Data,
    ack: AckSender<A>,
    HttpExtension(state): HttpExtension<AppState>,
    Extension(user): Extension<ChatUser>,
) {
    let result = async {
        user.allow_event()?;
        let read: payloads::ThreadRead = parse(data.ok())?;
        let id = payloads::message_id(read.id)?;
        let (root_id, now) =
            messages::threads::mark_read(&state, user.id, id, read.last_read_id).await?;
        Ok(json!({ "root_id": root_id, "last_read_id": now }))
    }
    .await;
    reply(ack, result);
}

/// `directory` `{"watch": bool}`: while watching, this socket gets
/// `room_updated` for every public room (docs/rooms.md, "Live member
/// counts"); the listing is public, so anyone signed in may watch.
async fn on_directory<A: Adapter>(
    s: SocketRef<A>,
    TryData(data): Data,
    ack: AckSender<A>,
    Extension(user): Extension<ChatUser>,
) {
    let result = (|| {
        user.allow_event()?;
        let asked: payloads::Watch = parse(data.ok())?;
        if asked.watch {
            s.join(DIRECTORY_WATCHERS);
        } else {
            s.leave(DIRECTORY_WATCHERS);
        }
        Ok(json!({ "watching": asked.watch }))
    })();
    reply(ack, result);
}

async fn on_unknown<A: Adapter>(ack: AckSender<A>, Extension(user): Extension<ChatUser>) {
    let answer = match user.allow_event() {
        Err(err) => error_ack(&err),
        Ok(()) => json!({
            "ok": false,
            "error": { "code": "unknown_event", "message": "this event is not supported" }
        }),
    };
    let _ = ack.send(&answer);
}
