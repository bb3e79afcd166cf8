//! The `mail_outbox` table: mails queued in the same database as everything
//! else, so a mail server outage delays mail but loses none.

use sqlx::{AnyConnection, FromRow};

use super::{now_ms, Backend, Db};

/// A queued mail.
#[derive(Debug, Clone, FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i64,
    /// Extra header lines, `Name: value` each ([`header_lines`]).
    pub headers: String,
}

/// A mail as queued: recipient, subject, both bodies and extra headers.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    /// Extra header lines, `Name: value` each ([`header_lines`]).
    pub headers: &'a str,
}

/// Extra headers as stored: one `Name: value` line each.
pub fn header_lines(headers: &[(&str, String)]) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect()
}

/// Adds a mail to the queue, due now.
pub async fn enqueue(db: &Db, mail: Outgoing<'_>) -> sqlx::Result<i64> {
    let mut conn = db.pool.acquire().await?;
    enqueue_on(&mut conn, mail).await
}

/// [`enqueue`] on a given connection (inside a caller's transaction: the
/// mail is queued if and only if the rest commits).
pub async fn enqueue_on(conn: &mut AnyConnection, mail: Outgoing<'_>) -> sqlx::Result<i64> {
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, headers, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.body_text)
    .bind(mail.body_html)
    .bind(mail.headers)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due mails for `lease_ms`; a claimed mail is invisible
/// to other workers (on any instance) until the lease runs out.
pub async fn claim_due(db: &Db, limit: i64, lease_ms: i64) -> sqlx::Result<Vec<QueuedMail>> {
    let now = now_ms();
    let sql = match db.backend {
        Backend::Postgres => {
            "UPDATE mail_outbox SET claimed_until = $1 WHERE id IN ( \
               SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
               AND next_attempt_at <= $2 AND claimed_until < $2 ORDER BY id LIMIT $3 \
               FOR UPDATE SKIP LOCKED) AND claimed_until < $2 \
             RETURNING id, recipient, subject, body_text, body_html, attempts, headers"
        }
        Backend::Sqlite => {
            "UPDATE mail_outbox SET claimed_until = $1 WHERE id IN ( \
               SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
               AND next_attempt_at <= $2 AND claimed_until < $2 ORDER BY id LIMIT $3) \
             RETURNING id, recipient, subject, body_text, body_html, attempts, headers"
        }
    };
    sqlx::query_as(sql)
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&db.pool)
        .await
}

/// Records a delivery.
pub async fn mark_sent(db: &Db, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE mail_outbox SET sent_at = $1, claimed_until = 0 WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records a failed attempt; retried after `retry_in_ms`, or given up when `None`.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    error: &str,
    retry_in_ms: Option<i64>,
) -> sqlx::Result<()> {
    let now = now_ms();
    match retry_in_ms {
        Some(delay) => {
            sqlx::query(
                "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, \
                 next_attempt_at = $2, claimed_until = 0 WHERE id = $3",
            )
            .bind(error)
            .bind(now + delay)
            .bind(id)
            .execute(&db.pool)
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, \
                 failed_at = $2, claimed_until = 0 WHERE id = $3",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .execute(&db.pool)
            .await?;
        }
    }
    Ok(())
}

/// How many mails wait to be sent.
pub async fn queue_depth(db: &Db) -> sqlx::Result<i64> {
    let (depth,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(depth)
}

/// When the next queued mail is due, if any.
pub async fn next_due_at(db: &Db) -> sqlx::Result<Option<i64>> {
    let row: (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(next_attempt_at) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(row.0)
}
