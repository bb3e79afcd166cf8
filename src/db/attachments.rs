//! The `attachments` and `attachment_chunks` tables: uploaded files, their
//! bytes in chunks (docs/attachments.md).

use sqlx::{AnyConnection, FromRow};

use super::{Backend, Db};

/// An attachment as stored, without its bytes.
#[derive(Debug, Clone, FromRow)]
pub struct StoredAttachment {
    pub id: i64,
    pub token: String,
    pub uploader_id: i64,
    pub room: String,
    pub message_id: Option<i64>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Whether a thumbnail is stored (pictures).
    pub has_thumbnail: i64,
    pub complete: i64,
    pub claim: Option<String>,
    pub claimed_at: Option<i64>,
    pub created_at: i64,
}

/// How every attachment read selects (the schema guard checks that it
/// reads every column but the bytes).
pub const SELECT: &str = "SELECT a.id, a.token, a.uploader_id, a.room, a.message_id, a.name, \
     a.content_type, a.size, a.width, a.height, \
     CAST(CASE WHEN a.thumbnail IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_thumbnail, a.complete, a.claim, \
     a.claimed_at, a.created_at FROM attachments a";

/// An upload about to be written.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub token: &'a str,
    pub uploader_id: i64,
    pub room: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub created_at: i64,
}

/// Starts an upload (not complete, no bytes yet); returns its id.
pub async fn begin(db: &Db, new: &NewAttachment<'_>) -> sqlx::Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO attachments (token, uploader_id, room, name, content_type, size, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
    )
    .bind(new.token)
    .bind(new.uploader_id)
    .bind(new.room)
    .bind(new.name)
    .bind(new.content_type)
    .bind(new.created_at)
    .fetch_one(&db.pool)
    .await?;
    Ok(id)
}

/// Appends chunk `seq` of an upload.
pub async fn put_chunk(db: &Db, id: i64, seq: i64, data: &[u8]) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(seq)
        .bind(data)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// What is known of an upload once its bytes are stored.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub content_type: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub thumbnail: Option<Vec<u8>>,
}

/// Bytes of completed uploads an account holds.
pub async fn used_by(db: &Db, uploader_id: i64) -> sqlx::Result<i64> {
    let (used,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE uploader_id = $1 AND complete = 1",
    )
    .bind(uploader_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(used.unwrap_or(0))
}

/// Marks an upload complete unless that takes its account past `quota`
/// bytes: `Ok(false)` then, and nothing changes. Uploads of one account
/// finishing at once are serialised (a PostgreSQL lock per account; on
/// SQLite the first write takes the single writer's lock before the sum
/// is read), so two cannot both pass on the last bytes.
pub async fn complete_within_quota(
    db: &Db,
    id: i64,
    uploader_id: i64,
    quota: i64,
    finished: &Finished,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(727275, $1)) AS locked")
            .bind(i32::try_from(uploader_id.rem_euclid(i64::from(i32::MAX))).unwrap_or(0))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE attachments SET complete = 1, content_type = $2, size = $3, width = $4, \
         height = $5, thumbnail = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(&finished.content_type)
    .bind(finished.size)
    .bind(finished.width)
    .bind(finished.height)
    .bind(finished.thumbnail.as_deref())
    .execute(&mut *tx)
    .await?;
    let (used,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE uploader_id = $1 AND complete = 1",
    )
    .bind(uploader_id)
    .fetch_one(&mut *tx)
    .await?;
    if used.unwrap_or(0) > quota {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Removes attachments and their bytes.
pub async fn remove(db: &Db, ids: &[i64]) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    for id in ids {
        sqlx::query("DELETE FROM attachment_chunks WHERE attachment_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM attachments WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Removes uploads that are still unsent and unclaimed (a message may have
/// taken one since it was listed); returns how many went.
pub async fn remove_unsent(db: &Db, ids: &[i64]) -> sqlx::Result<usize> {
    let mut removed = 0;
    for id in ids {
        let mut tx = db.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE attachments SET claim = 'sweep' WHERE id = $1 AND message_id IS NULL \
             AND claim IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 1 {
            for sql in [
                "DELETE FROM attachment_chunks WHERE attachment_id = $1",
                "DELETE FROM attachments WHERE id = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
            removed += 1;
        }
        tx.commit().await?;
    }
    Ok(removed)
}

/// One attachment, by its token.
pub async fn find_by_token(db: &Db, token: &str) -> sqlx::Result<Option<StoredAttachment>> {
    let sql = format!("{SELECT} WHERE a.token = $1 AND a.complete = 1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token)
        .fetch_optional(&db.pool)
        .await
}

/// The number of chunks of an attachment.
pub async fn chunk_count(db: &Db, id: i64) -> sqlx::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM attachment_chunks WHERE attachment_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await?;
    Ok(n)
}

/// Chunk `seq` of an attachment.
pub async fn chunk(db: &Db, id: i64, seq: i64) -> sqlx::Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>,)> =
        sqlx::query_as("SELECT data FROM attachment_chunks WHERE attachment_id = $1 AND seq = $2")
            .bind(id)
            .bind(seq)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(data,)| data))
}

/// The thumbnail of a picture.
pub async fn thumbnail(db: &Db, id: i64) -> sqlx::Result<Option<Vec<u8>>> {
    let row: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT thumbnail FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.and_then(|(data,)| data))
}

/// Claims the listed uploads for a message being sent: each must be
/// `uploader_id`'s, of `room`, complete, not sent and not claimed. All or
/// nothing: returns the claimed rows (in id order), or an empty list when
/// any of them could not be claimed (and then none is).
pub async fn claim(
    db: &Db,
    ids: &[i64],
    uploader_id: i64,
    room: &str,
    claim: &str,
    at: i64,
) -> sqlx::Result<Vec<StoredAttachment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "UPDATE attachments SET claim = $1, claimed_at = $2 WHERE uploader_id = $3 AND room = $4 \
         AND complete = 1 AND message_id IS NULL AND claim IS NULL AND id IN ({})",
        super::placeholders(5, ids.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(claim)
        .bind(at)
        .bind(uploader_id)
        .bind(room);
    for id in ids {
        query = query.bind(*id);
    }
    let claimed = query.execute(&mut *tx).await?.rows_affected();
    if claimed != ids.len() as u64 {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    let sql = format!("{SELECT} WHERE a.claim = $1 ORDER BY a.id");
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Frees the uploads a message that was not stored had claimed.
pub async fn release(db: &Db, claim: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE attachments SET claim = NULL, claimed_at = NULL WHERE claim = $1 AND message_id IS NULL",
    )
    .bind(claim)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Inside the writer's transaction: the claimed uploads now belong to the
/// message.
pub async fn attach_on(conn: &mut AnyConnection, claim: &str, message_id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE attachments SET message_id = $1, claim = NULL WHERE claim = $2")
        .bind(message_id)
        .bind(claim)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The attachments of these messages, in id order (one query).
pub async fn of_messages(db: &Db, message_ids: &[i64]) -> sqlx::Result<Vec<StoredAttachment>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE a.message_id IN ({}) ORDER BY a.id",
        super::placeholders(1, message_ids.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in message_ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await
}

/// Inside a message's deletion: its attachments and their bytes go.
pub async fn delete_of_message_on(conn: &mut AnyConnection, message_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM attachment_chunks WHERE attachment_id IN \
         (SELECT id FROM attachments WHERE message_id = $1)",
    )
    .bind(message_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM attachments WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inside an account's deletion: everything it uploaded goes.
pub async fn delete_of_uploader_on(conn: &mut AnyConnection, user_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM attachment_chunks WHERE attachment_id IN \
         (SELECT id FROM attachments WHERE uploader_id = $1)",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM attachments WHERE uploader_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ids of uploads never sent and created before `before` (complete or
/// cut off half-way), oldest first, at most `limit`.
pub async fn unsent_before(db: &Db, before: i64, limit: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM attachments WHERE message_id IS NULL AND claim IS NULL \
         AND created_at < $1 ORDER BY id LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Frees claims taken before `before` by messages never stored.
pub async fn release_stale_claims(db: &Db, before: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE attachments SET claim = NULL, claimed_at = NULL \
         WHERE claim IS NOT NULL AND message_id IS NULL AND claimed_at < $1",
    )
    .bind(before)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}
