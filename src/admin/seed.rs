//! `chatroom seed-users`: creates many accounts at once (load tests, demos).
//! All of them share one password, hashed once with Argon2id.

use crate::auth::password::hash_password;
use crate::auth::secret;
use crate::auth::session::COOKIE_NAME;
use crate::db::sessions;
use crate::db::users::{self, UserWriteError};
use crate::db::Db;
use crate::domain::{Password, Username};

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("username {0:?}: {1}")]
    Username(String, String),
    #[error("password: {0}")]
    Password(String),
    #[error(transparent)]
    Hash(#[from] anyhow::Error),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates `<prefix>0 … <prefix>{count-1}`; existing ones are left alone.
/// Returns how many were created.
pub async fn run(db: &Db, prefix: &str, count: u32, password: &str) -> Result<u32, SeedError> {
    let (created, _) = run_with_sessions(db, prefix, count, password, false).await?;
    Ok(created)
}

/// Like [`run`]; with `sessions`, also opens one session per account and
/// returns `(username, cookie)` pairs, so a load test can connect thousands
/// of users without thousands of password checks.
pub async fn run_with_sessions(
    db: &Db,
    prefix: &str,
    count: u32,
    password: &str,
    sessions: bool,
) -> Result<(u32, Vec<(String, String)>), SeedError> {
    let last = format!("{prefix}{}", count.saturating_sub(1));
    Username::parse(&format!("{prefix}0"))
        .map_err(|e| SeedError::Username(format!("{prefix}0"), e))?;
    Username::parse(&last).map_err(|e| SeedError::Username(last.clone(), e))?;
    let password = Password::parse(password, prefix).map_err(SeedError::Password)?;
    let hash = hash_password(password.expose().to_owned()).await?;
    let mut created = 0;
    let mut cookies = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}{i}");
        match users::create(db, &name, &hash, None).await {
            Ok(_) => created += 1,
            Err(UserWriteError::UsernameTaken) => {}
            Err(UserWriteError::EmailTaken) => {}
            Err(UserWriteError::Db(err)) => return Err(err.into()),
        }
        if sessions {
            if let Some(user) = users::find_by_username(db, &name).await? {
                let token = secret::random_token();
                sessions::create(
                    db,
                    user.id,
                    &secret::hash_token(&token),
                    &secret::random_token(),
                    "seed-users",
                )
                .await?;
                cookies.push((name, format!("{COOKIE_NAME}={token}")));
            }
        }
    }
    Ok((created, cookies))
}
