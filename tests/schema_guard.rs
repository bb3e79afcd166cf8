//! The schema is written in several places — two migration folders, the
//! `migrate-to-postgres` column list, the columns reads select — and they
//! must agree: a column added to a migration but missing from the copy list
//! would be silently dropped by a migration to PostgreSQL; one missing from
//! a read would never reach the code.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chatroom::db::Db;
use sqlx::Row;

type Schema = BTreeMap<String, BTreeSet<String>>;

/// Tables of the search index and the migrations' own bookkeeping.
fn is_ours(table: &str) -> bool {
    !table.starts_with("_sqlx")
        && !table.starts_with("messages_fts")
        && !table.starts_with("sqlite_")
}

async fn sqlite_schema() -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/guard.db", dir.path().display()))
        .await
        .unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut schema = Schema::new();
    for (table,) in tables.into_iter().filter(|(t,)| is_ours(t)) {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
            .fetch_all(&db.pool)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|row| row.try_get::<String, _>("name").unwrap())
            .collect();
        schema.insert(table, columns);
    }
    schema
}

async fn postgres_schema() -> Option<Schema> {
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        common::skip_or_fail("PostgreSQL for the schema guard");
        return None;
    }
    let (name, url) = common::fresh_postgres_schema().await;
    let db = Db::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = current_schema() ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    db.pool.close().await;
    common::drop_schema(name);
    let mut schema = Schema::new();
    for (table, column) in rows.into_iter().filter(|(t, _)| is_ours(t)) {
        schema.entry(table).or_default().insert(column);
    }
    Some(schema)
}

fn copied() -> Schema {
    chatroom::admin::migrate::copied_columns()
        .into_iter()
        .map(|(table, columns)| {
            (
                table.to_owned(),
                columns.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// The column names of a select list (`a, b AS c, t.d` → a, b, d).
fn selected(list: &str) -> BTreeSet<String> {
    let list = list
        .split(" FROM ")
        .next()
        .unwrap_or(list)
        .trim_start_matches("SELECT ");
    list.split(',')
        .map(|part| {
            let source = part.trim().split(" AS ").next().unwrap_or_default();
            source
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn both_backends_and_the_postgres_copy_agree_on_every_column() {
    let sqlite = sqlite_schema().await;
    let copy = copied();
    assert_eq!(
        sqlite, copy,
        "migrate-to-postgres must copy exactly the SQLite schema's columns"
    );
    let Some(postgres) = postgres_schema().await else {
        return;
    };
    assert_eq!(
        sqlite, postgres,
        "both migration folders make the same schema"
    );
}

#[tokio::test]
async fn reads_select_every_column_that_holds_data() {
    let schema = sqlite_schema().await;
    let check = |table: &str, reads: BTreeSet<String>, not_read: &[&str]| {
        for column in &schema[table] {
            assert!(
                reads.contains(column) || not_read.contains(&column.as_str()),
                "{table}.{column} is never read: add it to the read (and its row struct)"
            );
        }
    };
    check(
        "users",
        selected(chatroom::db::users::COLUMNS),
        // Lookup keys: derived from username and email.
        &["username_key", "email_key"],
    );
    check("messages", selected(chatroom::db::messages::SELECT), &[]);
    check(
        "attachments",
        selected(chatroom::db::attachments::SELECT),
        // The thumbnail's bytes are read alone, when it is served.
        &["thumbnail"],
    );
    check(
        "sessions",
        selected(chatroom::db::sessions::COLUMNS),
        // Only ever compared, never read back.
        &["token_hash"],
    );
}
