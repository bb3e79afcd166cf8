//! The `login_devices` table: browsers that signed in to an account
//! (the `chatroom_device` cookie), looked up by the hash of their token.
//! See SECURITY.md, "Login limits".

use super::{now_ms, placeholders, Db};

/// A device is forgotten after this long without a successful login.
pub const DEVICE_LIFETIME_MS: i64 = 365 * 24 * 3600 * 1000;
/// Devices kept per account (the most recently used).
pub const DEVICES_PER_ACCOUNT: i64 = 20;

/// The account's live device whose token hash is among `hashes`: its id
/// and token hash.
pub async fn find(db: &Db, user_id: i64, hashes: &[String]) -> sqlx::Result<Option<(i64, String)>> {
    if hashes.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT id, token_hash FROM login_devices \
         WHERE user_id = $1 AND last_used_at > $2 AND token_hash IN ({}) \
         ORDER BY last_used_at DESC LIMIT 1",
        placeholders(3, hashes.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(now_ms() - DEVICE_LIFETIME_MS);
    for hash in hashes {
        query = query.bind(hash);
    }
    query.fetch_optional(&db.pool).await
}

/// Stores a new device of the account and forgets its least recently used
/// ones beyond [`DEVICES_PER_ACCOUNT`].
pub async fn create(db: &Db, user_id: i64, token_hash: &str) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO login_devices (token_hash, user_id, created_at, last_used_at) \
         VALUES ($1, $2, $3, $3)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM login_devices WHERE user_id = $1 AND id NOT IN \
         (SELECT id FROM login_devices WHERE user_id = $1 \
          ORDER BY last_used_at DESC, id DESC LIMIT $2)",
    )
    .bind(user_id)
    .bind(DEVICES_PER_ACCOUNT)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a successful login from the device (its year starts again).
pub async fn touch_by_hash(db: &Db, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_devices SET last_used_at = $1 WHERE token_hash = $2")
        .bind(now_ms())
        .bind(token_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets every device of the account (a password change or reset).
pub async fn revoke_all(db: &Db, user_id: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM login_devices WHERE user_id = $1")
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

/// Forgets devices unused for longer than their lifetime.
pub async fn purge_expired(db: &Db) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM login_devices WHERE last_used_at <= $1")
        .bind(now_ms() - DEVICE_LIFETIME_MS)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}
