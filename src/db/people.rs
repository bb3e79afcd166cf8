//! The people directory: accounts found by part of their username.

use super::users::{User, UserRow, COLUMNS};
use super::{like_contains, like_prefix, Db};

/// Accounts whose username contains `needle` (lower case): those it starts
/// with first, then alphabetically; every account when `needle` is empty.
pub async fn find(db: &Db, needle: &str, limit: i64) -> sqlx::Result<Vec<User>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE username_key LIKE $1 ESCAPE '\\' \
         ORDER BY CASE WHEN username_key LIKE $2 ESCAPE '\\' THEN 0 ELSE 1 END, username_key \
         LIMIT $3"
    );
    let rows = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
        .bind(like_contains(needle))
        .bind(like_prefix(needle))
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// The members of a conversation (`room_members`) whose username contains
/// `needle` (lower case), ordered as [`find`].
pub async fn find_in_room(
    db: &Db,
    room: &str,
    needle: &str,
    limit: i64,
) -> sqlx::Result<Vec<User>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE id IN (SELECT user_id FROM room_members WHERE room = $1) \
         AND username_key LIKE $2 ESCAPE '\\' \
         ORDER BY CASE WHEN username_key LIKE $3 ESCAPE '\\' THEN 0 ELSE 1 END, username_key \
         LIMIT $4"
    );
    let rows = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
        .bind(room)
        .bind(like_contains(needle))
        .bind(like_prefix(needle))
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}
