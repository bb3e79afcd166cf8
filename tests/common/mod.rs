//! Test support: a real server on an ephemeral port with a fresh database,
//! a cookie-keeping HTTP client, and a Socket.IO client.
#![allow(dead_code)]

pub mod process;
pub mod rooms;
pub mod sio;
pub mod smtp;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chatroom::config::{Config, LogFormat};
use chatroom::Application;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

/// A strong password accepted by the rules.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    pub state: chatroom::state::AppState,
    server: tokio::task::JoinHandle<()>,
    schema: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        // The server's background tasks (writer, sweeps, workers) hold the
        // pool: close it, or every app a test starts keeps its connections
        // until the test ends (PostgreSQL allows only so many).
        let pool = self.state.db.pool.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { pool.close().await });
        }
        if let Some(schema) = self.schema.take() {
            drop_schema(schema);
        }
    }
}

/// Which database the suite runs on: `CHATROOM_TEST_DATABASE=postgres`
/// switches every test to PostgreSQL (a fresh schema per test).
pub fn on_postgres() -> bool {
    std::env::var("CHATROOM_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The PostgreSQL database tests create their schemas in.
pub fn postgres_base_url() -> String {
    std::env::var("CHATROOM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn with_search_path(base: &str, schema: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// Creates a fresh schema; returns its name and a URL that uses it.
pub async fn fresh_postgres_schema() -> (String, String) {
    let base = postgres_base_url();
    let schema = format!(
        "t{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("PostgreSQL for tests is reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await
    .expect("drop schema");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let url = with_search_path(&base, &schema);
    (schema, url)
}

/// Drops a test schema (blocking; safe to call from sync code).
pub fn drop_schema(schema: String) {
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            if let Ok(pool) = sqlx::PgPool::connect(&postgres_base_url()).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&pool)
                .await;
                pool.close().await;
            }
        });
    })
    .join();
}

/// Settings for a test server; tweak before [`spawn_with`].
pub fn test_config(data_dir: &std::path::Path) -> Config {
    Config {
        config: None,
        bind: "127.0.0.1:0".parse().expect("address"),
        public_url: None,
        database_url: database_url(data_dir),
        redis_url: None,
        redis_prefix: "chatroom".into(),
        smtp_url: None,
        mail_from: "chatroom <noreply@localhost>".into(),
        secure_cookies: None,
        chat_rate: 1000.0,
        login_limit: 20,
        register_limit: 1000,
        max_connections_per_ip: 256,
        socket_buffer: chatroom::live::delivery::SOCKET_BUFFER,
        sqlite_synchronous: chatroom::db::SqliteSync::Full,
        metrics_bind: None,
        drain_seconds: 0,
        max_upload: 26_214_400,
        upload_quota: 1_073_741_824,
        unsent_upload_seconds: 3600,
        missed_mail_delay: 600,
        log_format: LogFormat::Text,
    }
}

fn database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}/chatroom.db", data_dir.display())
}

/// Starts a server with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts a server after letting the test adjust its settings.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(data_dir.path());
    let mut schema = None;
    if on_postgres() {
        let (name, url) = fresh_postgres_schema().await;
        config.database_url = url;
        schema = Some(name);
    }
    adjust(&mut config);
    let app = Application::build(config).await.expect("server starts");
    let addr = app.addr();
    let state = app.state().clone();
    let server = tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        data_dir,
        state,
        server,
        schema,
    }
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh valid username.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{n}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that keeps cookies and does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A client whose requests look like they come from our own pages.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(&self.base).expect("origin"));
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub async fn post_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Registers a user with [`PASSWORD`]; returns the client signed in as them and the user JSON.
    pub async fn register(&self, username: &str) -> (reqwest::Client, Value) {
        let client = self.client();
        let response = self
            .post_json(
                &client,
                "/api/v1/auth/register",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), 201, "register {username}");
        let body: Value = response.json().await.expect("json");
        (client, body["user"].clone())
    }

    /// The session cookie a client holds, as `name=value`.
    pub async fn session_cookie(&self, username: &str) -> String {
        let client = self.client();
        let response = self
            .post_json(
                &client,
                "/api/v1/auth/login",
                json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), 200, "login {username}");
        cookie_from(&response).expect("session cookie")
    }

    /// Registers a user and returns their session cookie and id.
    pub async fn user_with_cookie(&self, prefix: &str) -> (String, i64, String) {
        let name = unique_name(prefix);
        let client = self.client();
        let response = self
            .post_json(
                &client,
                "/api/v1/auth/register",
                json!({ "username": name, "password": PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), 201);
        let cookie = cookie_from(&response).expect("cookie");
        let body: Value = response.json().await.expect("json");
        (name, body["user"]["id"].as_i64().expect("id"), cookie)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("chatroom.db")
    }
}

/// `chatroom_session=…` from a response's Set-Cookie.
pub fn cookie_from(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chatroom_session=") && !v.starts_with("chatroom_session=;"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Whether a service-dependent test must fail instead of skipping.
pub fn require_all() -> bool {
    std::env::var("CHATROOM_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Skips (loudly) or fails, depending on `CHATROOM_REQUIRE_ALL`.
pub fn skip_or_fail(what: &str) {
    if require_all() {
        panic!("{what} is unavailable and CHATROOM_REQUIRE_ALL=1");
    }
    eprintln!(
        "\n!!!!! SKIPPED: {what} is unavailable; set it up (see README) to run this test !!!!!\n"
    );
}
