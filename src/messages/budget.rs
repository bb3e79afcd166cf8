//! The per-account budget of broadcast writes: posting, editing, deleting
//! and reacting all take from it, over REST and the socket alike, so no
//! path floods a conversation faster than another.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::rate_limit::TokenBucket;
use crate::error::AppError;

/// Token buckets by account.
pub struct Budget {
    rate: f64,
    buckets: Mutex<HashMap<i64, TokenBucket>>,
}

impl Budget {
    /// `rate` writes per second sustained, bursts of `max(10, 5 × rate)`.
    pub fn new(rate: f64) -> Self {
        Budget {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one write from the account's budget (check and take are one
    /// step), or answers `rate_limited` with the wait.
    pub fn take(&self, user_id: i64) -> Result<(), AppError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets are the same as absent ones.
            buckets.retain(|_, bucket| !bucket.is_full());
        }
        let rate = self.rate;
        buckets
            .entry(user_id)
            .or_insert_with(|| TokenBucket::new(rate, (rate * 5.0).max(10.0)))
            .take()
            .map_err(|retry_after| AppError::RateLimited { retry_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_shared_by_every_write_of_an_account() {
        let budget = Budget::new(1.0);
        for _ in 0..10 {
            assert!(budget.take(7).is_ok());
        }
        assert!(matches!(budget.take(7), Err(AppError::RateLimited { .. })));
        assert!(budget.take(8).is_ok(), "accounts are independent");
    }
}
