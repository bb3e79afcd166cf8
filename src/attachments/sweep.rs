//! Every instance, every minute: uploads never sent are removed once they
//! are older than `CHATROOM_UNSENT_UPLOAD_SECONDS` (also those cut off
//! half-way by a crash), and claims of messages that were never stored are
//! released.

use std::time::Duration;

use crate::db::{attachments, now_ms};
use crate::state::AppState;

/// How often the sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// A claim older than this belongs to a message that was never stored.
const STALE_CLAIM_MS: i64 = 10 * 60 * 1000;
/// Uploads removed per round at most (the next round takes the rest).
const BATCH: i64 = 500;

/// Starts the sweep.
pub fn spawn_sweep(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep(&state).await {
                Ok((0, 0)) => {}
                Ok((removed, released)) => {
                    tracing::info!(removed, released, "unsent uploads swept")
                }
                Err(err) => tracing::warn!(error = %err, "attachment sweep failed"),
            }
        }
    });
}

/// One round: returns (uploads removed, claims released).
pub async fn sweep(state: &AppState) -> Result<(usize, u64), sqlx::Error> {
    let now = now_ms();
    let ttl_ms =
        i64::try_from(state.config.unsent_upload_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let released = attachments::release_stale_claims(&state.db, now - STALE_CLAIM_MS).await?;
    let old = attachments::unsent_before(&state.db, now.saturating_sub(ttl_ms), BATCH).await?;
    let removed = attachments::remove_unsent(&state.db, &old).await?;
    Ok((removed, released))
}
