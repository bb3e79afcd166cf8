//! Messages: post, edit, delete, react, history, search and mentions — one
//! service, called alike by the REST routes (`api`) and the socket events
//! (`chat`). Every rule lives here: text validation, who may read, write
//! and moderate (through `rooms::access`), and one per-account budget that
//! every broadcast write takes from.

pub mod api;
pub mod attach;
mod budget;
pub mod format;
pub mod handle;
pub mod history;
mod mentions;
mod recent;
pub mod search;
pub mod threads;
mod writer;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::oneshot;

use crate::db::messages::{NewMessage, Page, Scope, StoredMessage};
use crate::db::{self, now_ms, reactions};
use crate::domain::{MessageText, Reaction, RoomId};
use crate::error::AppError;
use crate::rooms::access;
use crate::state::AppState;
use crate::views::{Author, MessageView};
pub use handle::Messages;
pub use writer::WriteJob;

/// Longest client-chosen id echoed with a new message.
pub const MAX_CLIENT_ID: usize = 64;

/// A client-chosen id for a message being sent, echoed in its ack and its
/// broadcast so the sender can match them: 1–64 of `A–Z a–z 0–9 _ -`.
pub fn parse_client_id(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw {
        None => Ok(None),
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_CLIENT_ID
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(Some(id.to_owned()))
        }
        Some(_) => Err(AppError::field(
            "client_id",
            format!("must be 1 to {MAX_CLIENT_ID} letters, digits, _ or -"),
        )),
    }
}

/// A message being sent, as the sender's client gave it.
#[derive(Debug, Clone, Default)]
pub struct Outgoing<'a> {
    pub text: &'a str,
    /// Echoed in the ack and the broadcast (already checked).
    pub client_id: Option<String>,
    /// Any message of the thread this one answers.
    pub reply_to: Option<i64>,
    /// A reply also shown in the room.
    pub also_in_room: bool,
    /// Ids of the sender's uploads to send with it (docs/attachments.md).
    pub attachments: Vec<i64>,
}

/// Stores a new message and broadcasts it to its conversation, everywhere;
/// answers it once it is committed. `author` is how the sender is shown.
pub async fn post(
    state: &AppState,
    author: &Author,
    room: &RoomId,
    outgoing: Outgoing<'_>,
) -> Result<MessageView, AppError> {
    let posted = store_and_broadcast(state, author, room, outgoing).await;
    if let Err(err) = &posted {
        crate::monitoring::message_refused(err.status_and_code().1);
    }
    posted
}

async fn store_and_broadcast(
    state: &AppState,
    author: &Author,
    room: &RoomId,
    outgoing: Outgoing<'_>,
) -> Result<MessageView, AppError> {
    attach::check(&outgoing.attachments)?;
    // With files, the text may be left empty; text that is given is checked.
    let text = if outgoing.text.trim().is_empty() && !outgoing.attachments.is_empty() {
        String::new()
    } else {
        MessageText::parse(outgoing.text)
            .map_err(|reason| AppError::field("text", reason))?
            .into_string()
    };
    access::may_write(&state.db, author.id, room).await?;
    let thread = match outgoing.reply_to {
        Some(id) => {
            Some(threads::reply_target(state, author.id, room, id, outgoing.also_in_room).await?)
        }
        None => None,
    };
    state.messages.budget.take(author.id)?;
    // A DM shows up for the other person with its first message.
    crate::rooms::service::dm_used(state, room).await?;
    let mentioned = mentions::resolve(state, author.id, room, &text).await?;
    let html = format::render(&text);
    // The presence table holds the freshest name and picture.
    let author = state
        .live
        .author(author.id)
        .unwrap_or_else(|| Arc::new(author.clone()));
    let room_id = room.to_string();
    let claim = attach::claim(state, author.id, &room_id, &outgoing.attachments).await?;
    let (reply, outcome) = oneshot::channel();
    let job = WriteJob {
        message: NewMessage {
            room: room_id,
            author_id: author.id,
            text,
            html,
            created_at: now_ms(),
            mentions: mentioned.clone(),
            thread,
            claim: claim.as_ref().map(|c| c.token.clone()),
        },
        author,
        client_id: outgoing.client_id,
        attachments: claim.as_ref().map(|c| c.views.clone()).unwrap_or_default(),
        reply,
    };
    let stopped = || AppError::Unavailable("the message writer stopped".into());
    let stored = match state.messages.writer.send(job).await {
        Ok(()) => outcome.await.unwrap_or_else(|_| Err(stopped())),
        Err(_) => Err(stopped()),
    };
    let message = match stored {
        Ok(message) => message,
        Err(err) => {
            if let Some(claim) = &claim {
                attach::release(state, claim).await;
            }
            return Err(err);
        }
    };
    if let Some(thread) = thread {
        // The root's new summary; the reply itself is stored and sent.
        if let Err(err) = changed(state, thread.root_id).await {
            tracing::warn!(error = %err, root = thread.root_id, "thread summary not broadcast");
        }
    }
    for user_id in mentioned {
        state
            .live
            .emit_to_user(user_id, "mention", &json!({ "message": &message }))
            .await;
    }
    Ok(message)
}

/// A page of a conversation's history, oldest first.
pub async fn history(
    state: &AppState,
    me: i64,
    room: &RoomId,
    page: Page,
) -> Result<Vec<MessageView>, AppError> {
    access::may_read(&state.db, me, room).await?;
    let room = room.to_string();
    if let Some(views) = state.messages.recent.page(&room, &page) {
        return Ok(views);
    }
    let rows = db::messages::page(&state.db, Scope::Room(&room), page).await?;
    views(state, rows).await
}

/// How authors are shown changed (a new or removed photo, a deleted
/// account): pages kept in memory are read again from the database.
pub fn authors_changed(state: &AppState) {
    state.messages.recent.forget_all();
}

/// Stored messages as clients see them: with their reactions, their
/// rendering (made now for rows older than formatting) and, for roots,
/// their thread's summary.
pub async fn views(
    state: &AppState,
    rows: Vec<StoredMessage>,
) -> Result<Vec<MessageView>, AppError> {
    let ids: Vec<i64> = rows
        .iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| m.id)
        .collect();
    let roots: Vec<i64> = rows
        .iter()
        .filter(|m| m.reply_to.is_none())
        .map(|m| m.id)
        .collect();
    let reactions = reactions::of_messages(&state.db, &ids).await?;
    let files = db::attachments::of_messages(&state.db, &ids).await?;
    let replies = db::threads::replies_by_author(&state.db, &roots).await?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            if row.html.is_empty() && row.deleted_at.is_none() {
                row.html = format::render(&row.text);
            }
            let mut view = MessageView::from(row)
                .with_reactions(&reactions)
                .with_attachments(&files);
            view.thread = threads::summary(view.id, &replies);
            view
        })
        .collect())
}

async fn view(state: &AppState, row: StoredMessage) -> Result<MessageView, AppError> {
    views(state, vec![row])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// Reloads a message and broadcasts its new state to its conversation.
async fn changed(state: &AppState, id: i64) -> Result<MessageView, AppError> {
    let row = match db::messages::find(&state.db, id).await {
        Ok(Some(row)) => row,
        other => {
            // Which conversation changed is unknown: forget them all.
            state.messages.recent.forget_all();
            return Err(other.err().map_or(AppError::NotFound, AppError::from));
        }
    };
    state.messages.recent.changed(&row.room);
    let view = view(state, row).await?;
    state.live.publish_update(&view).await;
    Ok(view)
}

/// Replaces the text of one's own message.
pub async fn edit(state: &AppState, me: i64, id: i64, text: &str) -> Result<MessageView, AppError> {
    let text = MessageText::parse(text).map_err(|reason| AppError::field("text", reason))?;
    let message = access::readable_message(&state.db, me, id).await?;
    if message.author_id != Some(me) {
        return Err(AppError::Forbidden("You can only edit your own messages."));
    }
    state.messages.budget.take(me)?;
    let html = format::render(text.as_str());
    if message.deleted_at.is_some()
        || !db::messages::edit(&state.db, id, text.as_str(), &html, now_ms()).await?
    {
        return Err(AppError::MessageDeleted);
    }
    changed(state, id).await
}

/// Deletes one's own message, or — for a moderator of its conversation —
/// anyone's, also in conversations the moderator cannot read. Answers the
/// placeholder to whoever can read the conversation, and `None` to a
/// moderator who cannot: nothing of it is shown to them, not even its room,
/// author or time (whether it was deleted already, too).
pub async fn delete(state: &AppState, me: i64, id: i64) -> Result<Option<MessageView>, AppError> {
    let (message, room) = access::message_and_room(&state.db, id).await?;
    let readable = match access::may_read(&state.db, me, &room).await {
        Ok(()) => true,
        Err(AppError::Forbidden(_) | AppError::NotFound) => false,
        Err(err) => return Err(err),
    };
    let own = message.author_id == Some(me);
    let moderating = !own && access::may_moderate(&state.db, me, &room).await?;
    if !(readable || moderating) {
        return Err(AppError::NotFound);
    }
    if !own && !moderating {
        return Err(AppError::Forbidden(
            "You can only delete your own messages.",
        ));
    }
    if message.deleted_at.is_none() {
        state.messages.budget.take(me)?;
        db::messages::delete(&state.db, id, now_ms()).await?;
        let placeholder = changed(state, id).await?;
        if let Some(root_id) = message.reply_to {
            // One reply fewer in the root's summary.
            changed(state, root_id).await?;
        }
        if moderating {
            tracing::info!(
                moderator = me,
                message_id = id,
                "message removed by a moderator"
            );
        }
        if readable {
            return Ok(Some(placeholder));
        }
    } else if readable {
        return Ok(Some(view(state, message).await?));
    }
    Ok(None)
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
    let message = access::readable_message(&state.db, me, id).await?;
    if message.deleted_at.is_some() {
        if on {
            return Err(AppError::MessageDeleted);
        }
        return view(state, message).await;
    }
    state.messages.budget.take(me)?;
    if on {
        let max = crate::domain::reaction::MAX_DISTINCT;
        if !reactions::add(&state.db, id, me, reaction.as_str(), max).await? {
            return Err(AppError::field(
                "emoji",
                format!(
                    "This message already has {max} different reactions. Add one of those instead."
                ),
            ));
        }
    } else {
        reactions::remove(&state.db, id, me, reaction.as_str()).await?;
    }
    changed(state, id).await
}
