//! `@username` mentions in message text.

use crate::db::{rooms, users};
use crate::domain::RoomId;
use crate::error::AppError;
use crate::state::AppState;

/// Most distinct users one message may mention.
const MAX_MENTIONS: usize = 20;

/// The username keys written as `@name` in a text (a trailing `.`, `-` or
/// `_` is also tried without, for "thanks @bob.").
pub fn candidates(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + 1..];
        if before.is_some_and(|c| c.is_alphanumeric()) {
            continue; // an email address, not a mention
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        for option in [word, word.trim_end_matches(['.', '-', '_'])] {
            let key = option.to_lowercase();
            if (3..=32).contains(&key.len()) && !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.len() >= MAX_MENTIONS {
            break;
        }
    }
    keys
}

/// The ids of the users mentioned in `text` who can read `room`, the
/// author excepted.
pub async fn resolve(
    state: &AppState,
    author: i64,
    room: &RoomId,
    text: &str,
) -> Result<Vec<i64>, AppError> {
    let keys = candidates(text);
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = users::ids_by_keys(&state.db, &keys)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != author)
        .collect();
    if !room.is_global() {
        ids = rooms::members_among(&state.db, &room.to_string(), &ids).await?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mentions() {
        assert_eq!(
            candidates("hi @Bob and @carol."),
            ["bob", "carol.", "carol"]
        );
        assert!(candidates("mail me at me@example.com").is_empty());
        assert!(candidates("@x is too short").is_empty());
        assert_eq!(candidates("@bob @BOB"), ["bob"]);
    }
}
