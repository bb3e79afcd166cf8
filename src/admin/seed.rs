//! `chatroom seed-users`: creates many accounts at once (load tests, demos).
//! All of them share one password, hashed once with Argon2id.

use crate::auth::password::hash_password;
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
    let last = format!("{prefix}{}", count.saturating_sub(1));
    Username::parse(&format!("{prefix}0"))
        .map_err(|e| SeedError::Username(format!("{prefix}0"), e))?;
    Username::parse(&last).map_err(|e| SeedError::Username(last.clone(), e))?;
    let password = Password::parse(password, prefix).map_err(SeedError::Password)?;
    let hash = hash_password(password.expose().to_owned()).await?;
    let mut created = 0;
    for i in 0..count {
        match users::create(db, &format!("{prefix}{i}"), &hash, None).await {
            Ok(_) => created += 1,
            Err(UserWriteError::UsernameTaken) => {}
            Err(UserWriteError::EmailTaken) => {}
            Err(UserWriteError::Db(err)) => return Err(err.into()),
        }
    }
    Ok(created)
}
