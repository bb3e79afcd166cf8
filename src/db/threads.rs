//! Threads: replies name their root (`messages.reply_to`); who follows
//! which thread and how far they have read it (`thread_follows`).

use sqlx::AnyConnection;

use super::messages::{NewMessage, ReplyTo};
use super::Db;

/// Follows the thread and moves the marker forward to `id` (the author of
/// a reply has read it).
const FOLLOW_AND_READ: &str =
    "INSERT INTO thread_follows (user_id, root_id, following, last_read_id) \
     VALUES ($1, $2, 1, $3) ON CONFLICT (user_id, root_id) DO UPDATE SET following = 1, \
     last_read_id = CASE WHEN excluded.last_read_id > thread_follows.last_read_id \
     THEN excluded.last_read_id ELSE thread_follows.last_read_id END";

/// Follows the thread (again, after an unfollow).
const FOLLOW: &str = "INSERT INTO thread_follows (user_id, root_id, following, last_read_id) \
     VALUES ($1, $2, 1, 0) ON CONFLICT (user_id, root_id) DO UPDATE SET following = 1";

/// Follows the thread unless the person already decided (unfollowed).
const FOLLOW_UNLESS_DECIDED: &str =
    "INSERT INTO thread_follows (user_id, root_id, following, last_read_id) \
     VALUES ($1, $2, 1, 0) ON CONFLICT (user_id, root_id) DO NOTHING";

/// Within the transaction storing reply `id`: its author follows the
/// thread and has read up to it, the root's author follows it (unless they
/// unfollowed), and so does everyone it mentions.
pub async fn record_reply(
    conn: &mut AnyConnection,
    message: &NewMessage,
    thread: ReplyTo,
    id: i64,
) -> sqlx::Result<()> {
    sqlx::query(FOLLOW_AND_READ)
        .bind(message.author_id)
        .bind(thread.root_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if let Some(root_author) = thread.root_author.filter(|a| *a != message.author_id) {
        sqlx::query(FOLLOW_UNLESS_DECIDED)
            .bind(root_author)
            .bind(thread.root_id)
            .execute(&mut *conn)
            .await?;
    }
    follow_mentioned(conn, &message.mentions, thread.root_id).await
}

/// Everyone a message of thread `root_id` mentions follows it.
pub async fn follow_mentioned(
    conn: &mut AnyConnection,
    mentioned: &[i64],
    root_id: i64,
) -> sqlx::Result<()> {
    for user_id in mentioned {
        sqlx::query(FOLLOW)
            .bind(user_id)
            .bind(root_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Follows (`on`) or unfollows a thread.
pub async fn set_following(db: &Db, user_id: i64, root_id: i64, on: bool) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO thread_follows (user_id, root_id, following, last_read_id) \
         VALUES ($1, $2, $3, 0) ON CONFLICT (user_id, root_id) DO UPDATE SET following = $3",
    )
    .bind(user_id)
    .bind(root_id)
    .bind(i64::from(on))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The newest reply's id in a thread (0 when it has none).
pub async fn newest_reply(db: &Db, root_id: i64) -> sqlx::Result<i64> {
    let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM messages WHERE reply_to = $1")
        .bind(root_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(id.unwrap_or(0))
}

/// Moves a person's thread marker forward to `id` (never back); answers
/// where it is now.
pub async fn mark_read(db: &Db, user_id: i64, root_id: i64, id: i64) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO thread_follows (user_id, root_id, following, last_read_id) \
         VALUES ($1, $2, 0, $3) ON CONFLICT (user_id, root_id) DO UPDATE SET \
         last_read_id = CASE WHEN excluded.last_read_id > thread_follows.last_read_id \
         THEN excluded.last_read_id ELSE thread_follows.last_read_id END",
    )
    .bind(user_id)
    .bind(root_id)
    .bind(id)
    .execute(&db.pool)
    .await?;
    read_marker(db, user_id, root_id).await
}

/// A person's thread marker (0: nothing read).
pub async fn read_marker(db: &Db, user_id: i64, root_id: i64) -> sqlx::Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT last_read_id FROM thread_follows WHERE user_id = $1 AND root_id = $2",
    )
    .bind(user_id)
    .bind(root_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map_or(0, |(id,)| id))
}

/// The replies (not deleted) of some roots, by root and author: how many,
/// the newest id and time. A thread's summary is put together from these.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepliesBy {
    pub root_id: i64,
    pub author_id: Option<i64>,
    pub author_username: Option<String>,
    pub author_avatar_hash: Option<String>,
    pub replies: i64,
    pub newest_id: i64,
    pub newest_at: i64,
}

/// [`RepliesBy`] rows for these roots.
pub async fn replies_by_author(db: &Db, root_ids: &[i64]) -> sqlx::Result<Vec<RepliesBy>> {
    if root_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT m.reply_to AS root_id, m.author_id, u.username AS author_username, \
         u.avatar_hash AS author_avatar_hash, COUNT(*) AS replies, MAX(m.id) AS newest_id, \
         MAX(m.created_at) AS newest_at FROM messages m LEFT JOIN users u ON u.id = m.author_id \
         WHERE m.reply_to IN ({}) AND m.deleted_at IS NULL \
         GROUP BY m.reply_to, m.author_id, u.username, u.avatar_hash",
        super::placeholders(1, root_ids.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in root_ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await
}

/// A thread someone follows, with what is new in it for them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Followed {
    pub root_id: i64,
    pub room: String,
    /// Replies by others, not deleted, after the person's thread marker.
    pub unread: i64,
    pub last_reply_at: i64,
}

/// The threads a person follows that have replies, newest reply first.
pub async fn followed(db: &Db, user_id: i64, limit: i64) -> sqlx::Result<Vec<Followed>> {
    sqlx::query_as(
        "SELECT f.root_id, r.room, \
         SUM(CASE WHEN r.id > f.last_read_id AND (r.author_id IS NULL OR r.author_id <> $1) \
         THEN 1 ELSE 0 END) AS unread, MAX(r.created_at) AS last_reply_at \
         FROM thread_follows f JOIN messages r ON r.reply_to = f.root_id AND r.deleted_at IS NULL \
         WHERE f.user_id = $1 AND f.following = 1 \
         GROUP BY f.root_id, r.room ORDER BY last_reply_at DESC, f.root_id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
