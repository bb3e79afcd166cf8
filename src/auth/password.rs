//! Argon2id password hashing, always off the async reactor.
//!
//! Each hash needs a 19 MiB work area. Allocating it afresh per hash inside
//! `spawn_blocking` leaves it in glibc's per-thread malloc arenas (the dynamic
//! mmap threshold rises past 19 MiB after the first free), which are never
//! given back: a server grew from 15 MB to ~490 MB RSS over 200 logins. So the
//! work areas are pooled instead: allocated lazily, at most one per hashing
//! slot, and reused for every hash and verification.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Blocks in a pooled work area: enough for the default parameters.
const POOLED_BLOCKS: usize = Params::DEFAULT.block_count();

/// Idle work areas. Concurrency is bounded by [`hashing_slots`], so no more
/// areas are ever allocated than there are slots (plus the warm-up's).
fn idle_work_areas() -> &'static Mutex<Vec<Box<[Block]>>> {
    static IDLE: OnceLock<Mutex<Vec<Box<[Block]>>>> = OnceLock::new();
    IDLE.get_or_init(|| Mutex::new(Vec::new()))
}

fn allocate_blocks(count: usize) -> anyhow::Result<Box<[Block]>> {
    let mut blocks = Vec::new();
    blocks
        .try_reserve_exact(count)
        .map_err(|e| anyhow::anyhow!("argon2 work area of {count} KiB: {e}"))?;
    blocks.resize(count, Block::new());
    Ok(blocks.into_boxed_slice())
}

/// A work area taken from the pool; goes back to it when dropped.
struct PooledWorkArea(Option<Box<[Block]>>);

impl PooledWorkArea {
    fn take() -> anyhow::Result<Self> {
        let idle = idle_work_areas()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let area = match idle {
            Some(area) => area,
            None => allocate_blocks(POOLED_BLOCKS)?,
        };
        Ok(Self(Some(area)))
    }

    fn blocks(&mut self) -> &mut [Block] {
        self.0.as_deref_mut().unwrap_or_default()
    }
}

impl Drop for PooledWorkArea {
    fn drop(&mut self) {
        if let Some(area) = self.0.take() {
            idle_work_areas()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(area);
        }
    }
}

/// Runs Argon2 into `out` with a pooled work area, or, when the parameters
/// need more memory than a pooled area holds (an old hash with a higher
/// `m`), with one allocated for this call only.
fn hash_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let needed = argon2.params().block_count();
    let argon2_err = |e: argon2::Error| anyhow::anyhow!("argon2: {e}");
    if needed > POOLED_BLOCKS {
        let mut blocks = allocate_blocks(needed)?;
        return argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..])
            .map_err(argon2_err);
    }
    let mut area = PooledWorkArea::take()?;
    let blocks = area
        .blocks()
        .get_mut(..needed)
        .context("argon2 work area too small")?;
    argon2
        .hash_password_into_with_memory(password, salt, out, blocks)
        .map_err(argon2_err)
}

/// Hashes with `Argon2::default()` (Argon2id v19, m = 19 MiB, t = 2, p = 1)
/// and a fresh 16-byte salt; returns the PHC string.
fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let argon2 = Argon2::default();
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| anyhow::anyhow!("salt generation: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(&argon2, password, &salt, &mut out)?;
    let phc_err = |e: argon2::password_hash::phc::Error| anyhow::anyhow!("PHC encoding: {e}");
    let hash = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|e| anyhow::anyhow!("PHC params: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(phc_err)?),
        hash: Some(Output::new(&out).map_err(phc_err)?),
    };
    Ok(hash.to_string())
}

/// Recomputes the hash of `password` with the stored PHC string's own
/// algorithm, version, parameters, salt and output length, and compares in
/// constant time. Anything unparsable is simply `false`.
fn verify_blocking(password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    // Takes the output length from the stored hash.
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    if hash_into(&argon2, password, salt, out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(out).is_ok_and(|computed| computed == *expected)
}

/// Hashes with Argon2id (m = 19 MiB, t = 2, p = 1) and a fresh salt; returns
/// the PHC string.
#[tracing::instrument(skip_all)]
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    run_hashing(move || hash_blocking(password.as_bytes())).await?
}

/// Checks a password against a stored PHC string. With `None` (unknown user)
/// a dummy hash is checked, so the answer takes as long either way.
#[tracing::instrument(skip_all)]
pub async fn verify_password(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    run_hashing(move || {
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        verify_blocking(password.as_bytes(), stored)
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(b"an unguessable dummy password for timing").unwrap_or_default()
    })
}

/// Computes the dummy hash ahead of the first login.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{CustomizedPasswordHasher, PasswordHasher, PasswordVerifier};

    const PASSWORD: &str = "correct horse battery staple 42";

    #[tokio::test]
    async fn round_trip() -> anyhow::Result<()> {
        let hash = hash_password(PASSWORD.to_owned()).await?;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(PASSWORD.to_owned(), Some(hash)).await?);
        Ok(())
    }

    #[tokio::test]
    async fn wrong_password_is_false() -> anyhow::Result<()> {
        let hash = hash_password(PASSWORD.to_owned()).await?;
        assert!(!verify_password("correct horse battery staple 43".to_owned(), Some(hash)).await?);
        Ok(())
    }

    #[tokio::test]
    async fn unknown_user_is_false() -> anyhow::Result<()> {
        assert!(!verify_password(PASSWORD.to_owned(), None).await?);
        Ok(())
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_false() -> anyhow::Result<()> {
        let good = hash_password(PASSWORD.to_owned()).await?;
        let truncated = good[..good.len() - 10].to_owned();
        let no_hash = good
            .rsplit_once('$')
            .map(|(head, _)| head.to_owned())
            .unwrap_or_default();
        for stored in [
            String::new(),
            "not a hash".to_owned(),
            "$argon2id$".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1".to_owned(),
            no_hash,
            truncated,
            good.replace("$v=19$", "$v=99$"),
            good.replace("m=19456", "m=1"),
            good.replace("m=19456", "m=banana"),
            good.replace("$argon2id$", "$scrypt$"),
            format!("{good}$trailing"),
        ] {
            assert!(
                !verify_password(PASSWORD.to_owned(), Some(stored.clone())).await?,
                "{stored:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn hashes_from_the_crate_verify() -> anyhow::Result<()> {
        let hash = Argon2::default()
            .hash_password(PASSWORD.as_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string();
        assert!(verify_blocking(PASSWORD.as_bytes(), &hash));
        assert!(!verify_blocking(b"something else", &hash));
        Ok(())
    }

    #[test]
    fn our_hashes_verify_with_the_crate() -> anyhow::Result<()> {
        let hash = hash_blocking(PASSWORD.as_bytes())?;
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("{e}"))?;
        assert!(Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"something else", &parsed)
            .is_err());
        Ok(())
    }

    #[test]
    fn reused_work_areas_give_the_crate_s_answer() -> anyhow::Result<()> {
        // The same pooled area, dirtied by earlier hashes, must not leak into
        // later ones.
        let salt = b"0123456789abcdef";
        for password in ["first", "second", "third"] {
            let expected = Argon2::default()
                .hash_password_with_salt(password.as_bytes(), salt)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .to_string();
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            hash_into(&Argon2::default(), password.as_bytes(), salt, &mut out)?;
            assert!(expected.ends_with(
                &Output::new(&out)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .to_string()
            ));
            assert!(verify_blocking(password.as_bytes(), &expected));
        }
        Ok(())
    }

    fn crate_hash(params: Params) -> anyhow::Result<String> {
        Ok(Argon2::default()
            .hash_password_with_params(PASSWORD.as_bytes(), b"some salt bytes!", params)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string())
    }

    #[test]
    fn non_default_params_verify() -> anyhow::Result<()> {
        let cases = [
            Params::new(8192, 1, 1, None),
            Params::new(8192, 1, 2, Some(16)),
            Params::new(19 * 1024, 2, 1, Some(64)),
            // More memory than a pooled work area: allocated for the call.
            Params::new(32 * 1024, 1, 1, None),
        ];
        for params in cases {
            let params = params.map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = crate_hash(params)?;
            assert!(verify_blocking(PASSWORD.as_bytes(), &hash), "{hash}");
            assert!(!verify_blocking(b"something else", &hash), "{hash}");
        }
        let hash = crate_hash(Params::new(8192, 1, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?)?;
        assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
        Ok(())
    }

    #[test]
    fn other_variants_verify() -> anyhow::Result<()> {
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let hash = Argon2::new(algorithm, Version::V0x10, Params::default())
                .hash_password(PASSWORD.as_bytes())
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .to_string();
            assert!(verify_blocking(PASSWORD.as_bytes(), &hash), "{hash}");
            assert!(!verify_blocking(b"something else", &hash), "{hash}");
        }
        Ok(())
    }
}
