//! Full-text search over the messages a user can read: SQLite FTS5 or
//! PostgreSQL's text search (`simple` configuration).

use super::messages::{StoredMessage, SELECT};
use super::{Backend, Db};

/// The longest words list a query may hold, and a word's longest length.
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 64;

/// The words of a search box: runs of letters and digits. Empty when the
/// text holds none.
pub fn words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(|w| {
            w.chars()
                .take(MAX_WORD_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
        .collect()
}

/// Every word must appear; the last one may be the start of a word.
fn engine_query(backend: Backend, words: &[String]) -> String {
    let last = words.len().saturating_sub(1);
    let terms = words
        .iter()
        .enumerate()
        .map(|(i, w)| match (backend, i == last) {
            (Backend::Sqlite, false) => format!("\"{w}\""),
            (Backend::Sqlite, true) => format!("\"{w}\"*"),
            (Backend::Postgres, false) => w.clone(),
            (Backend::Postgres, true) => format!("{w}:*"),
        });
    let joiner = match backend {
        Backend::Sqlite => " ",
        Backend::Postgres => " & ",
    };
    terms.collect::<Vec<_>>().join(joiner)
}

/// Newest first: messages matching all `words` that `user_id` can read
/// (the global room, rooms they joined, their DMs) — or only those of
/// `room`, whose access the caller checked — and not deleted.
pub async fn messages(
    db: &Db,
    user_id: i64,
    room: Option<&str>,
    words: &[String],
    limit: i64,
) -> sqlx::Result<Vec<StoredMessage>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let matches = match db.backend {
        Backend::Sqlite => "m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1)",
        Backend::Postgres => "to_tsvector('simple', m.text) @@ to_tsquery('simple', $1)",
    };
    let scope = match room {
        Some(_) => "m.room = $2",
        None => {
            "(m.room = 'global' OR m.room IN (SELECT room FROM room_members WHERE user_id = $2))"
        }
    };
    let sql = format!(
        "{SELECT} WHERE {matches} AND m.deleted_at IS NULL AND {scope} ORDER BY m.id DESC LIMIT $3"
    );
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(engine_query(db.backend, words));
    let query = match room {
        Some(room) => query.bind(room.to_owned()),
        None => query.bind(user_id),
    };
    query.bind(limit).fetch_all(&db.pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_letters_and_digits() {
        assert_eq!(
            words("Hello, wörld! x2 \"*) OR"),
            ["hello", "wörld", "x2", "or"]
        );
        assert!(words("  ?!* ").is_empty());
    }

    #[test]
    fn engine_queries_quote_every_word() {
        let w = words("cat dog");
        assert_eq!(engine_query(Backend::Sqlite, &w), "\"cat\" \"dog\"*");
        assert_eq!(engine_query(Backend::Postgres, &w), "cat & dog:*");
    }
}
