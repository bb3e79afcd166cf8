//! The `sessions` table: server-side sessions, looked up by the hash of the
//! cookie's token.

use sqlx::FromRow;

use super::users::User;
use super::{now_ms, Db};

/// Sessions end after this long without use.
pub const IDLE_LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// A signed-in browser or client.
#[derive(Debug, Clone, FromRow)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// The columns every session read selects (the schema guard test checks
/// that it reads every column but the token's hash).
pub const COLUMNS: &str = "id, user_id, csrf_token, user_agent, created_at, last_seen_at";

/// A session and its account, read in one query: the account's columns
/// are those of every account read (`users::COLUMNS`).
#[derive(FromRow)]
struct SessionWithUser {
    session_id: i64,
    csrf_token: String,
    user_agent: String,
    session_created_at: i64,
    last_seen_at: i64,
    #[sqlx(flatten)]
    user: super::users::UserRow,
}

/// Stores a new session.
pub async fn create(
    db: &Db,
    user_id: i64,
    token_hash: &str,
    csrf_token: &str,
    user_agent: &str,
) -> sqlx::Result<Session> {
    let now = now_ms();
    sqlx::query_as(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         RETURNING id, user_id, csrf_token, user_agent, created_at, last_seen_at",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(user_agent)
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

/// `SELECT <session and user columns> FROM sessions s JOIN users u`, the
/// start of every query that reads a session with its account.
fn session_with_user_select() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let user_columns: Vec<String> = super::users::COLUMNS
            .split(',')
            .map(|column| format!("u.{}", column.trim()))
            .collect();
        format!(
            "SELECT s.id AS session_id, s.csrf_token, s.user_agent, \
                    s.created_at AS session_created_at, s.last_seen_at, {} \
             FROM sessions s JOIN users u ON u.id = s.user_id",
            user_columns.join(", ")
        )
    })
}

impl SessionWithUser {
    fn split(self) -> (Session, User) {
        let user = User::from(self.user);
        let session = Session {
            id: self.session_id,
            user_id: user.id,
            csrf_token: self.csrf_token,
            user_agent: self.user_agent,
            created_at: self.session_created_at,
            last_seen_at: self.last_seen_at,
        };
        (session, user)
    }
}

/// The live session with this token hash and its user; refreshes `last_seen_at`.
pub async fn find_active(db: &Db, token_hash: &str) -> sqlx::Result<Option<(Session, User)>> {
    let now = now_ms();
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "{} WHERE s.token_hash = $1 AND s.last_seen_at > $2 AND u.suspended_at IS NULL",
            session_with_user_select()
        )
    });
    let row: Option<SessionWithUser> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(token_hash)
        .bind(now - IDLE_LIFETIME_MS)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if now - row.last_seen_at > TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(row.session_id)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(row.split()))
}

/// A session with its account and the conversations it is a member of, as
/// a socket's handshake reads them.
#[derive(FromRow)]
struct SocketRow {
    #[sqlx(flatten)]
    session: SessionWithUser,
    member_of: Option<String>,
}

/// For a socket's handshake, in one query: the live session with this
/// token hash, its user, and the ids of the conversations the user is a
/// member of. Writes nothing: an open socket's session is kept alive by
/// the sweep ([`keep_alive`]), so a reconnect storm is only reads.
pub async fn find_for_socket(
    db: &Db,
    token_hash: &str,
) -> sqlx::Result<Option<(Session, User, Vec<String>)>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "{}, m.room AS member_of FROM sessions s JOIN users u ON u.id = s.user_id \
             LEFT JOIN room_members m ON m.user_id = u.id \
             WHERE s.token_hash = $1 AND s.last_seen_at > $2 AND u.suspended_at IS NULL",
            session_with_user_select()
                .split_once(" FROM ")
                .map_or("", |(columns, _)| columns)
        )
    });
    let rows: Vec<SocketRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(token_hash)
        .bind(now_ms() - IDLE_LIFETIME_MS)
        .fetch_all(&db.pool)
        .await?;
    let rooms = rows.iter().filter_map(|r| r.member_of.clone()).collect();
    let Some(first) = rows.into_iter().next() else {
        return Ok(None);
    };
    let (session, user) = first.session.split();
    Ok(Some((session, user, rooms)))
}

/// The conversations of a session's user, if the session is still live
/// (`None` once it was ended, expired or its account suspended), in one
/// query: what a socket's handshake reads again after joining its rooms.
pub async fn rooms_if_live(db: &Db, session_id: i64) -> sqlx::Result<Option<Vec<String>>> {
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT m.room FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN room_members m ON m.user_id = s.user_id \
         WHERE s.id = $1 AND s.last_seen_at > $2 AND u.suspended_at IS NULL",
    )
    .bind(session_id)
    .bind(now_ms() - IDLE_LIFETIME_MS)
    .fetch_all(&db.pool)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().filter_map(|(room,)| room).collect()))
}

/// Whether the session is live: not ended, not expired, its account not
/// suspended.
pub async fn is_live(db: &Db, session_id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.last_seen_at > $2 AND u.suspended_at IS NULL",
    )
    .bind(session_id)
    .bind(now_ms() - IDLE_LIFETIME_MS)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Of these sessions (of open sockets), the ones still live; their
/// `last_seen_at` is refreshed (at most once a minute), since an open
/// socket is use.
pub async fn keep_alive(db: &Db, ids: &[i64]) -> sqlx::Result<std::collections::HashSet<i64>> {
    let now = now_ms();
    let mut live = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.last_seen_at > $1 AND u.suspended_at IS NULL AND s.id IN ({})",
            super::placeholders(2, chunk.len())
        );
        let mut query =
            sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(now - IDLE_LIFETIME_MS);
        for id in chunk {
            query = query.bind(*id);
        }
        let found: Vec<i64> = query
            .fetch_all(&db.pool)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect();
        if !found.is_empty() {
            let sql = format!(
                "UPDATE sessions SET last_seen_at = $1 WHERE last_seen_at < $2 AND id IN ({})",
                super::placeholders(3, found.len())
            );
            let mut touch = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(now - TOUCH_EVERY_MS);
            for id in &found {
                touch = touch.bind(*id);
            }
            touch.execute(&db.pool).await?;
        }
        live.extend(found);
    }
    Ok(live)
}

/// Ends one session.
pub async fn delete(db: &Db, session_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(session_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Ends one session of this user; false when it is not theirs or gone.
pub async fn delete_of_user(db: &Db, user_id: i64, session_id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session of the user except `keep` (when given); returns the
/// ids of the ended sessions.
pub async fn delete_all_of_user(
    db: &Db,
    user_id: i64,
    keep: Option<i64>,
) -> sqlx::Result<Vec<i64>> {
    let ids: Vec<(i64,)> =
        sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id")
            .bind(user_id)
            .bind(keep.unwrap_or(-1))
            .fetch_all(&db.pool)
            .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// The user's live sessions, most recently used first.
pub async fn list_for_user(db: &Db, user_id: i64) -> sqlx::Result<Vec<Session>> {
    sqlx::query_as(
        "SELECT id, user_id, csrf_token, user_agent, created_at, last_seen_at FROM sessions \
         WHERE user_id = $1 AND last_seen_at > $2 ORDER BY last_seen_at DESC, id DESC",
    )
    .bind(user_id)
    .bind(now_ms() - IDLE_LIFETIME_MS)
    .fetch_all(&db.pool)
    .await
}

/// Removes sessions idle for longer than their lifetime.
pub async fn purge_expired(db: &Db) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at <= $1")
        .bind(now_ms() - IDLE_LIFETIME_MS)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}
