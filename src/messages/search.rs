//! Searching the messages a user can read now.

use crate::db;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::state::AppState;
use crate::views::MessageView;

/// Default and largest search page.
pub const DEFAULT_RESULTS: i64 = 20;
pub const MAX_RESULTS: i64 = 50;
/// Longest search text.
pub const MAX_QUERY_CHARS: usize = 200;

/// Newest first: messages matching every word of `text` (the last also as
/// a prefix) in the conversations `me` can read now — or only in `room`.
pub async fn search(
    state: &AppState,
    me: i64,
    text: &str,
    room: Option<&RoomId>,
    limit: i64,
) -> Result<Vec<MessageView>, AppError> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::field(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let words = db::search::words(text);
    if words.is_empty() {
        return Err(AppError::field("q", "must contain a letter or a digit"));
    }
    let room = match room {
        Some(room) => {
            crate::rooms::access::may_read(&state.db, me, room).await?;
            Some(room.to_string())
        }
        None => None,
    };
    let rows = db::search::messages(&state.db, me, room.as_deref(), &words, limit).await?;
    super::views(state, rows).await
}
