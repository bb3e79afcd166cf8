//! Conversations beyond the global room: public rooms and direct messages,
//! who may read them, and how each user sees them (docs/rooms.md).

pub mod api;
pub mod service;

use crate::chat::GLOBAL_ROOM;
use crate::db::rooms::{self, RoomRow};
use crate::db::{rfc3339, users, Db};
use crate::error::AppError;
use crate::views::{Author, RoomView};

/// The kinds of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Global,
    Public,
    Dm,
}

impl Kind {
    fn of(room: &str) -> Kind {
        if room == GLOBAL_ROOM {
            Kind::Global
        } else if room.starts_with("dm:") {
            Kind::Dm
        } else {
            Kind::Public
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Global => "global",
            Kind::Public => "public",
            Kind::Dm => "dm",
        }
    }
}

/// A room id as typed by a client: ids are lower case, so `Rust-Fans`
/// names the room `rust-fans`.
pub fn normalize(room: &str) -> String {
    room.trim().to_ascii_lowercase()
}

/// The id of the DM conversation between two users (the same both ways).
pub fn dm_id(a: i64, b: i64) -> String {
    format!("dm:{}:{}", a.min(b), a.max(b))
}

/// The other participant of a DM id, as seen by `me`.
fn dm_peer(room: &str, me: i64) -> Option<i64> {
    let mut ids = room.strip_prefix("dm:")?.split(':').map(str::parse::<i64>);
    let (a, b) = (ids.next()?.ok()?, ids.next()?.ok()?);
    if a == me {
        Some(b)
    } else if b == me {
        Some(a)
    } else {
        None
    }
}

/// Checks that `user_id` may read and write `room`: the global room always;
/// a public room once joined (403 before); a DM only for its participants
/// (404 for everyone else, as for rooms that do not exist).
pub async fn check_access(db: &Db, user_id: i64, room: &str) -> Result<Kind, AppError> {
    let kind = Kind::of(room);
    match kind {
        Kind::Global => Ok(kind),
        Kind::Dm => {
            if rooms::is_member(db, room, user_id).await? {
                Ok(kind)
            } else {
                Err(AppError::NotFound)
            }
        }
        Kind::Public => {
            if rooms::is_member(db, room, user_id).await? {
                return Ok(kind);
            }
            match rooms::find(db, room).await? {
                Some(row) if row.kind == "public" => {
                    Err(AppError::Forbidden("join the room first"))
                }
                _ => Err(AppError::NotFound),
            }
        }
    }
}

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
        id: GLOBAL_ROOM.to_owned(),
        kind: Kind::Global.as_str(),
        name: "Global room".to_owned(),
        topic: "Everyone is here".to_owned(),
        member_count: members,
        last_activity_at: last_activity.map(rfc3339),
        created_at: rfc3339(began.unwrap_or(0)),
        joined: true,
        peer: None,
        unread: None,
    };
    Ok((view, sort_key))
}

/// How `me` sees a room row (`joined`: whether they are a member).
pub async fn view(db: &Db, row: RoomRow, me: i64, joined: bool) -> Result<RoomView, AppError> {
    let kind = Kind::of(&row.id);
    let (name, peer) = match kind {
        Kind::Dm => {
            let peer = match dm_peer(&row.id, me) {
                Some(id) => users::find_by_id(db, id).await?,
                None => None,
            };
            match peer {
                Some(user) => (user.username.clone(), Some(Author::from(&user))),
                None => ("Deleted user".to_owned(), None),
            }
        }
        _ => (row.name, None),
    };
    Ok(RoomView {
        id: row.id,
        kind: kind.as_str(),
        name,
        topic: row.topic,
        member_count: row.member_count,
        last_activity_at: row.last_activity.map(rfc3339),
        created_at: rfc3339(row.created_at),
        joined,
        peer,
        unread: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_dm_ids() {
        assert_eq!(Kind::of("global"), Kind::Global);
        assert_eq!(Kind::of("dm:1:2"), Kind::Dm);
        assert_eq!(Kind::of("rust"), Kind::Public);
        assert_eq!(dm_id(9, 3), "dm:3:9");
        assert_eq!(dm_id(3, 9), "dm:3:9");
        assert_eq!(dm_peer("dm:3:9", 3), Some(9));
        assert_eq!(dm_peer("dm:3:9", 9), Some(3));
        assert_eq!(dm_peer("dm:3:9", 4), None);
        assert_eq!(dm_peer("dm:x:9", 9), None);
    }
}
