//! Threads (docs/threads.md): where a reply goes, a thread's summary and
//! pages, following and the thread marker. Every id is checked through
//! `rooms::access`: a thread of a conversation one cannot read is 404.

use std::collections::HashMap;

use serde_json::json;

use crate::db::messages::{Page, ReplyTo, Scope, StoredMessage};
use crate::db::threads::{self as store, RepliesBy};
use crate::db::{self, rfc3339};
use crate::domain::RoomId;
use crate::error::AppError;
use crate::rooms::access;
use crate::state::AppState;
use crate::views::{avatar_url, Author, FollowedThread, MessageView, ThreadSummary};

/// Most participants a summary names.
pub const MAX_PARTICIPANTS: usize = 10;

/// Most threads `GET /api/v1/me/threads` lists.
pub const MAX_FOLLOWED: i64 = 100;

/// Where a reply to message `id` of `room` goes: that message's thread.
/// A message one cannot read, or of another conversation, is 404.
pub async fn reply_target(
    state: &AppState,
    me: i64,
    room: &RoomId,
    id: i64,
    also_in_room: bool,
) -> Result<ReplyTo, AppError> {
    let message = access::readable_message(&state.db, me, id).await?;
    if message.room != room.to_string() {
        return Err(AppError::NotFound);
    }
    let (root_id, root_author) = match message.reply_to {
        None => (message.id, message.author_id),
        Some(root_id) => {
            let root = db::messages::find(&state.db, root_id)
                .await?
                .ok_or(AppError::NotFound)?;
            (root.id, root.author_id)
        }
    };
    Ok(ReplyTo {
        root_id,
        root_author,
        in_room: also_in_room,
    })
}

/// The summary of root `id`'s thread from the replies of several roots;
/// `None` when it has no reply (not deleted).
pub fn summary(id: i64, replies: &[RepliesBy]) -> Option<ThreadSummary> {
    let mut mine: Vec<&RepliesBy> = replies.iter().filter(|r| r.root_id == id).collect();
    if mine.is_empty() {
        return None;
    }
    mine.sort_by_key(|r| std::cmp::Reverse(r.newest_id));
    let reply_count = mine.iter().map(|r| r.replies).sum();
    let last_reply_at = mine.iter().map(|r| r.newest_at).max().unwrap_or_default();
    let participants = mine
        .iter()
        .filter_map(|r| match (r.author_id, &r.author_username) {
            (Some(id), Some(username)) => Some(Author {
                id,
                username: username.clone(),
                avatar_url: avatar_url(id, username, r.author_avatar_hash.as_deref()),
            }),
            _ => None,
        })
        .take(MAX_PARTICIPANTS)
        .collect();
    Some(ThreadSummary {
        reply_count,
        last_reply_at: rfc3339(last_reply_at),
        participants,
    })
}

/// The root of the thread message `id` belongs to (itself for a
/// top-level message), if `me` can read it.
async fn readable_root(state: &AppState, me: i64, id: i64) -> Result<StoredMessage, AppError> {
    let message = access::readable_message(&state.db, me, id).await?;
    match message.reply_to {
        None => Ok(message),
        Some(root_id) => db::messages::find(&state.db, root_id)
            .await?
            .ok_or(AppError::NotFound),
    }
}

/// A thread: its root and a page of its replies, oldest first.
pub async fn thread(
    state: &AppState,
    me: i64,
    id: i64,
    page: Page,
) -> Result<(MessageView, Vec<MessageView>), AppError> {
    let root = readable_root(state, me, id).await?;
    let root_id = root.id;
    let mut rows = db::messages::page(&state.db, Scope::Thread(root_id), page).await?;
    rows.insert(0, root);
    let mut views = super::views(state, rows).await?;
    let root = views.remove(0);
    debug_assert_eq!(root.id, root_id);
    Ok((root, views))
}

/// Follows (`on`) or unfollows the thread of message `id`.
pub async fn follow(state: &AppState, me: i64, id: i64, on: bool) -> Result<(), AppError> {
    let root = readable_root(state, me, id).await?;
    store::set_following(&state.db, me, root.id, on).await?;
    Ok(())
}

/// Moves `me`'s marker of the thread of message `id` forward to
/// `last_read_id` (never past its newest reply) and tells their other
/// sockets. Answers the root's id and where the marker is now.
pub async fn mark_read(
    state: &AppState,
    me: i64,
    id: i64,
    last_read_id: i64,
) -> Result<(i64, i64), AppError> {
    if last_read_id < 0 {
        return Err(AppError::field(
            "last_read_id",
            "must be a non-negative integer",
        ));
    }
    let root = readable_root(state, me, id).await?;
    let newest = store::newest_reply(&state.db, root.id).await?;
    let now = if newest == 0 {
        store::read_marker(&state.db, me, root.id).await?
    } else {
        store::mark_read(&state.db, me, root.id, last_read_id.min(newest)).await?
    };
    state
        .live
        .emit_to_user(
            me,
            "thread_read",
            &json!({ "root_id": root.id, "last_read_id": now }),
        )
        .await;
    Ok((root.id, now))
}

/// The threads `me` follows, with replies, in conversations they can still
/// read; newest reply first.
pub async fn followed(state: &AppState, me: i64) -> Result<Vec<FollowedThread>, AppError> {
    let rows = store::followed(&state.db, me, MAX_FOLLOWED).await?;
    let mut readable: HashMap<String, bool> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let may = match readable.get(&row.room) {
            Some(may) => *may,
            None => {
                let may = match RoomId::parse(&row.room) {
                    Some(room) => match access::may_read(&state.db, me, &room).await {
                        Ok(()) => true,
                        Err(AppError::Forbidden(_) | AppError::NotFound) => false,
                        Err(err) => return Err(err),
                    },
                    None => false,
                };
                readable.insert(row.room.clone(), may);
                may
            }
        };
        if may {
            kept.push(row);
        }
    }
    let ids: Vec<i64> = kept.iter().map(|row| row.root_id).collect();
    let roots = db::messages::find_many(&state.db, &ids).await?;
    let views = super::views(state, roots).await?;
    Ok(kept
        .into_iter()
        .filter_map(|row| {
            let root = views.iter().find(|v| v.id == row.root_id)?.clone();
            Some(FollowedThread {
                root,
                unread: row.unread,
                last_reply_at: rfc3339(row.last_reply_at),
            })
        })
        .collect())
}
