//! The `messages` table: chat history, one row per message.

use sqlx::{AnyConnection, FromRow};

use super::Db;

/// A stored message with what is shown of its author.
#[derive(Debug, Clone, FromRow)]
pub struct StoredMessage {
    pub id: i64,
    pub room: String,
    pub author_id: Option<i64>,
    pub author_username: Option<String>,
    pub author_avatar_hash: Option<String>,
    pub text: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// The thread's root, for a reply.
    pub reply_to: Option<i64>,
    /// 0 for a reply that stays in its thread.
    pub in_room: i64,
    /// Rendered and sanitized; '' for rows older than formatting.
    pub html: String,
}

/// A message waiting to be written.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: String,
    pub author_id: i64,
    pub text: String,
    /// `text` rendered and sanitized.
    pub html: String,
    pub created_at: i64,
    /// Users mentioned who can read the room.
    pub mentions: Vec<i64>,
    /// For a reply: its thread, and whether it is also shown in the room.
    pub thread: Option<ReplyTo>,
    /// The claim on the uploads it sends (docs/attachments.md).
    pub claim: Option<String>,
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy)]
pub struct ReplyTo {
    pub root_id: i64,
    /// The root's author, who follows the thread from its first reply.
    pub root_author: Option<i64>,
    pub in_room: bool,
}

/// Which page of history to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// How every message read selects (the schema guard test checks that it
/// reads every column).
pub const SELECT: &str = "SELECT m.id, m.room, m.author_id, u.username AS author_username, \
     u.avatar_hash AS author_avatar_hash, m.text, m.created_at, m.edited_at, m.deleted_at, \
     m.reply_to, m.in_room, m.html FROM messages m LEFT JOIN users u ON u.id = m.author_id";

/// Writes the messages in one transaction (group commit) and returns their
/// ids in the same order; ids increase in that order.
pub async fn insert_batch(db: &Db, batch: &[NewMessage]) -> sqlx::Result<Vec<i64>> {
    let mut conn = db.pool.acquire().await?;
    let rows: Vec<&NewMessage> = batch.iter().collect();
    insert_batch_on(&mut conn, db.backend, &rows).await
}

/// [`insert_batch`] on a given connection (one that may hold a lock).
pub async fn insert_batch_on(
    conn: &mut AnyConnection,
    backend: super::Backend,
    batch: &[&NewMessage],
) -> sqlx::Result<Vec<i64>> {
    let mut tx = super::begin_write_on(conn, backend).await?;
    let mut ids = Vec::with_capacity(batch.len());
    for message in batch {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO messages (room, author_id, text, html, created_at, reply_to, in_room) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&message.room)
        .bind(message.author_id)
        .bind(&message.text)
        .bind(&message.html)
        .bind(message.created_at)
        .bind(message.thread.map(|t| t.root_id))
        .bind(message.thread.map_or(1_i64, |t| i64::from(t.in_room)))
        .fetch_one(&mut *tx)
        .await?;
        for user_id in &message.mentions {
            sqlx::query("INSERT INTO mentions (user_id, message_id, room) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(id)
                .bind(&message.room)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(claim) = &message.claim {
            super::attachments::attach_on(&mut tx, claim, id).await?;
        }
        if let Some(thread) = message.thread {
            super::threads::record_reply(&mut tx, message, thread, id).await?;
        } else if !message.mentions.is_empty() {
            super::threads::follow_mentioned(&mut tx, &message.mentions, id).await?;
        }
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// Which messages a page is read from.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A conversation's history: the messages shown in the room.
    Room(&'a str),
    /// A thread's replies (all of them, also those shown in the room).
    Thread(i64),
}

impl Scope<'_> {
    /// The condition, binding `$1`.
    fn filter(self) -> &'static str {
        match self {
            Scope::Room(_) => "m.room = $1 AND m.in_room = 1",
            Scope::Thread(_) => "m.reply_to = $1",
        }
    }
}

/// A page of history, oldest first: without `before`/`after` the newest
/// `limit`; `before`: the newest `limit` older than it; `after`: the oldest
/// `limit` newer than it (and older than `before`, if given).
pub async fn page(db: &Db, scope: Scope<'_>, page: Page) -> sqlx::Result<Vec<StoredMessage>> {
    let limit = page.limit.clamp(1, 100);
    let filter = scope.filter();
    let (sql, ascending) = match page.after {
        None => (
            format!("{SELECT} WHERE {filter} AND m.id < $2 ORDER BY m.id DESC LIMIT $3"),
            false,
        ),
        Some(_) => (
            format!(
                "{SELECT} WHERE {filter} AND m.id < $2 AND m.id > $4 ORDER BY m.id ASC LIMIT $3"
            ),
            true,
        ),
    };
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    let query = match scope {
        Scope::Room(room) => query.bind(room),
        Scope::Thread(root) => query.bind(root),
    };
    let mut query = query.bind(page.before.unwrap_or(i64::MAX)).bind(limit);
    if let Some(after) = page.after {
        query = query.bind(after);
    }
    let mut rows: Vec<StoredMessage> = query.fetch_all(&db.pool).await?;
    if !ascending {
        rows.reverse();
    }
    Ok(rows)
}

/// Messages by id (those that exist), in id order.
pub async fn find_many(db: &Db, ids: &[i64]) -> sqlx::Result<Vec<StoredMessage>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE m.id IN ({}) ORDER BY m.id",
        super::placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await
}

/// One message, by id.
pub async fn find(db: &Db, id: i64) -> sqlx::Result<Option<StoredMessage>> {
    let sql = format!("{SELECT} WHERE m.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// Replaces the text (and its rendering) of a message that is not
/// deleted; false when it is.
pub async fn edit(db: &Db, id: i64, text: &str, html: &str, at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE messages SET text = $1, html = $4, edited_at = $2 WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(text)
    .bind(at)
    .bind(id)
    .bind(html)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Blanks a message and drops its reactions, mentions and attachments
/// (bytes included); it stays in history as a placeholder.
pub async fn delete(db: &Db, id: i64, at: i64) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE messages SET text = '', html = '', deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(at)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for sql in [
        "DELETE FROM reactions WHERE message_id = $1",
        "DELETE FROM mentions WHERE message_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    super::attachments::delete_of_message_on(&mut tx, id).await?;
    tx.commit().await
}

/// Messages of every room with ids strictly between two, oldest first.
pub async fn between(
    db: &Db,
    after: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<StoredMessage>> {
    let sql = format!("{SELECT} WHERE m.id > $1 AND m.id < $2 ORDER BY m.id LIMIT $3");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(before)
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}

/// The newest id in a room (0 when empty).
pub async fn newest_id(db: &Db, room: &str) -> sqlx::Result<i64> {
    let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM messages WHERE room = $1")
        .bind(room)
        .fetch_one(&db.pool)
        .await?;
    Ok(id.unwrap_or(0))
}

/// The number of stored messages in a room.
pub async fn count(db: &Db, room: &str) -> sqlx::Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE room = $1")
        .bind(room)
        .fetch_one(&db.pool)
        .await?;
    Ok(n)
}

/// Serialises message commits of every instance sharing one PostgreSQL:
/// taken before the insert and released after the broadcast, it makes ids
/// reach Redis in the order they were assigned.
pub async fn lock_publication(conn: &mut AnyConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock(727274)) AS locked")
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// Releases [`lock_publication`].
pub async fn unlock_publication(conn: &mut AnyConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM (SELECT pg_advisory_unlock(727274)) AS unlocked")
        .execute(&mut *conn)
        .await
        .map(|_| ())
}
