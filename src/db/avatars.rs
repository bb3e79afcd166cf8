//! The `avatars` table: one processed photo per user, shared by every instance.

use super::Db;

/// Stores (or replaces) the user's photo and records its hash on the user.
pub async fn set(
    db: &Db,
    user_id: i64,
    hash: &str,
    content_type: &str,
    data: &[u8],
) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO avatars (user_id, hash, content_type, data) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(hash)
        .bind(content_type)
        .bind(data)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET avatar_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Removes the user's photo.
pub async fn remove(db: &Db, user_id: i64) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM avatars WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET avatar_hash = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The photo of this user if its hash matches.
pub async fn get(db: &Db, user_id: i64, hash: &str) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    sqlx::query_as("SELECT content_type, data FROM avatars WHERE user_id = $1 AND hash = $2")
        .bind(user_id)
        .bind(hash)
        .fetch_optional(&db.pool)
        .await
}
