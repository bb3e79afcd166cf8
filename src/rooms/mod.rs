//! Conversations beyond the global room: public rooms and direct messages,
//! who may read them (`access`), and how each user sees them
//! (docs/rooms.md).

pub mod access;
pub mod api;
pub mod members;
pub mod mute;
pub mod service;

use crate::db::rooms::{self, RoomRow};
use crate::db::{rfc3339, users, Db};
use crate::domain::room_id::GLOBAL;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::views::{Author, RoomView};

/// The global room as listed.
pub async fn global_view(db: &Db) -> Result<RoomView, AppError> {
    Ok(global_listing(db).await?.0)
}

/// The global room as listed, with the time it sorts by in the directory
/// (its last message, or its first account).
pub async fn global_listing(db: &Db) -> Result<(RoomView, i64), AppError> {
    let (members, began, last_activity) = rooms::global_summary(db).await?;
    let sort_key = last_activity.or(began).unwrap_or(0);
    let view = RoomView {
        id: GLOBAL.to_owned(),
        kind: RoomId::Global.kind(),
        read_only: false,
        read_only_reason: None,
        name: "Global room".to_owned(),
        topic: "Everyone is here".to_owned(),
        member_count: members,
        last_activity_at: last_activity.map(rfc3339),
        created_at: rfc3339(began.unwrap_or(0)),
        joined: true,
        peer: None,
        unread: None,
        mentions: None,
        last_read_id: None,
        muted: None,
    };
    Ok((view, sort_key))
}

/// How `me` sees a room row (`joined`: whether they are a member).
pub async fn view(db: &Db, row: RoomRow, me: i64, joined: bool) -> Result<RoomView, AppError> {
    let id = RoomId::parse(&row.id).ok_or(AppError::NotFound)?;
    let (name, peer) = match id.dm_peer(me) {
        Some(peer_id) => match users::find_by_id(db, peer_id).await? {
            Some(user) => (user.username.clone(), Some(Author::from(&user))),
            None => ("Deleted user".to_owned(), None),
        },
        None if matches!(id, RoomId::Dm(..)) => ("Deleted user".to_owned(), None),
        None => (row.name, None),
    };
    // What `access::may_write` refuses, said up front.
    let read_only_reason =
        (matches!(id, RoomId::Dm(..)) && peer.is_none()).then_some(access::PEER_DELETED);
    Ok(RoomView {
        id: row.id,
        kind: id.kind(),
        read_only: read_only_reason.is_some(),
        read_only_reason,
        name,
        topic: row.topic,
        member_count: row.member_count,
        last_activity_at: row.last_activity.map(rfc3339),
        created_at: rfc3339(row.created_at),
        joined,
        peer,
        unread: None,
        mentions: None,
        last_read_id: None,
        muted: None,
    })
}
