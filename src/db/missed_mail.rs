//! What missed-message mail reads and writes (docs/threads.md,
//! "Missed-message mail"): the messages each account has missed, the
//! `missed_mail` row a worker claims by compare-and-set before it queues a
//! mail, and the `unsubscribe_tokens` those mails carry.

use std::sync::OnceLock;

use sqlx::{Connection, FromRow};

use super::mail::{self, Outgoing};
use super::{now_ms, Db};

/// Whether message `m` (an alias of `messages`) is still unread by the
/// account `u` (an alias of `users`). This is the one place the mail
/// decides "unread"; whatever marker a message is read by is added here and
/// nowhere else. A message shown in its room is unread while newer than
/// `u`'s read marker of that conversation; a reply that stays in its thread
/// (`in_room = 0`) while newer than `u`'s marker of that thread (reading
/// the room does not read the threads in it).
pub const UNREAD: &str = "((m.in_room = 1 AND m.id > COALESCE((SELECT r.last_read_id \
     FROM read_markers r WHERE r.user_id = u.id AND r.room = m.room), 0)) \
     OR (m.in_room = 0 AND m.id > COALESCE((SELECT f.last_read_id FROM thread_follows f \
     WHERE f.user_id = u.id AND f.root_id = m.reply_to), 0)))";

/// Accounts `u` (with `s`, their `missed_mail` row, if any) that get
/// missed-message mail now: the setting on, a verified address, not
/// suspended, and their previous such mail older than the cutoff (`$1`).
const ELIGIBLE: &str = "u.notify_email = 'dms_and_mentions' AND u.email IS NOT NULL \
     AND u.email_verified = 1 AND u.suspended_at IS NULL AND COALESCE(s.mailed_at, 0) <= $1";

/// A message `m` that `u` can miss: not deleted, by someone else, unread.
fn missable() -> String {
    format!("m.deleted_at IS NULL AND (m.author_id IS NULL OR m.author_id <> u.id) AND {UNREAD}")
}

/// Rows `(user_id, message_id, created_at)`: every message an eligible
/// account has missed and no mail has covered yet — the messages of its
/// direct conversations it has not muted, and the messages that mention it
/// in a conversation it can still read (the global room, or one it is a
/// member of; in a muted DM only these). With `user`, the placeholder
/// naming one account.
fn missed(user: Option<&str>) -> String {
    let one = user.map(|p| format!(" AND u.id = {p}")).unwrap_or_default();
    let missable = missable();
    format!(
        "SELECT u.id AS user_id, m.id AS message_id, m.created_at AS created_at \
         FROM users u LEFT JOIN missed_mail s ON s.user_id = u.id \
         JOIN room_members dm ON dm.user_id = u.id \
         JOIN messages m ON m.room = dm.room AND m.id > COALESCE(s.mailed_through_id, 0) \
         WHERE dm.room LIKE 'dm:%' AND {ELIGIBLE}{one} AND {missable} \
         AND NOT EXISTS (SELECT 1 FROM room_mutes mu WHERE mu.user_id = u.id AND mu.room = dm.room) \
         UNION ALL \
         SELECT u.id AS user_id, m.id AS message_id, m.created_at AS created_at \
         FROM users u LEFT JOIN missed_mail s ON s.user_id = u.id \
         JOIN mentions x ON x.user_id = u.id AND x.message_id > COALESCE(s.mailed_through_id, 0) \
         JOIN messages m ON m.id = x.message_id \
         WHERE (x.room NOT LIKE 'dm:%' OR EXISTS (SELECT 1 FROM room_mutes mu \
              WHERE mu.user_id = u.id AND mu.room = x.room)) \
         AND (x.room = 'global' OR EXISTS (SELECT 1 FROM room_members rm \
              WHERE rm.room = x.room AND rm.user_id = u.id)) \
         AND {ELIGIBLE}{one} AND {missable}"
    )
}

/// Up to `limit` accounts due a mail: eligible, with a missed message sent
/// at or before `cutoff` (and their previous mail no later than it),
/// longest waiting first.
pub async fn due(db: &Db, cutoff: i64, limit: i64) -> sqlx::Result<Vec<i64>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT c.user_id, MIN(c.created_at) AS oldest FROM ({}) c \
             GROUP BY c.user_id HAVING MIN(c.created_at) <= $1 ORDER BY oldest LIMIT $2",
            missed(None)
        )
    });
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}

/// Who a mail goes to, and where the worker stood when it looked.
#[derive(Debug, Clone, FromRow)]
pub struct Recipient {
    pub username: String,
    pub email: String,
    /// `mailed_through_id` as read: the claim succeeds only if it is unchanged.
    pub mailed_through_id: i64,
}

/// One missed message as a mail quotes it.
#[derive(Debug, Clone, FromRow)]
pub struct MissedMessage {
    pub id: i64,
    pub room: String,
    /// The public room's name as typed (none for the global room and DMs).
    pub room_name: Option<String>,
    /// None once the author deleted their account.
    pub author_username: Option<String>,
    pub text: String,
    pub created_at: i64,
}

/// Everything one account has missed since its last mail.
#[derive(Debug, Clone)]
pub struct Missed {
    pub recipient: Recipient,
    /// The oldest `quote` messages, oldest first.
    pub quoted: Vec<MissedMessage>,
    /// How many messages in all.
    pub total: i64,
    /// When the oldest was sent.
    pub oldest_at: i64,
    /// The newest message id: the mail covers everything up to it.
    pub through_id: i64,
}

/// What `user_id` has missed, if they are eligible (see [`due`]) and have
/// missed anything: the oldest `quote` messages and the whole count.
pub async fn gather(
    db: &Db,
    user_id: i64,
    cutoff: i64,
    quote: i64,
) -> sqlx::Result<Option<Missed>> {
    static SQL: OnceLock<(String, String, String)> = OnceLock::new();
    let (recipient_sql, summary_sql, quoted_sql) = SQL.get_or_init(|| {
        let missed = missed(Some("$2"));
        (
            format!(
                "SELECT u.username, u.email, COALESCE(s.mailed_through_id, 0) AS mailed_through_id \
                 FROM users u LEFT JOIN missed_mail s ON s.user_id = u.id \
                 WHERE u.id = $2 AND {ELIGIBLE}"
            ),
            format!("SELECT COUNT(*), MIN(c.created_at), MAX(c.message_id) FROM ({missed}) c"),
            format!(
                "SELECT m.id, m.room, r.name AS room_name, a.username AS author_username, \
                 m.text, m.created_at \
                 FROM ({missed}) c JOIN messages m ON m.id = c.message_id \
                 LEFT JOIN rooms r ON r.id = m.room AND r.kind = 'public' \
                 LEFT JOIN users a ON a.id = m.author_id \
                 ORDER BY m.id LIMIT $3"
            ),
        )
    });
    let recipient: Option<Recipient> = sqlx::query_as(sqlx::AssertSqlSafe(recipient_sql.as_str()))
        .bind(cutoff)
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(recipient) = recipient else {
        return Ok(None);
    };
    let (total, oldest_at, through_id): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(summary_sql.as_str()))
            .bind(cutoff)
            .bind(user_id)
            .fetch_one(&db.pool)
            .await?;
    let (Some(oldest_at), Some(through_id)) = (oldest_at, through_id) else {
        return Ok(None);
    };
    let quoted: Vec<MissedMessage> = sqlx::query_as(sqlx::AssertSqlSafe(quoted_sql.as_str()))
        .bind(cutoff)
        .bind(user_id)
        .bind(quote)
        .fetch_all(&db.pool)
        .await?;
    Ok(Some(Missed {
        recipient,
        quoted,
        total,
        oldest_at,
        through_id,
    }))
}

/// A worker's claim on one account's mail.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub user_id: i64,
    /// `mailed_through_id` as the worker read it.
    pub expected_through_id: i64,
    /// The newest message id the mail covers.
    pub through_id: i64,
    /// The address the mail goes to, as the worker read it.
    pub email: &'a str,
    /// The SHA-256 of the mail's unsubscribe token.
    pub token_hash: &'a str,
}

/// Claims the account and queues its mail, all in one transaction: the
/// account's `missed_mail` row moves from `expected_through_id` to
/// `through_id` only if no one moved it meanwhile (compare-and-set; on
/// PostgreSQL a racing worker waits for this one's commit and then finds
/// the row changed), the account must still be eligible at the same
/// address, and then the unsubscribe token is stored and the mail queued.
/// False when another worker (on any instance) got there first, or the
/// account changed; nothing is written then.
pub async fn claim_and_enqueue(
    db: &Db,
    claim: Claim<'_>,
    outgoing: Outgoing<'_>,
) -> sqlx::Result<bool> {
    let now = now_ms();
    let mut conn = db.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let claimed = sqlx::query(
        "INSERT INTO missed_mail (user_id, mailed_through_id, mailed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET mailed_through_id = excluded.mailed_through_id, \
         mailed_at = excluded.mailed_at WHERE missed_mail.mailed_through_id = $4",
    )
    .bind(claim.user_id)
    .bind(claim.through_id)
    .bind(now)
    .bind(claim.expected_through_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(false);
    }
    let still: Option<(String,)> = sqlx::query_as(
        "SELECT email FROM users WHERE id = $1 AND notify_email = 'dms_and_mentions' \
         AND email IS NOT NULL AND email_verified = 1 AND suspended_at IS NULL",
    )
    .bind(claim.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    if still.is_none_or(|(email,)| email != claim.email) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO unsubscribe_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(claim.token_hash)
    .bind(claim.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    mail::enqueue_on(&mut tx, outgoing).await?;
    tx.commit().await?;
    Ok(true)
}

/// From now on, only messages newer than the newest one count as missed
/// for this account (mail turned back on: what came while it was off is
/// not mailed). Never moves backwards.
pub async fn start_from_now(db: &Db, user_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO missed_mail (user_id, mailed_through_id, mailed_at) \
         VALUES ($1, (SELECT COALESCE(MAX(id), 0) FROM messages), 0) \
         ON CONFLICT (user_id) DO UPDATE SET mailed_through_id = \
         CASE WHEN excluded.mailed_through_id > missed_mail.mailed_through_id \
         THEN excluded.mailed_through_id ELSE missed_mail.mailed_through_id END",
    )
    .bind(user_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The account an unsubscribe token (by hash) belongs to, if it was
/// issued after `issued_after`.
pub async fn token_owner(
    db: &Db,
    token_hash: &str,
    issued_after: i64,
) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM unsubscribe_tokens WHERE token_hash = $1 AND created_at > $2",
    )
    .bind(token_hash)
    .bind(issued_after)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Turns missed-message mail off for the account of an unsubscribe token
/// (by hash) issued after `issued_after`, and changes nothing else; the
/// account's id, or None for an unknown or expired token.
pub async fn unsubscribe(
    db: &Db,
    token_hash: &str,
    issued_after: i64,
) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE users SET notify_email = 'off' WHERE id = (SELECT t.user_id FROM unsubscribe_tokens t \
         WHERE t.token_hash = $1 AND t.created_at > $2) RETURNING id",
    )
    .bind(token_hash)
    .bind(issued_after)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Removes unsubscribe tokens issued at or before `issued_before`.
pub async fn prune_tokens(db: &Db, issued_before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM unsubscribe_tokens WHERE created_at <= $1")
        .bind(issued_before)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}
