//! Muting a conversation (docs/rooms.md, "Muting"): a choice kept on the
//! server per person and conversation, so every device of theirs follows
//! it. A muted conversation raises no notification and adds nothing to the
//! unread total — but for messages that mention the person — and its direct
//! messages are not mailed (`db::missed_mail`).

use serde_json::json;

use super::access::may_read;
use crate::db::mutes;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::state::AppState;

/// Mutes (`true`) or unmutes `room` for `me`. Only someone who may read the
/// conversation may; anyone else is answered 404, as for a conversation
/// that does not exist (a public room not joined has nothing to mute
/// either). Idempotent; every socket of `me` is told (`muted` /
/// `unmuted`), so their other tabs and devices follow.
pub async fn set(state: &AppState, me: i64, room: &RoomId, muted: bool) -> Result<(), AppError> {
    match may_read(&state.db, me, room).await {
        Ok(()) => {}
        Err(AppError::Forbidden(_)) => return Err(AppError::NotFound),
        Err(err) => return Err(err),
    }
    let key = room.to_string();
    if muted {
        mutes::mute(&state.db, me, &key).await?;
    } else {
        mutes::unmute(&state.db, me, &key).await?;
    }
    let event = if muted { "muted" } else { "unmuted" };
    state
        .live
        .emit_to_user(me, event, &json!({ "room": room }))
        .await;
    Ok(())
}
