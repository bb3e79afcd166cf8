//! The `mail_outbox` table: mails queued in the same database as everything
//! else, so a mail server outage delays mail but loses none.

use sqlx::FromRow;

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
}

/// Adds a mail to the queue, due now.
pub async fn enqueue(
    db: &Db,
    recipient: &str,
    subject: &str,
    body_text: &str,
    body_html: &str,
) -> sqlx::Result<i64> {
    let now = now_ms();
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(recipient)
    .bind(subject)
    .bind(body_text)
    .bind(body_html)
    .bind(now)
    .fetch_one(&db.pool)
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
             RETURNING id, recipient, subject, body_text, body_html, attempts"
        }
        Backend::Sqlite => {
            "UPDATE mail_outbox SET claimed_until = $1 WHERE id IN ( \
               SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
               AND next_attempt_at <= $2 AND claimed_until < $2 ORDER BY id LIMIT $3) \
             RETURNING id, recipient, subject, body_text, body_html, attempts"
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
