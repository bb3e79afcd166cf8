//! The `tokens` table: single-use secrets mailed to users (password reset,
//! email verification), stored only as hashes.

use sqlx::FromRow;

use super::{now_ms, Db};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    PasswordReset,
    VerifyEmail,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::PasswordReset => "password_reset",
            TokenKind::VerifyEmail => "verify_email",
        }
    }
}

/// A token that was just used.
#[derive(Debug, Clone, FromRow)]
pub struct UsedToken {
    pub user_id: i64,
    pub email: Option<String>,
}

/// Stores a token hash valid for `lifetime_ms`.
pub async fn create(
    db: &Db,
    kind: TokenKind,
    token_hash: &str,
    user_id: i64,
    email: Option<&str>,
    lifetime_ms: i64,
) -> sqlx::Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO tokens (kind, token_hash, user_id, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind.as_str())
    .bind(token_hash)
    .bind(user_id)
    .bind(email)
    .bind(now)
    .bind(now + lifetime_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Marks the token used if it is of this kind, unused and unexpired; the
/// single UPDATE makes a second use (even a concurrent one) fail.
pub async fn consume(
    db: &Db,
    kind: TokenKind,
    token_hash: &str,
) -> sqlx::Result<Option<UsedToken>> {
    let now = now_ms();
    sqlx::query_as(
        "UPDATE tokens SET used_at = $1 \
         WHERE token_hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id, email",
    )
    .bind(now)
    .bind(token_hash)
    .bind(kind.as_str())
    .fetch_optional(&db.pool)
    .await
}

/// The address waiting for verification for this user, if any.
pub async fn pending_email(db: &Db, user_id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT email FROM tokens WHERE user_id = $1 AND kind = $2 AND used_at IS NULL \
         AND expires_at > $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(TokenKind::VerifyEmail.as_str())
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.and_then(|(email,)| email))
}

/// Invalidates every unused token of the user, of every kind (verification
/// and reset links alike).
pub async fn revoke_all(db: &Db, user_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Invalidates the user's unused verification links (a cancelled address).
pub async fn revoke_verifications(db: &Db, user_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE tokens SET used_at = $1 WHERE user_id = $2 AND kind = $3 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id)
    .bind(TokenKind::VerifyEmail.as_str())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The owner of a usable (unused, unexpired) token, without using it.
pub async fn peek(db: &Db, kind: TokenKind, token_hash: &str) -> sqlx::Result<Option<UsedToken>> {
    sqlx::query_as(
        "SELECT user_id, email FROM tokens \
         WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash)
    .bind(kind.as_str())
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await
}
