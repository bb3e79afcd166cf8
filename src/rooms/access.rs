//! Who may do what in a conversation: the one place REST routes, socket
//! events and pages ask. Ids reveal nothing: a conversation someone may not
//! read answers exactly like one that does not exist (404), except that a
//! public room one has not joined is known to exist (403 "join first").

use crate::db::messages::{self, StoredMessage};
use crate::db::{rooms, users, Db};
use crate::domain::RoomId;
use crate::error::AppError;

/// Checks that `user_id` may read `room`: the global room always; a public
/// room once joined (403 before); a DM only for its participants (404 for
/// everyone else, as for rooms that do not exist).
pub async fn may_read(db: &Db, user_id: i64, room: &RoomId) -> Result<(), AppError> {
    match room {
        RoomId::Global => Ok(()),
        RoomId::Dm(..) => {
            if room.dm_peer(user_id).is_some()
                && rooms::is_member(db, &room.to_string(), user_id).await?
            {
                Ok(())
            } else {
                Err(AppError::NotFound)
            }
        }
        RoomId::Public(id) => {
            if rooms::is_member(db, id, user_id).await? {
                return Ok(());
            }
            match rooms::find(db, id).await? {
                Some(row) if row.kind == "public" => Err(AppError::Forbidden(
                    "Join the room first to read and write in it.",
                )),
                _ => Err(AppError::NotFound),
            }
        }
    }
}

/// What posting to a DM whose other participant deleted their account is
/// answered (403 `forbidden`); its history stays readable.
pub const PEER_DELETED: &str =
    "This account was deleted. You can still read this conversation, but not send to it.";

/// Checks that `user_id` may post new messages (and files, and typing
/// notices) in `room`: whoever may read it — except in a DM whose other
/// participant deleted their account, which stays readable but takes no
/// new messages (403 [`PEER_DELETED`]). Edits, deletes, reactions and read
/// markers ask [`may_read`].
pub async fn may_write(db: &Db, user_id: i64, room: &RoomId) -> Result<(), AppError> {
    may_read(db, user_id, room).await?;
    if let Some(peer) = room.dm_peer(user_id) {
        if users::find_by_id(db, peer).await?.is_none() {
            return Err(AppError::Forbidden(PEER_DELETED));
        }
    }
    Ok(())
}

/// Whether `user_id` may remove other people's messages in `room`. Today
/// that is an admin (read fresh, so a revoked admin loses it at once); a
/// room-moderator role would be added here and nowhere else.
pub async fn may_moderate(db: &Db, user_id: i64, _room: &RoomId) -> Result<bool, AppError> {
    Ok(users::find_by_id(db, user_id)
        .await?
        .is_some_and(|user| user.is_admin && !user.suspended))
}

/// A message `user_id` can read, or 404 — never 403: the id of a message in
/// a conversation one cannot read reveals nothing.
pub async fn readable_message(db: &Db, user_id: i64, id: i64) -> Result<StoredMessage, AppError> {
    let (message, room) = message_and_room(db, id).await?;
    match may_read(db, user_id, &room).await {
        Ok(()) => Ok(message),
        Err(AppError::Forbidden(_)) => Err(AppError::NotFound),
        Err(err) => Err(err),
    }
}

/// A message and its conversation, whoever asks (for moderation).
pub async fn message_and_room(db: &Db, id: i64) -> Result<(StoredMessage, RoomId), AppError> {
    let message = messages::find(db, id).await?.ok_or(AppError::NotFound)?;
    let room = RoomId::parse(&message.room).ok_or(AppError::NotFound)?;
    Ok((message, room))
}
