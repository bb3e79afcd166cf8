//! In-process rate limits: sliding-window counters for login, registration
//! and recovery, and token buckets for chat messages.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;

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

    /// `Err(wait)` when the key already used its allowance.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let Some(log) = events.get_mut(key) else {
            return Ok(());
        };
        Self::expire(log, now, self.window);
        if log.len() >= self.max {
            let oldest = log.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now - oldest));
        }
        Ok(())
    }

    /// Counts one event for the key.
    pub fn record(&self, key: &str) {
        let now = Instant::now();
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() > 100_000 {
            let window = self.window;
            events.retain(|_, log| {
                Self::expire(log, now, window);
                !log.is_empty()
            });
        }
        let log = events.entry(key.to_owned()).or_default();
        Self::expire(log, now, self.window);
        log.push_back(now);
    }

    /// Checks, then counts: for limits on attempts rather than failures.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        self.check(key)?;
        self.record(key);
        Ok(())
    }

    /// Forgets the key's events.
    pub fn reset(&self, key: &str) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.remove(key);
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

    /// `Err(wait)` when the key already used its allowance.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        let Some(conn) = &self.redis else {
            return self.local.check(key);
        };
        let mut conn = conn.clone();
        let redis_key = self.key(key);
        let reply: redis::RedisResult<(Option<u32>, i64)> = redis::pipe()
            .get(&redis_key)
            .pttl(&redis_key)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok((Some(count), ttl)) if count >= self.max => {
                Err(Duration::from_millis(ttl.max(1000) as u64))
            }
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::warn!(error = %err, limit = self.name, "redis unavailable; limiting locally");
                self.local.check(key)
            }
        }
    }

    /// Counts one event for the key.
    pub async fn record(&self, key: &str) {
        self.local.record(key);
        let Some(conn) = &self.redis else { return };
        let mut conn = conn.clone();
        let redis_key = self.key(key);
        let window_ms = self.window.as_millis() as i64;
        let reply: redis::RedisResult<()> = redis::pipe()
            .incr(&redis_key, 1)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&redis_key)
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .query_async(&mut conn)
            .await;
        if let Err(err) = reply {
            tracing::warn!(error = %err, limit = self.name, "redis unavailable; counted locally");
        }
    }

    /// Checks, then counts.
    pub async fn hit(&self, key: &str) -> Result<(), Duration> {
        self.check(key).await?;
        self.record(key).await;
        Ok(())
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

/// Every limit the server enforces.
#[derive(Debug)]
pub struct RateLimits {
    /// Failed logins per client address.
    pub login_failures_ip: SharedLimiter,
    /// Failed logins per account, from any address.
    pub login_failures_account: SharedLimiter,
    /// Registrations per client address.
    pub register_ip: SharedLimiter,
    /// Recovery requests per client address.
    pub forgot_ip: SharedLimiter,
    /// Recovery requests per email address.
    pub forgot_email: SharedLimiter,
    /// Public rooms created per account.
    pub room_create_account: SharedLimiter,
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
            register_ip: SharedLimiter::new("register_ip", register_limit, hour, cluster),
            forgot_ip: SharedLimiter::new("forgot_ip", 10, hour, cluster),
            forgot_email: SharedLimiter::new("forgot_email", 3, hour, cluster),
            room_create_account: SharedLimiter::new("room_create", ROOMS_PER_HOUR, hour, cluster),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_blocks_after_max_and_reports_wait() {
        let limiter = WindowLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_ok());
        let wait = limiter.hit("a").unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limiter.hit("b").is_ok(), "keys are independent");
        limiter.reset("a");
        assert!(limiter.hit("a").is_ok());
    }

    #[test]
    fn window_forgets_old_events() {
        let limiter = WindowLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.hit("a").is_ok());
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
