//! Changing a sent message: edit, delete, react. Shared by the REST routes
//! and the socket events; every change is broadcast as `message_updated`.

use crate::db::messages::{self, StoredMessage};
use crate::db::{now_ms, reactions};
use crate::domain::{MessageText, Reaction};
use crate::error::AppError;
use crate::rooms::check_access;
use crate::state::AppState;
use crate::views::MessageView;

/// Stored messages as clients see them, with their reactions.
pub async fn views(
    state: &AppState,
    rows: Vec<StoredMessage>,
) -> Result<Vec<MessageView>, AppError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| m.id)
        .collect();
    let reactions = reactions::of_messages(&state.db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| MessageView::from(row).with_reactions(&reactions))
        .collect())
}

/// A message `me` can read; 404 for any other (ids reveal nothing).
async fn readable(state: &AppState, me: i64, id: i64) -> Result<StoredMessage, AppError> {
    let message = messages::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    check_access(&state.db, me, &message.room)
        .await
        .map_err(|err| match err {
            AppError::Forbidden(_) => AppError::NotFound,
            other => other,
        })?;
    Ok(message)
}

/// Reloads a message and broadcasts its new state to its room.
async fn changed(state: &AppState, id: i64) -> Result<MessageView, AppError> {
    let row = messages::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let view = views(state, vec![row])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    state.chat.publish_update(&view).await;
    Ok(view)
}

/// Replaces the text of one's own message.
pub async fn edit(state: &AppState, me: i64, id: i64, text: &str) -> Result<MessageView, AppError> {
    let text = MessageText::parse(text).map_err(|reason| AppError::field("text", reason))?;
    let message = readable(state, me, id).await?;
    if message.author_id != Some(me) {
        return Err(AppError::Forbidden("you can only edit your own messages"));
    }
    if message.deleted_at.is_some()
        || !messages::edit(&state.db, id, text.as_str(), now_ms()).await?
    {
        return Err(AppError::MessageDeleted);
    }
    changed(state, id).await
}

/// Deletes one's own message, or any message for an admin — also in
/// conversations the admin cannot read (the answer is the placeholder,
/// which shows nothing of the text).
pub async fn delete(
    state: &AppState,
    me: i64,
    is_admin: bool,
    id: i64,
) -> Result<MessageView, AppError> {
    let message = if is_admin {
        messages::find(&state.db, id)
            .await?
            .ok_or(AppError::NotFound)?
    } else {
        readable(state, me, id).await?
    };
    if message.author_id != Some(me) && !is_admin {
        return Err(AppError::Forbidden("you can only delete your own messages"));
    }
    if message.deleted_at.is_some() {
        let view = views(state, vec![message])
            .await?
            .pop()
            .ok_or(AppError::NotFound)?;
        return Ok(view);
    }
    messages::delete(&state.db, id, now_ms()).await?;
    changed(state, id).await
}

/// Adds (`on`) or removes one's reaction to a message.
pub async fn react(
    state: &AppState,
    me: i64,
    id: i64,
    emoji: &str,
    on: bool,
) -> Result<MessageView, AppError> {
    let reaction = Reaction::parse(emoji).map_err(|reason| AppError::field("emoji", reason))?;
    let message = readable(state, me, id).await?;
    if message.deleted_at.is_some() {
        if on {
            return Err(AppError::MessageDeleted);
        }
        let view = views(state, vec![message])
            .await?
            .pop()
            .ok_or(AppError::NotFound)?;
        return Ok(view);
    }
    if on {
        reactions::add(&state.db, id, me, reaction.as_str()).await?;
    } else {
        reactions::remove(&state.db, id, me, reaction.as_str()).await?;
    }
    changed(state, id).await
}
