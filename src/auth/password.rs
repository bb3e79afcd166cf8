//! Argon2id password hashing, always off the async reactor.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Bounds concurrent hashes so a login flood cannot take every core.
fn hashing_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores.max(1)))
    })
}

async fn run_hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = hashing_slots()
        .clone()
        .acquire_owned()
        .await
        .context("hashing pool closed")?;
    tokio::task::spawn_blocking(work)
        .await
        .context("hashing task failed")
}

/// Hashes with Argon2id (m = 19 MiB, t = 2, p = 1) and a fresh salt; returns
/// the PHC string.
#[tracing::instrument(skip_all)]
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    run_hashing(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC string. With `None` (unknown user)
/// a dummy hash is checked, so the answer takes as long either way.
#[tracing::instrument(skip_all)]
pub async fn verify_password(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    run_hashing(move || {
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"an unguessable dummy password for timing")
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

/// Computes the dummy hash ahead of the first login.
pub fn warm_up() {
    let _ = dummy_hash();
}
