//! Rate limits: sliding-window counters for login, registration, recovery
//! and mail (shared through Redis when several instances run), and token
//! buckets for chat writes.
//!
//! Every window limit is counted *before* the work it guards: `acquire`
//! checks and records one attempt in a single step (under one lock, or in
//! one Redis script), so requests already in flight cannot all pass. Work
//! that turns out not to count (a successful login) gives its attempt back
//! with `release`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::error::AppError;

/// At most `max` events per `window` per key.
#[derive(Debug)]
pub struct WindowLimiter {
    max: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl WindowLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        WindowLimiter {
            max: max as usize,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one event for the key, unless it already used its allowance:
    /// then `Err(wait)` and nothing is counted. Check and count are one step.
    pub fn acquire(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut events = self.lock();
        if events.len() > 100_000 {
            let window = self.window;
            events.retain(|_, log| {
                Self::expire(log, now, window);
                !log.is_empty()
            });
        }
        let log = events.entry(key.to_owned()).or_default();
        Self::expire(log, now, self.window);
        if log.len() >= self.max {
            let oldest = log.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now - oldest));
        }
        log.push_back(now);
        Ok(())
    }

    /// Gives back the key's newest event (an attempt that did not count).
    pub fn release(&self, key: &str) {
        let mut events = self.lock();
        if let Some(log) = events.get_mut(key) {
            log.pop_back();
            if log.is_empty() {
                events.remove(key);
            }
        }
    }

    /// Forgets the key's events.
    pub fn reset(&self, key: &str) {
        self.lock().remove(key);
    }

    fn expire(log: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
    }
}

/// A token bucket: `rate` per second sustained, up to `burst` at once.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            updated: Instant::now(),
        }
    }

    /// Whether the bucket is back to its full burst (as good as new).
    pub fn is_full(&self) -> bool {
        let elapsed = self.updated.elapsed().as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Counts one attempt when the key is under its allowance; answers the
/// remaining window in milliseconds (negative) when it is not. One script,
/// so concurrent callers on every instance are counted in one order.
const ACQUIRE_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return -ttl
end
return n
";

/// Gives one attempt back (never below zero).
const RELEASE_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
";

/// A window limit that holds across instances when Redis is configured
/// (a fixed-window counter per key), and in-process otherwise. Should Redis
/// fail, the in-process limiter takes over rather than letting everything pass.
#[derive(Debug)]
pub struct SharedLimiter {
    name: &'static str,
    max: u32,
    window: Duration,
    local: WindowLimiter,
    redis: Option<redis::aio::ConnectionManager>,
    prefix: String,
}

impl SharedLimiter {
    pub fn new(name: &'static str, max: u32, window: Duration, cluster: Option<&Cluster>) -> Self {
        SharedLimiter {
            name,
            max,
            window,
            local: WindowLimiter::new(max, window),
            redis: cluster.map(|c| c.conn.clone()),
            prefix: cluster.map(|c| c.prefix.clone()).unwrap_or_default(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:rl:{}:{key}", self.prefix, self.name)
    }

    /// Counts one attempt for the key, or answers `Err(wait)` (and counts
    /// nothing) when the key already used its allowance.
    pub async fn acquire(&self, key: &str) -> Result<(), Duration> {
        let Some(conn) = &self.redis else {
            return self.local.acquire(key);
        };
        let mut conn = conn.clone();
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let reply: redis::RedisResult<i64> = redis::Script::new(ACQUIRE_SCRIPT)
            .key(self.key(key))
            .arg(self.max)
            .arg(window_ms)
            .invoke_async(&mut conn)
            .await;
        match reply {
            Ok(n) if n < 0 => Err(Duration::from_millis(n.unsigned_abs())),
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, limit = self.name, "redis unavailable; limiting locally");
                self.local.acquire(key)
            }
        }
    }

    /// [`acquire`](Self::acquire), as the error every route answers.
    pub async fn take(&self, key: &str) -> Result<(), AppError> {
        self.acquire(key)
            .await
            .map_err(|retry_after| AppError::RateLimited { retry_after })
    }

    /// Gives back one attempt counted by `acquire` (it did not count after all).
    pub async fn release(&self, key: &str) {
        let Some(conn) = &self.redis else {
            return self.local.release(key);
        };
        let mut conn = conn.clone();
        let reply: redis::RedisResult<i64> = redis::Script::new(RELEASE_SCRIPT)
            .key(self.key(key))
            .invoke_async(&mut conn)
            .await;
        if let Err(err) = reply {
            tracing::warn!(error = %err, limit = self.name, "redis unavailable");
            self.local.release(key);
        }
    }

    /// Forgets the key's events.
    pub async fn reset(&self, key: &str) {
        self.local.reset(key);
        if let Some(conn) = &self.redis {
            let mut conn = conn.clone();
            let reply: redis::RedisResult<()> = redis::cmd("DEL")
                .arg(self.key(key))
                .query_async(&mut conn)
                .await;
            if let Err(err) = reply {
                tracing::warn!(error = %err, limit = self.name, "redis unavailable");
            }
        }
    }
}

/// Public rooms one account may create per hour.
pub const ROOMS_PER_HOUR: u32 = 30;

/// Attachments one account may upload per ten minutes.
pub const UPLOADS_PER_TEN_MINUTES: u32 = 60;

/// Verification mails one account may cause per hour.
pub const VERIFY_MAILS_PER_ACCOUNT: u32 = 5;
/// Verification mails one address may receive per hour, from all accounts.
pub const VERIFY_MAILS_PER_ADDRESS: u32 = 3;

/// Every limit the server enforces.
#[derive(Debug)]
pub struct RateLimits {
    /// Failed logins per client address.
    pub login_failures_ip: SharedLimiter,
    /// Failed logins per account, from any address.
    pub login_failures_account: SharedLimiter,
    /// Failed logins per trusted device (a `chatroom_device` token of the
    /// account), which are judged by this limit alone.
    pub login_failures_device: SharedLimiter,
    /// Current-password checks (password, email, deletion) per session.
    pub password_checks_session: SharedLimiter,
    /// Registrations per client address.
    pub register_ip: SharedLimiter,
    /// Recovery requests per client address.
    pub forgot_ip: SharedLimiter,
    /// Recovery requests per email address.
    pub forgot_email: SharedLimiter,
    /// Public rooms created per account.
    pub room_create_account: SharedLimiter,
    /// Verification mails per account.
    pub verify_mail_account: SharedLimiter,
    /// Attachment uploads per account.
    pub upload_account: SharedLimiter,
    /// Verification mails per recipient address (its comparison key).
    pub verify_mail_address: SharedLimiter,
}

impl RateLimits {
    pub fn new(login_limit: u32, register_limit: u32, cluster: Option<&Cluster>) -> Self {
        let quarter = Duration::from_secs(15 * 60);
        let hour = Duration::from_secs(3600);
        RateLimits {
            login_failures_ip: SharedLimiter::new("login_ip", login_limit, quarter, cluster),
            login_failures_account: SharedLimiter::new(
                "login_account",
                login_limit,
                quarter,
                cluster,
            ),
            login_failures_device: SharedLimiter::new(
                "login_device",
                login_limit,
                quarter,
                cluster,
            ),
            password_checks_session: SharedLimiter::new(
                "password_check_session",
                login_limit,
                quarter,
                cluster,
            ),
            register_ip: SharedLimiter::new("register_ip", register_limit, hour, cluster),
            forgot_ip: SharedLimiter::new("forgot_ip", 10, hour, cluster),
            forgot_email: SharedLimiter::new("forgot_email", 3, hour, cluster),
            room_create_account: SharedLimiter::new("room_create", ROOMS_PER_HOUR, hour, cluster),
            verify_mail_account: SharedLimiter::new(
                "verify_account",
                VERIFY_MAILS_PER_ACCOUNT,
                hour,
                cluster,
            ),
            upload_account: SharedLimiter::new(
                "upload_account",
                UPLOADS_PER_TEN_MINUTES,
                Duration::from_secs(600),
                cluster,
            ),
            verify_mail_address: SharedLimiter::new(
                "verify_address",
                VERIFY_MAILS_PER_ADDRESS,
                hour,
                cluster,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_blocks_after_max_and_reports_wait() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.acquire("a").is_ok());
        assert!(limiter.acquire("a").is_ok());
        let wait = limiter.acquire("a").unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limiter.acquire("b").is_ok(), "keys are independent");
        limiter.reset("a");
        assert!(limiter.acquire("a").is_ok());
    }

    #[test]
    fn window_forgets_old_events() {
        let limiter = WindowLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.acquire("a").is_ok());
        assert!(limiter.acquire("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.acquire("a").is_ok());
    }

    #[test]
    fn a_released_attempt_is_given_back() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.acquire("a").is_ok());
        assert!(limiter.acquire("a").is_ok());
        limiter.release("a");
        assert!(limiter.acquire("a").is_ok());
        assert!(limiter.acquire("a").is_err());
        limiter.release("never-used");
    }

    #[test]
    fn concurrent_attempts_never_pass_the_limit() {
        let limiter = std::sync::Arc::new(WindowLimiter::new(20, Duration::from_secs(60)));
        let threads: Vec<_> = (0..60)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || limiter.acquire("k").is_ok())
            })
            .collect();
        let passed = threads
            .into_iter()
            .map(|t| t.join().unwrap_or(false))
            .filter(|ok| *ok)
            .count();
        assert_eq!(passed, 20);
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let mut bucket = TokenBucket::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(bucket.take().is_ok());
        }
        assert!(bucket.take().is_err());
    }
}
