//! An existing SQLite database from before rooms and search (migration 1
//! only) upgrades on start: the oldest account becomes the admin, old
//! messages are searchable, and the global room keeps its history.

mod common;

use std::borrow::Cow;

use chatroom::auth::secret;
use common::spawn_with;
use serde_json::Value;
use sqlx::any::AnyPoolOptions;

/// Creates the database as the first release left it, with two accounts,
/// a session for the second and a few messages; returns its URL and the
/// session cookie.
async fn database_before_rooms(dir: &std::path::Path) -> (String, String) {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/old.db?mode=rwc", dir.display());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let mut first_only = sqlx::migrate!("migrations/sqlite");
    first_only.migrations = Cow::Owned(first_only.migrations[..1].to_vec());
    first_only.run(&pool).await.unwrap();
    for (id, name) in [(1, "founder"), (2, "later")] {
        sqlx::query(
            "INSERT INTO users (id, username, username_key, password_hash, created_at) \
             VALUES ($1, $2, $2, 'x', $3)",
        )
        .bind(id)
        .bind(name)
        .bind(1_700_000_000_000_i64 + id)
        .execute(&pool)
        .await
        .unwrap();
    }
    let token = "upgrade-test-session-token";
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) \
         VALUES ($1, 2, 'csrf', $2, $2)",
    )
    .bind(secret::hash_token(token))
    .bind(chatroom::db::now_ms())
    .execute(&pool)
    .await
    .unwrap();
    for text in ["the old pelican story", "nothing to see"] {
        sqlx::query(
            "INSERT INTO messages (room, author_id, text, created_at) VALUES ('global', 1, $1, 1)",
        )
        .bind(text)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    (url, format!("chatroom_session={token}"))
}

#[tokio::test]
async fn a_database_from_before_rooms_upgrades_in_place() {
    if common::on_postgres() {
        return; // the upgrade path checked here is SQLite's file
    }
    let dir = tempfile::tempdir().unwrap();
    let (url, cookie) = database_before_rooms(dir.path()).await;
    let app = spawn_with(|c| c.database_url = url.clone()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(app.url(path)).header("cookie", &cookie).send();

    let me: Value = get("/api/v1/me").await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["username"], "later");
    assert_eq!(me["user"]["is_admin"], false);
    let founder: Value = get("/api/v1/users/founder")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        founder["user"]["is_admin"], true,
        "the oldest account moderates"
    );

    let found: Value = get("/api/v1/search?q=pelic")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = found["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["the old pelican story"], "old messages are indexed");

    let history: Value = get("/api/v1/rooms/global/messages")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old = &history["messages"][0];
    assert_eq!(old["text"], "the old pelican story");
    assert_eq!(old["deleted"], false);
    assert_eq!(old["edited_at"], Value::Null);
    assert_eq!(old["reactions"], serde_json::json!([]));
}
