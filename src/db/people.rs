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
