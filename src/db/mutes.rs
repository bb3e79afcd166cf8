//! Conversations people muted (`room_mutes`, docs/rooms.md "Muting").

use std::collections::HashSet;

use super::{now_ms, Db};

/// Mutes `room` for `user_id` (idempotent); true when it was not muted.
pub async fn mute(db: &Db, user_id: i64, room: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO room_mutes (user_id, room, muted_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, room) DO NOTHING",
    )
    .bind(user_id)
    .bind(room)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Unmutes `room` for `user_id` (idempotent); true when it was muted.
pub async fn unmute(db: &Db, user_id: i64, room: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM room_mutes WHERE user_id = $1 AND room = $2")
        .bind(user_id)
        .bind(room)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The ids of the conversations `user_id` muted.
pub async fn of_user(db: &Db, user_id: i64) -> sqlx::Result<HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT room FROM room_mutes WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(room,)| room).collect())
}
