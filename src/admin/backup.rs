//! `chatroom backup FILE` and `chatroom restore FILE` for SQLite. A backup
//! is taken online (`VACUUM INTO`: one consistent snapshot while the server
//! keeps writing); a restore checks the file and puts it in place of the
//! database, only while no server holds it. PostgreSQL is backed up with
//! its own tools (docs/deploy.md).

use std::path::{Path, PathBuf};

use sqlx::Connection;

use crate::db::{self, Db};

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("CHATROOM_DATABASE_URL is not a SQLite file; back PostgreSQL up with pg_dump and pg_restore (docs/deploy.md)")]
    NotSqlite,
    #[error("{0} exists already; choose a new file")]
    Exists(PathBuf),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is in use by a running chatroom server; stop it first")]
    InUse(PathBuf),
    #[error("{0} is not a chatroom backup: {1}")]
    Invalid(PathBuf, String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("database: {0}")]
    Db(String),
}

impl From<sqlx::Error> for BackupError {
    fn from(err: sqlx::Error) -> Self {
        BackupError::Db(err.to_string())
    }
}

impl From<db::ConnectError> for BackupError {
    fn from(err: db::ConnectError) -> Self {
        BackupError::Db(err.to_string())
    }
}

/// Copies the configured SQLite database into `file`, consistently, while
/// servers run; returns the copy's size in bytes.
pub async fn backup(database_url: &str, file: &Path) -> Result<u64, BackupError> {
    db::sqlite_path(database_url).ok_or(BackupError::NotSqlite)?;
    if file.exists() {
        return Err(BackupError::Exists(file.to_path_buf()));
    }
    let target = file.to_str().ok_or_else(|| {
        BackupError::Invalid(file.to_path_buf(), "the path is not valid UTF-8".into())
    })?;
    let source = Db::connect(database_url).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&source.pool)
        .await?;
    source.pool.close().await;
    let size = std::fs::metadata(file)
        .map_err(|e| BackupError::Io(file.to_path_buf(), e))?
        .len();
    Ok(size)
}

/// Checks that `file` is a sound chatroom database (integrity, our
/// migrations, the accounts table).
async fn check(file: &Path) -> Result<(), BackupError> {
    let invalid = |why: String| BackupError::Invalid(file.to_path_buf(), why);
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", file.display());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    if integrity != "ok" {
        return Err(invalid(format!("integrity check: {integrity}")));
    }
    let (migrations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| invalid("it holds no chatroom migrations".into()))?;
    if migrations == 0 {
        return Err(invalid("it holds no chatroom migrations".into()));
    }
    sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| invalid("it has no accounts table".into()))?;
    conn.close().await.map_err(|e| invalid(e.to_string()))?;
    Ok(())
}

/// Puts the backup `file` in place of the configured SQLite database; the
/// next server start migrates it if it is older.
pub async fn restore(database_url: &str, file: &Path) -> Result<(), BackupError> {
    let database = db::sqlite_path(database_url).ok_or(BackupError::NotSqlite)?;
    if !file.exists() {
        return Err(BackupError::Missing(file.to_path_buf()));
    }
    let _lock = match db::lock_sqlite(database_url) {
        Ok(lock) => lock,
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
            return Err(BackupError::InUse(database));
        }
        Err(err) => return Err(BackupError::Io(database, err)),
    };
    check(file).await?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| BackupError::Io(path, e)
    };
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // Copy beside the database, then swap in one rename.
    let staged = database.with_extension("restoring");
    std::fs::copy(file, &staged).map_err(io(&staged))?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(io(&staged))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = database.clone().into_os_string();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side).map_err(io(&side))?;
        }
    }
    std::fs::rename(&staged, &database).map_err(io(&database))?;
    Ok(())
}
