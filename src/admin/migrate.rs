//! `chatroom migrate-to-postgres`: copies a SQLite database into an empty
//! PostgreSQL one, keeping every id, then moves the sequences past them.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::db::{Backend, Db};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    Bytes,
    OptBytes,
}

/// Tables in foreign-key order, with their columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "users",
        &[
            ("id", Kind::Int),
            ("username", Kind::Text),
            ("username_key", Kind::Text),
            ("password_hash", Kind::Text),
            ("email", Kind::OptText),
            ("email_key", Kind::OptText),
            ("email_verified", Kind::Int),
            ("avatar_hash", Kind::OptText),
            ("created_at", Kind::Int),
            ("is_admin", Kind::Int),
            ("suspended_at", Kind::OptInt),
            ("notify_email", Kind::Text),
        ],
    ),
    (
        "avatars",
        &[
            ("user_id", Kind::Int),
            ("hash", Kind::Text),
            ("content_type", Kind::Text),
            ("data", Kind::Bytes),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Kind::Int),
            ("token_hash", Kind::Text),
            ("user_id", Kind::Int),
            ("csrf_token", Kind::Text),
            ("user_agent", Kind::Text),
            ("created_at", Kind::Int),
            ("last_seen_at", Kind::Int),
        ],
    ),
    (
        "login_devices",
        &[
            ("id", Kind::Int),
            ("token_hash", Kind::Text),
            ("user_id", Kind::Int),
            ("created_at", Kind::Int),
            ("last_used_at", Kind::Int),
        ],
    ),
    (
        "tokens",
        &[
            ("id", Kind::Int),
            ("kind", Kind::Text),
            ("token_hash", Kind::Text),
            ("user_id", Kind::Int),
            ("email", Kind::OptText),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
            ("used_at", Kind::OptInt),
        ],
    ),
    (
        "messages",
        &[
            ("id", Kind::Int),
            ("room", Kind::Text),
            ("author_id", Kind::OptInt),
            ("text", Kind::Text),
            ("created_at", Kind::Int),
            ("edited_at", Kind::OptInt),
            ("deleted_at", Kind::OptInt),
            ("reply_to", Kind::OptInt),
            ("in_room", Kind::Int),
            ("html", Kind::Text),
        ],
    ),
    (
        "attachments",
        &[
            ("id", Kind::Int),
            ("token", Kind::Text),
            ("uploader_id", Kind::Int),
            ("room", Kind::Text),
            ("message_id", Kind::OptInt),
            ("name", Kind::Text),
            ("content_type", Kind::Text),
            ("size", Kind::Int),
            ("width", Kind::OptInt),
            ("height", Kind::OptInt),
            ("thumbnail", Kind::OptBytes),
            ("complete", Kind::Int),
            ("claim", Kind::OptText),
            ("claimed_at", Kind::OptInt),
            ("created_at", Kind::Int),
        ],
    ),
    (
        "attachment_chunks",
        &[
            ("attachment_id", Kind::Int),
            ("seq", Kind::Int),
            ("data", Kind::Bytes),
        ],
    ),
    (
        "thread_follows",
        &[
            ("user_id", Kind::Int),
            ("root_id", Kind::Int),
            ("following", Kind::Int),
            ("last_read_id", Kind::Int),
        ],
    ),
    (
        "rooms",
        &[
            ("id", Kind::Text),
            ("kind", Kind::Text),
            ("name", Kind::Text),
            ("topic", Kind::Text),
            ("created_by", Kind::OptInt),
            ("created_at", Kind::Int),
        ],
    ),
    (
        "room_members",
        &[
            ("room", Kind::Text),
            ("user_id", Kind::Int),
            ("joined_at", Kind::Int),
            ("listed", Kind::Int),
        ],
    ),
    (
        "read_markers",
        &[
            ("user_id", Kind::Int),
            ("room", Kind::Text),
            ("last_read_id", Kind::Int),
        ],
    ),
    (
        "room_mutes",
        &[
            ("user_id", Kind::Int),
            ("room", Kind::Text),
            ("muted_at", Kind::Int),
        ],
    ),
    (
        "reactions",
        &[
            ("message_id", Kind::Int),
            ("user_id", Kind::Int),
            ("emoji", Kind::Text),
            ("created_at", Kind::Int),
        ],
    ),
    (
        "mentions",
        &[
            ("user_id", Kind::Int),
            ("message_id", Kind::Int),
            ("room", Kind::Text),
        ],
    ),
    (
        "mail_outbox",
        &[
            ("id", Kind::Int),
            ("recipient", Kind::Text),
            ("subject", Kind::Text),
            ("body_text", Kind::Text),
            ("body_html", Kind::Text),
            ("created_at", Kind::Int),
            ("attempts", Kind::Int),
            ("next_attempt_at", Kind::Int),
            ("claimed_until", Kind::Int),
            ("sent_at", Kind::OptInt),
            ("failed_at", Kind::OptInt),
            ("last_error", Kind::OptText),
            ("headers", Kind::Text),
        ],
    ),
    (
        "missed_mail",
        &[
            ("user_id", Kind::Int),
            ("mailed_through_id", Kind::Int),
            ("mailed_at", Kind::Int),
        ],
    ),
    (
        "unsubscribe_tokens",
        &[
            ("token_hash", Kind::Text),
            ("user_id", Kind::Int),
            ("created_at", Kind::Int),
        ],
    ),
];

/// Every table the copy carries, with its columns, in copy order (the
/// schema guard test checks this against both backends' migrations).
pub fn copied_columns() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|(table, columns)| (*table, columns.iter().map(|(name, _)| *name).collect()))
        .collect()
}

/// Why the copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the source must be a sqlite:// URL and the target a postgres:// URL")]
    WrongBackends,
    #[error("the target database already holds {0} users; migrate into an empty database")]
    TargetNotEmpty(i64),
    #[error("{0}")]
    Connect(#[from] crate::db::ConnectError),
    #[error("{0}")]
    Db(#[from] sqlx::Error),
}

/// Copies everything; returns (table, rows) counts.
pub async fn run(from: &str, to: &str) -> Result<Vec<(&'static str, usize)>, MigrateError> {
    let source = Db::connect(from).await?;
    let target = Db::connect(to).await?;
    if source.backend != Backend::Sqlite || target.backend != Backend::Postgres {
        return Err(MigrateError::WrongBackends);
    }
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&target.pool)
        .await?;
    if existing > 0 {
        return Err(MigrateError::TargetNotEmpty(existing));
    }
    let mut tx = target.pool.begin().await?;
    let mut counts = Vec::new();
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        // In key order (attachment chunks by attachment, then in sequence),
        // streamed: attachments' bytes never sit in memory all at once.
        let select = format!("SELECT {} FROM {table} ORDER BY 1, 2", names.join(", "));
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&source.pool);
        let mut copied = 0;
        while let Some(row) = rows.try_next().await? {
            let row: AnyRow = row;
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for (i, (_, kind)) in columns.iter().enumerate() {
                query = match kind {
                    Kind::Int => query.bind(row.try_get::<i64, _>(i)?),
                    Kind::OptInt => query.bind(row.try_get::<Option<i64>, _>(i)?),
                    Kind::Text => query.bind(row.try_get::<String, _>(i)?),
                    Kind::OptText => query.bind(row.try_get::<Option<String>, _>(i)?),
                    Kind::Bytes => query.bind(row.try_get::<Vec<u8>, _>(i)?),
                    Kind::OptBytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(i)?),
                };
            }
            query.execute(&mut *tx).await?;
            copied += 1;
        }
        drop(rows);
        if matches!(columns.first(), Some(("id", Kind::Int))) {
            let reset = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1), \
                 (SELECT COUNT(*) > 0 FROM {table}))"
            );
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT 1 FROM ({reset}) AS s")))
                .execute(&mut *tx)
                .await?;
        }
        counts.push((*table, copied));
    }
    tx.commit().await?;
    close(source.pool).await;
    close(target.pool).await;
    Ok(counts)
}

async fn close(pool: AnyPool) {
    pool.close().await;
}
