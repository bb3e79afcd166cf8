//! What users do with conversations: create, join, leave, open a DM, mark
//! read, list. Every change reaches the user's live sockets everywhere.

use serde_json::json;

use super::access::may_read;
use super::{global_listing, global_view, view};
use crate::db::{messages, rooms, users};
use crate::domain::room_id::GLOBAL;
use crate::domain::room_name::parse_topic;
use crate::domain::{RoomId, RoomName, Username};
use crate::error::{AppError, FieldErrors};
use crate::live::DIRECTORY_WATCHERS;
use crate::state::AppState;
use crate::views::RoomView;

/// Unread messages are counted up to this many ("100 or more").
pub const UNREAD_CAP: i64 = 100;

/// Creates a public room; its creator is its first member.
pub async fn create(
    state: &AppState,
    me: i64,
    name: &str,
    topic: Option<&str>,
) -> Result<RoomView, AppError> {
    let mut errors = FieldErrors::new();
    let name = RoomName::parse(name).map_err(|reason| errors.insert("name".into(), reason));
    let topic =
        parse_topic(topic.unwrap_or("")).map_err(|reason| errors.insert("topic".into(), reason));
    let (Ok(name), Ok(topic)) = (name, topic) else {
        return Err(AppError::Validation(errors));
    };
    let id = match RoomId::parse(&name.id()) {
        Some(RoomId::Public(id)) => id,
        _ => return Err(AppError::RoomNameTaken),
    };
    state
        .limits
        .room_create_account
        .take(&format!("user:{me}"))
        .await?;
    match rooms::create_public(&state.db, &id, name.as_str(), &topic, me).await {
        Ok(()) => {}
        Err(rooms::CreateError::Taken) => return Err(AppError::RoomNameTaken),
        Err(rooms::CreateError::Db(err)) => return Err(err.into()),
    }
    let room = RoomId::Public(id);
    let view = entered(state, me, &room).await?;
    members_changed(state, &room).await;
    Ok(view)
}

/// One conversation as `me` sees it: any public room, their DMs.
pub async fn get(state: &AppState, me: i64, room: &RoomId) -> Result<RoomView, AppError> {
    let id = room.to_string();
    match room {
        RoomId::Global => global_view(&state.db).await,
        RoomId::Dm(..) => {
            may_read(&state.db, me, room).await?;
            let row = rooms::find(&state.db, &id)
                .await?
                .ok_or(AppError::NotFound)?;
            view(&state.db, row, me, true).await
        }
        RoomId::Public(_) => {
            let row = rooms::find(&state.db, &id)
                .await?
                .ok_or(AppError::NotFound)?;
            let joined = rooms::is_member(&state.db, &id, me).await?;
            view(&state.db, row, me, joined).await
        }
    }
}

/// Joins a public room (idempotent); the global room and one's own DMs
/// are simply answered.
pub async fn join(state: &AppState, me: i64, room: &RoomId) -> Result<RoomView, AppError> {
    let RoomId::Public(id) = room else {
        return get(state, me, room).await;
    };
    if rooms::find(&state.db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    if rooms::join(&state.db, id, me).await? {
        let view = entered(state, me, room).await?;
        members_changed(state, room).await;
        Ok(view)
    } else {
        get(state, me, room).await
    }
}

/// Leaves a public room; the global room and DMs cannot be left.
pub async fn leave(state: &AppState, me: i64, room: &RoomId) -> Result<(), AppError> {
    match room {
        RoomId::Global => Err(AppError::Forbidden(
            "Everyone is in the global room; it cannot be left.",
        )),
        RoomId::Dm(..) => {
            may_read(&state.db, me, room).await?;
            Err(AppError::Forbidden("A direct conversation cannot be left."))
        }
        RoomId::Public(id) => {
            if rooms::find(&state.db, id).await?.is_none() {
                return Err(AppError::NotFound);
            }
            if rooms::leave(&state.db, id, me).await? {
                state.live.remove_user_from_room(me, room).await;
                state
                    .live
                    .emit_to_user(me, "room_left", &json!({ "room": room }))
                    .await;
                members_changed(state, room).await;
            }
            Ok(())
        }
    }
}

/// Opens (or finds) the DM between `me` and the user called `username`.
/// A suspended account can be written to like any other (whether someone
/// is suspended is not for others to learn); their messages wait. The DM
/// is listed for `me` now, for the other person at its first message
/// ([`dm_used`]): their sockets follow it already, but are not told.
pub async fn open_dm(state: &AppState, me: i64, username: &str) -> Result<RoomView, AppError> {
    let username = Username::parse(username.trim()).map_err(|_| AppError::NotFound)?;
    let peer = users::find_by_username(&state.db, username.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    if peer.id == me {
        return Err(AppError::field("username", "you cannot message yourself"));
    }
    let room = RoomId::dm(me, peer.id);
    let id = room.to_string();
    if rooms::open_dm(&state.db, &id, me, peer.id).await? {
        let newest = messages::newest_id(&state.db, &id).await?;
        rooms::mark_read(&state.db, peer.id, &id, newest).await?;
        state.live.add_user_to_room(peer.id, &room).await;
        entered(state, me, &room).await
    } else if !rooms::list_for_members(&state.db, &id, Some(me))
        .await?
        .is_empty()
    {
        entered(state, me, &room).await
    } else {
        get(state, me, &room).await
    }
}

/// A message was accepted in `room`: a DM becomes listed for a participant
/// who had not opened it, whose sockets are told (`room_joined`). Called by
/// the message service for every message, before it is stored and sent,
/// so the conversation arrives before its first message.
pub async fn dm_used(state: &AppState, room: &RoomId) -> Result<(), AppError> {
    if !matches!(room, RoomId::Dm(..)) {
        return Ok(());
    }
    let id = room.to_string();
    for user in rooms::list_for_members(&state.db, &id, None).await? {
        state.live.add_user_to_room(user, room).await;
        if let Some(row) = rooms::find(&state.db, &id).await? {
            let room_view = view(&state.db, row, user, true).await?;
            state
                .live
                .emit_to_user(user, "room_joined", &json!({ "room": room_view }))
                .await;
        }
    }
    Ok(())
}

/// The DMs `user` is in, asked just before their account is deleted, for
/// [`peers_left`].
pub async fn dms_of(state: &AppState, user: i64) -> Result<Vec<RoomId>, AppError> {
    Ok(rooms::ids_of_user(&state.db, user)
        .await?
        .iter()
        .filter_map(|id| RoomId::parse(id))
        .filter(|room| matches!(room, RoomId::Dm(..)))
        .collect())
}

/// `user` deleted their account: the other participant of each of their
/// DMs gets its new room object (`room_updated`: "Deleted user",
/// `read_only`), so an open page stops offering to write there at once.
/// Best effort: the account is gone either way.
pub async fn peers_left(state: &AppState, user: i64, dms: &[RoomId]) {
    for room in dms {
        let Some(peer) = room.dm_peer(user) else {
            continue;
        };
        let row = match rooms::find(&state.db, &room.to_string()).await {
            Ok(Some(row)) => row,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(error = %err, %room, "room_updated not sent");
                continue;
            }
        };
        match view(&state.db, row, peer, true).await {
            Ok(room_view) => {
                state
                    .live
                    .emit_to_user(peer, "room_updated", &json!({ "room": room_view }))
                    .await
            }
            Err(err) => tracing::warn!(error = %err, %room, "room_updated not sent"),
        }
    }
}

/// Someone joined or left a public room: its members and the sockets
/// watching the directory get the new room object (`room_updated`),
/// everywhere. Best effort: the change itself is done.
async fn members_changed(state: &AppState, room: &RoomId) {
    let RoomId::Public(id) = room else { return };
    let row = match rooms::find(&state.db, id).await {
        Ok(Some(row)) => row,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(error = %err, room = %id, "room_updated not sent");
            return;
        }
    };
    // A public room looks the same to everyone but for `joined`.
    let mut room_view = match view(&state.db, row, 0, true).await {
        Ok(room_view) => room_view,
        Err(err) => {
            tracing::warn!(error = %err, room = %id, "room_updated not sent");
            return;
        }
    };
    state
        .live
        .emit_to_room(id, "room_updated", &json!({ "room": &room_view }))
        .await;
    room_view.joined = false;
    state
        .live
        .emit_except(
            DIRECTORY_WATCHERS,
            id,
            "room_updated",
            &json!({ "room": room_view }),
        )
        .await;
}

/// After `user` became a member: everything before now counts as read,
/// their sockets join the room and are told.
async fn entered(state: &AppState, user: i64, room: &RoomId) -> Result<RoomView, AppError> {
    let id = room.to_string();
    let newest = messages::newest_id(&state.db, &id).await?;
    rooms::mark_read(&state.db, user, &id, newest).await?;
    state.live.add_user_to_room(user, room).await;
    let row = rooms::find(&state.db, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let room_view = view(&state.db, row, user, true).await?;
    state
        .live
        .emit_to_user(user, "room_joined", &json!({ "room": room_view }))
        .await;
    Ok(room_view)
}

/// Moves the user's read marker forward (at most to the room's newest
/// message); tells their other sockets.
pub async fn mark_read(state: &AppState, me: i64, room: &RoomId, id: i64) -> Result<i64, AppError> {
    if id < 0 {
        return Err(AppError::field(
            "last_read_id",
            "must be a non-negative integer",
        ));
    }
    may_read(&state.db, me, room).await?;
    let key = room.to_string();
    let newest = messages::newest_id(&state.db, &key).await?;
    let now = rooms::mark_read(&state.db, me, &key, id.min(newest)).await?;
    state
        .live
        .emit_to_user(me, "read", &json!({ "room": room, "last_read_id": now }))
        .await;
    Ok(now)
}

/// The global room, then the user's rooms and DMs, with unread counts.
pub async fn mine(state: &AppState, me: i64) -> Result<Vec<RoomView>, AppError> {
    let mut list = vec![global_view(&state.db).await?];
    for row in rooms::of_user(&state.db, me).await? {
        list.push(view(&state.db, row, me, true).await?);
    }
    let muted = crate::db::mutes::of_user(&state.db, me).await?;
    for room in &mut list {
        room.muted = Some(muted.contains(&room.id));
        let last_read_id = rooms::read_marker(&state.db, me, &room.id).await?;
        let (unread, mentions) =
            rooms::unread(&state.db, me, &room.id, last_read_id, UNREAD_CAP).await?;
        room.unread = Some(unread);
        room.mentions = Some(mentions);
        room.last_read_id = Some(last_read_id);
    }
    Ok(list)
}

/// The room directory: the global room and public rooms matching `q`,
/// most recent activity (or creation) first.
pub async fn directory(
    state: &AppState,
    me: i64,
    q: &str,
    limit: i64,
) -> Result<Vec<RoomView>, AppError> {
    crate::domain::search_text::check(q, 100).map_err(|reason| AppError::field("q", reason))?;
    let needle = q.trim().to_lowercase();
    let mut listed: Vec<(i64, RoomView)> = Vec::new();
    let (global, global_key) = global_listing(&state.db).await?;
    if global.name.to_lowercase().contains(&needle)
        || global.topic.to_lowercase().contains(&needle)
        || GLOBAL.contains(&needle)
    {
        listed.push((global_key, global));
    }
    let joined = rooms::ids_of_user(&state.db, me).await?;
    for row in rooms::directory(&state.db, &needle, limit).await? {
        let is_member = joined.contains(&row.id);
        let key = row.last_activity.unwrap_or(row.created_at);
        listed.push((key, view(&state.db, row, me, is_member).await?));
    }
    listed.sort_by(|(a, x), (b, y)| b.cmp(a).then_with(|| x.id.cmp(&y.id)));
    listed.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(listed.into_iter().map(|(_, room)| room).collect())
}
