//! The `users` table.

use sqlx::FromRow;

use super::{is_unique_violation, now_ms, Backend, Db};
use crate::domain::NotifyEmail;

/// A stored account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub avatar_hash: Option<String>,
    pub created_at: i64,
    /// The first account ever registered moderates (docs/rooms.md).
    pub is_admin: bool,
    pub suspended: bool,
    /// Which missed messages are mailed (docs/threads.md).
    pub notify_email: NotifyEmail,
}

/// An account row as read (`COLUMNS`).
#[derive(FromRow)]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    password_hash: String,
    email: Option<String>,
    email_verified: i64,
    avatar_hash: Option<String>,
    created_at: i64,
    is_admin: i64,
    suspended_at: Option<i64>,
    notify_email: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            email: row.email,
            email_verified: row.email_verified != 0,
            avatar_hash: row.avatar_hash,
            created_at: row.created_at,
            is_admin: row.is_admin != 0,
            suspended: row.suspended_at.is_some(),
            // Only this code writes the column; anything else mails nothing.
            notify_email: NotifyEmail::parse(&row.notify_email).unwrap_or(NotifyEmail::Off),
        }
    }
}

/// The columns every account read selects (the schema guard test checks
/// that it reads every column but the lookup keys).
pub const COLUMNS: &str =
    "id, username, password_hash, email, email_verified, avatar_hash, created_at, \
     is_admin, suspended_at, notify_email";

/// Why a write to `users` failed.
#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The comparison key of a username or email address
/// ([`crate::domain::comparison_key`]).
pub fn key(value: &str) -> String {
    crate::domain::comparison_key(value)
}

/// Inserts a new account; `email` starts unverified. The first account of
/// an empty database is the admin: on PostgreSQL, registrations take a
/// transaction lock first so that two racing on an empty table cannot both
/// see it empty (SQLite serialises writers already).
pub async fn create(
    db: &Db,
    username: &str,
    password_hash: &str,
    email: Option<&str>,
) -> Result<User, UserWriteError> {
    let mut tx = db.begin_write().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(727275)) AS locked")
            .execute(&mut *tx)
            .await?;
    }
    let row: Result<UserRow, _> = sqlx::query_as(
        "INSERT INTO users (username, username_key, password_hash, email, email_key, email_verified, created_at, is_admin) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 0 ELSE 1 END) \
         RETURNING id, username, password_hash, email, email_verified, avatar_hash, created_at, is_admin, suspended_at, notify_email",
    )
    .bind(username)
    .bind(key(username))
    .bind(password_hash)
    .bind(email)
    .bind(email.map(key))
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await;
    match row {
        Ok(row) => {
            tx.commit().await?;
            Ok(row.into())
        }
        Err(err) if is_unique_violation(&err) => Err(UserWriteError::UsernameTaken),
        Err(err) => Err(err.into()),
    }
}

async fn find_where(db: &Db, condition: &'static str, value: Bind) -> sqlx::Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE {condition}");
    let query = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql));
    let query = match value {
        Bind::Int(v) => query.bind(v),
        Bind::Text(v) => query.bind(v),
    };
    Ok(query.fetch_optional(&db.pool).await?.map(User::from))
}

enum Bind {
    Int(i64),
    Text(String),
}

/// The account with this id.
pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<User>> {
    find_where(db, "id = $1", Bind::Int(id)).await
}

/// The account with this username, in any letter case.
pub async fn find_by_username(db: &Db, username: &str) -> sqlx::Result<Option<User>> {
    find_where(db, "username_key = $1", Bind::Text(key(username))).await
}

/// The account whose verified address this is.
pub async fn find_by_verified_email(db: &Db, email: &str) -> sqlx::Result<Option<User>> {
    find_where(
        db,
        "email_key = $1 AND email_verified = 1",
        Bind::Text(key(email)),
    )
    .await
}

/// The account a login name designates: a username, or a verified email.
pub async fn find_for_login(db: &Db, login: &str) -> sqlx::Result<Option<User>> {
    if login.contains('@') {
        find_by_verified_email(db, login).await
    } else {
        find_by_username(db, login).await
    }
}

/// The ids and names of the accounts with these username keys.
pub async fn ids_by_keys(db: &Db, keys: &[String]) -> sqlx::Result<Vec<(i64, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, username FROM users WHERE username_key IN ({})",
        super::placeholders(1, keys.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for key in keys {
        query = query.bind(key.as_str());
    }
    query.fetch_all(&db.pool).await
}

/// Replaces the password hash.
pub async fn set_password_hash(db: &Db, user_id: i64, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Makes `email` the verified recovery address of the account.
pub async fn set_verified_email(db: &Db, user_id: i64, email: &str) -> Result<(), UserWriteError> {
    let result = sqlx::query(
        "UPDATE users SET email = $1, email_key = $2, email_verified = 1 WHERE id = $3",
    )
    .bind(email)
    .bind(key(email))
    .bind(user_id)
    .execute(&db.pool)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(UserWriteError::EmailTaken),
        Err(err) => Err(err.into()),
    }
}

/// Makes (`true`) or unmakes an admin; false when there is no such account.
pub async fn set_admin(db: &Db, user_id: i64, admin: bool) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
        .bind(i64::from(admin))
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets which missed messages are mailed; false when there is no such
/// account.
pub async fn set_notify_email(db: &Db, user_id: i64, setting: NotifyEmail) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET notify_email = $1 WHERE id = $2")
        .bind(setting.as_str())
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every account, oldest first.
pub async fn list(db: &Db) -> sqlx::Result<Vec<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id");
    let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(User::from).collect())
}

/// Suspends (`true`) or reinstates the account; false when there is none.
pub async fn set_suspended(db: &Db, user_id: i64, suspended: bool) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET suspended_at = $1 WHERE id = $2")
        .bind(suspended.then(now_ms))
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes the account; sessions, login devices, tokens, avatar and uploads go with it,
/// messages stay with no author.
pub async fn delete(db: &Db, user_id: i64) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    // Explicit deletes keep this correct even where foreign keys are off.
    for sql in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM login_devices WHERE user_id = $1",
        "DELETE FROM tokens WHERE user_id = $1",
        "DELETE FROM avatars WHERE user_id = $1",
        "DELETE FROM reactions WHERE user_id = $1",
        "DELETE FROM mentions WHERE user_id = $1",
        "DELETE FROM read_markers WHERE user_id = $1",
        "DELETE FROM room_mutes WHERE user_id = $1",
        "DELETE FROM room_members WHERE user_id = $1",
        "DELETE FROM missed_mail WHERE user_id = $1",
        "DELETE FROM unsubscribe_tokens WHERE user_id = $1",
        "UPDATE rooms SET created_by = NULL WHERE created_by = $1",
        "UPDATE messages SET author_id = NULL WHERE author_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
    }
    // Everything it uploaded, sent or not, bytes included.
    super::attachments::delete_of_uploader_on(&mut tx, user_id).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
