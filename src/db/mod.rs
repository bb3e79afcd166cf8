//! Storage: one connection pool over SQLite or PostgreSQL, portable SQL, and
//! one module per table family. Handlers never write SQL themselves.

pub mod attachments;
pub mod avatars;
pub mod devices;
pub mod mail;
pub mod messages;
pub mod missed_mail;
pub mod mutes;
pub mod people;
pub mod reactions;
pub mod rooms;
pub mod search;
pub mod sessions;
pub mod threads;
pub mod tokens;
pub mod users;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How SQLite commits (`PRAGMA synchronous`): `Full` (the default) makes
/// every commit reach the disk before it is acknowledged, so an
/// acknowledged message survives a power loss; `Normal` survives a crash of
/// the process but may lose the last commits on power loss, for more
/// throughput on slow disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SqliteSync {
    #[default]
    Full,
    Normal,
}

/// The shared connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// `needle` with LIKE's wildcards (`%`, `_`) and its escape character (a
/// backslash) escaped, for `LIKE … ESCAPE` with a backslash.
fn like_escaped(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len());
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A LIKE pattern matching text that contains `needle` anywhere.
pub fn like_contains(needle: &str) -> String {
    format!("%{}%", like_escaped(needle))
}

/// A LIKE pattern matching text that starts with `needle`.
pub fn like_prefix(needle: &str) -> String {
    format!("{}%", like_escaped(needle))
}

/// `$first, $first+1, …` for `count` bound values (an `IN (…)` list).
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a transaction that writes begins. SQLite's default (deferred) starts
/// as a reader and fails at once with "database is locked" when another
/// connection commits before it writes (the busy timeout does not apply
/// to that upgrade); `BEGIN IMMEDIATE` takes the write lock first, waiting
/// up to the busy timeout. PostgreSQL's plain `BEGIN` is right there.
fn write_begin(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => Some("BEGIN IMMEDIATE"),
        Backend::Postgres => None,
    }
}

impl Db {
    /// A transaction that writes, on a connection of the pool.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match write_begin(self.backend) {
            Some(statement) => self.pool.begin_with(statement).await,
            None => self.pool.begin().await,
        }
    }
}

/// A transaction that writes, on a given connection.
pub async fn begin_write_on(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> sqlx::Result<sqlx::Transaction<'_, sqlx::Any>> {
    use sqlx::Connection;
    match write_begin(backend) {
        Some(statement) => conn.begin_with(statement).await,
        None => conn.begin().await,
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot create the data directory {0}: {1}")]
    Directory(PathBuf, std::io::Error),
    #[error("{0}")]
    Connect(#[from] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The file path of a `sqlite://` URL, or `None` for other URLs and in-memory databases.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

impl Db {
    /// Opens the pool (creating a SQLite file and its directory when missing)
    /// and applies the migrations; SQLite commits durably.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, SqliteSync::Full).await
    }

    /// [`connect`](Self::connect) with a chosen SQLite commit mode.
    pub async fn connect_with(url: &str, sync: SqliteSync) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url_with_create(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool_options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5));
        let pool_options = if backend == Backend::Sqlite {
            let pragmas = match sync {
                SqliteSync::Full => {
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
                }
                SqliteSync::Normal => {
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;"
                }
            };
            pool_options.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    conn.execute(pragmas).await?;
                    Ok(())
                })
            })
        } else {
            pool_options
        };
        let pool = pool_options.connect_with(options).await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Db { pool, backend })
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// Makes sure the SQLite file's directory exists and that the file is
/// created when missing.
fn sqlite_url_with_create(url: &str) -> Result<String, ConnectError> {
    if let Some(path) = sqlite_path(url) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ConnectError::Directory(dir.to_path_buf(), e))?;
        }
    }
    if url.contains("mode=") {
        return Ok(url.to_owned());
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}mode=rwc"))
}

/// For a SQLite database: an exclusive lock on `<file>.lock`, held by the
/// running server for as long as it runs (and by `restore` while it swaps
/// the file). `Ok(None)` for PostgreSQL; an error of kind `WouldBlock` when
/// someone holds it already.
pub fn lock_sqlite(url: &str) -> std::io::Result<Option<std::fs::File>> {
    let Some(path) = sqlite_path(url) else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.into_os_string();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::ErrorKind::WouldBlock.into()),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

/// Current time as unix milliseconds.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Formats unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// True when a query failed on a unique constraint.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db_err) => {
            db_err.is_unique_violation() || db_err.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
