//! The `reactions` table: who reacted to which message with what.

use super::{now_ms, Db};

/// One user's reaction, with the name shown for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactionRow {
    pub message_id: i64,
    pub emoji: String,
    pub user_id: i64,
    pub username: String,
}

/// Adds a reaction unless the message already carries `max_distinct`
/// other emoji; adding it again changes nothing. Whether the reaction is
/// there now (false: the message was full).
pub async fn add(
    db: &Db,
    message_id: i64,
    user_id: i64,
    emoji: &str,
    max_distinct: i64,
) -> sqlx::Result<bool> {
    // One statement, so two people adding the 20th and 21st emoji at once
    // cannot both pass a separate count.
    let added = sqlx::query(
        "INSERT INTO reactions (message_id, user_id, emoji, created_at) SELECT $1, $2, $3, $4 \
         WHERE EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $3) \
         OR (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = $1) < $5 \
         ON CONFLICT (message_id, user_id, emoji) DO NOTHING",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .bind(now_ms())
    .bind(max_distinct)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if added > 0 {
        return Ok(true);
    }
    let present: Option<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
    )
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .fetch_optional(&db.pool)
    .await?;
    Ok(present.is_some())
}

/// Removes a reaction, if it is there.
pub async fn remove(db: &Db, message_id: i64, user_id: i64, emoji: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
        .bind(message_id)
        .bind(user_id)
        .bind(emoji)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The reactions to these messages, oldest first.
pub async fn of_messages(db: &Db, message_ids: &[i64]) -> sqlx::Result<Vec<ReactionRow>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.message_id, r.emoji, r.user_id, u.username FROM reactions r \
         JOIN users u ON u.id = r.user_id WHERE r.message_id IN ({}) \
         ORDER BY r.created_at, r.user_id",
        super::placeholders(1, message_ids.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in message_ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await
}
