//! `churn`: clients whose connections drop — an instance restarted behind
//! the proxy, a Redis or PostgreSQL outage, or the client itself — reconnect
//! and catch up the way the protocol says (`history` with `after` = the last
//! id held, pages of 100 until a short one), and must end up holding every
//! acknowledged message.
//!
//! Each client keeps the ids it holds as a bit set above the newest id
//! stored before the run (`base`), and a watermark: the id up to which it
//! holds everything. While a connection is caught up, live deliveries (in id
//! order) move the watermark; after a drop it stays where it was until the
//! new connection's catch-up ends, so an interrupted catch-up starts again
//! from the right place. At the end every client catches up once more, and
//! `lost` counts, per client, the acknowledged ids it still does not hold.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use super::{
    closed_receiver, connect_with, latency_summary, message_id, now_us, sent_at, Client, Ctx,
    Emitter, Listener,
};

/// A page of `history` during catch-up.
const PAGE: usize = 100;
/// A send without an ack this long is refused.
const ACK_LIMIT: Duration = Duration::from_secs(5);
/// Connect attempts give up after this long (then back off and retry).
const CONNECT_LIMIT: Duration = Duration::from_secs(10);
/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Sends and drops up to this long after an outage's end (or until the
/// next one begins) are counted in it.
const WINDOW_TAIL: Duration = Duration::from_secs(10);
/// Ids further than this above the base are not tracked (a stray frame).
const MAX_TRACKED: i64 = 50_000_000;

pub struct Options {
    pub clients: usize,
    pub senders: usize,
    pub rate: f64,
    pub secs: u64,
    pub reconnect_ms: u64,
    pub drop_every_secs: Option<f64>,
    pub quiet_secs: u64,
    pub ready_file: Option<PathBuf>,
    pub events: Option<PathBuf>,
    pub details: Option<PathBuf>,
    /// The server's process id: its CPU time during the run is reported.
    pub server_pid: Option<u32>,
}

/// Message ids above a base, one bit each.
#[derive(Clone, Default)]
struct IdSet {
    base: i64,
    words: Vec<u64>,
}

impl IdSet {
    fn new(base: i64) -> Self {
        IdSet {
            base,
            words: Vec::new(),
        }
    }

    fn slot(&self, id: i64) -> Option<(usize, u32)> {
        if id <= self.base || id - self.base > MAX_TRACKED {
            return None;
        }
        let bit = (id - self.base - 1) as usize;
        Some((bit / 64, (bit % 64) as u32))
    }

    /// Adds an id; false when it was there already (or is not tracked).
    fn insert(&mut self, id: i64) -> bool {
        let Some((word, bit)) = self.slot(id) else {
            return false;
        };
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let had = self.words[word] & (1 << bit) != 0;
        self.words[word] |= 1 << bit;
        !had
    }

    fn contains(&self, id: i64) -> bool {
        self.slot(id)
            .is_some_and(|(word, bit)| self.words.get(word).is_some_and(|w| w & (1 << bit) != 0))
    }

    fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// The ids held here and not in `other` (same base).
    fn missing_from(&self, other: &IdSet) -> Vec<i64> {
        let mut missing = Vec::new();
        for (i, word) in self.words.iter().enumerate() {
            let mut left = word & !other.words.get(i).copied().unwrap_or(0);
            while left != 0 {
                let bit = left.trailing_zeros();
                missing.push(self.base + 1 + (i as i64) * 64 + i64::from(bit));
                left &= left - 1;
            }
        }
        missing
    }
}

/// What one client holds and how it got it.
#[derive(Default)]
struct Seen {
    got: IdSet,
    live: IdSet,
    /// The client holds every id up to here: its `after` for `history`.
    watermark: i64,
    /// Caught up on this connection: live deliveries move the watermark.
    synced: bool,
    /// Highest id delivered live on this connection (0 at connect).
    conn_last_live: i64,
    /// Live deliveries whose id was not above the previous one on the
    /// same connection.
    out_of_order: u64,
    /// An id delivered live twice.
    duplicate_live: u64,
    /// An id delivered live after history had brought it (harmless).
    live_after_history: u64,
    /// An id brought by history that the client held already (harmless).
    history_overlap: u64,
    /// Send → receipt of live deliveries, microseconds.
    latencies: Vec<u32>,
    /// Per second of the run (by send time): the slowest live delivery.
    slowest_by_sec: Vec<u32>,
}

/// The churn clients' [`Listener`].
struct Holder(Arc<Mutex<Seen>>);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Listener for Holder {
    fn message(&mut self, frame: &str) {
        let Some(id) = message_id(frame) else {
            return;
        };
        let latency = sent_at(frame).map(|sent| (sent, now_us().saturating_sub(sent)));
        let mut seen = lock(&self.0);
        if id <= seen.got.base {
            return;
        }
        if id <= seen.conn_last_live {
            seen.out_of_order += 1;
        } else {
            seen.conn_last_live = id;
        }
        let first_live = seen.live.insert(id);
        if !first_live {
            seen.duplicate_live += 1;
        }
        if !seen.got.insert(id) && first_live {
            seen.live_after_history += 1;
        }
        if seen.synced {
            seen.watermark = seen.watermark.max(id);
        }
        if let Some((sent, latency)) = latency {
            let latency = latency.min(u64::from(u32::MAX)) as u32;
            seen.latencies.push(latency);
            let sec = (sent / 1_000_000) as usize;
            if sec >= seen.slowest_by_sec.len() {
                seen.slowest_by_sec.resize(sec + 1, 0);
            }
            seen.slowest_by_sec[sec] = seen.slowest_by_sec[sec].max(latency);
        }
    }

    fn closed(&mut self) {}
}

/// One lost connection and how the client got back.
#[derive(Clone)]
struct Outage {
    /// When it was noticed (µs since the load generator started).
    at_us: u64,
    /// `server` (server or proxy closed it), `self` (`--drop-every-secs`).
    cause: &'static str,
    /// The watermark at the drop: `history` `after` for the catch-up.
    watermark: i64,
    upstream_before: Option<String>,
    upstream_after: Option<String>,
    /// Connect attempts (1 = the first one worked).
    attempts: u32,
    /// Catch-ups that failed (error, no answer, connection lost) and were
    /// started again on a new connection.
    catch_up_failures: u32,
    reconnected_us: u64,
    caught_up_us: u64,
    /// Messages the catch-up brought that the client did not hold.
    fetched: u64,
}

/// What a client task returns.
struct ClientReport {
    seen: Arc<Mutex<Seen>>,
    outages: Vec<Outage>,
    connect_failures: BTreeMap<String, u64>,
    /// The last catch-up, after the run: how long and how much.
    final_catch_up_us: u64,
    final_fetched: u64,
    final_ok: bool,
}

/// One send and what became of it.
struct Sent {
    sender: usize,
    seq: u64,
    sent_us: u64,
    done_us: u64,
    /// The message id when acknowledged, or why it was refused.
    outcome: Result<i64, String>,
    upstream: Option<String>,
}

/// Shared by every client task.
struct Shared {
    base_url: String,
    reconnect: Duration,
    drop_every: Option<Duration>,
    /// When sending started, and until when clients drop themselves.
    started: OnceLock<(Instant, Instant)>,
    /// Never signalled: the readers run until their connection ends.
    keep: watch::Receiver<bool>,
    connected: AtomicUsize,
    first_connects: Semaphore,
}

/// A connection that is up, for the sender sharing the client's socket.
type Slot = Arc<Mutex<Option<(Emitter, Option<String>)>>>;

fn classify(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    for (needle, name) in [
        ("unavailable", "connect_error_unavailable"),
        ("unauthenticated", "connect_error_unauthenticated"),
        ("502", "http_502"),
        ("503", "http_503"),
        ("504", "http_504"),
        ("refused", "tcp_refused"),
        ("timed out", "timeout"),
        ("closed", "closed_during_handshake"),
        ("reset", "reset"),
    ] {
        if text.contains(needle) {
            return name.to_owned();
        }
    }
    let mut other = text;
    other.truncate(80);
    format!("other: {other}")
}

/// Connects until it works, backing off while refused.
async fn reconnect(
    shared: &Shared,
    cookie: Option<&str>,
    seen: &Arc<Mutex<Seen>>,
    failures: &mut BTreeMap<String, u64>,
    attempts: &mut u32,
) -> Client<Holder> {
    let mut backoff = shared.reconnect.max(Duration::from_millis(10));
    loop {
        *attempts += 1;
        lock(seen).conn_last_live = 0;
        let attempt = connect_with(
            &shared.base_url,
            cookie,
            Holder(seen.clone()),
            shared.keep.clone(),
        );
        match tokio::time::timeout(CONNECT_LIMIT, attempt).await {
            Ok(Ok(client)) => return client,
            Ok(Err(err)) => *failures.entry(classify(&err)).or_default() += 1,
            Err(_) => *failures.entry("timeout".into()).or_default() += 1,
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `history` after the watermark, pages of 100 until a short one; then the
/// client is caught up. Returns how many messages it did not hold yet.
async fn catch_up(client: &Client<Holder>, seen: &Arc<Mutex<Seen>>) -> Result<u64, String> {
    let mut after = lock(seen).watermark;
    let mut fetched = 0;
    loop {
        let page = client
            .call_within(
                "history",
                json!({ "after": after, "limit": PAGE }),
                Duration::from_secs(10),
            )
            .await
            .ok_or_else(|| "no answer".to_owned())?;
        if page["ok"] != true {
            return Err(page["error"]["code"]
                .as_str()
                .unwrap_or("bad answer")
                .to_owned());
        }
        let messages = page["messages"].as_array().cloned().unwrap_or_default();
        let mut seen = lock(seen);
        for id in messages.iter().filter_map(|m| m["id"].as_i64()) {
            if seen.got.insert(id) {
                fetched += 1;
            } else if id > seen.got.base {
                seen.history_overlap += 1;
            }
            after = after.max(id);
        }
        // Pages are contiguous from the watermark: it moves with them.
        seen.watermark = seen.watermark.max(after);
        if messages.len() < PAGE {
            // Whatever came live on this connection is newer than the
            // history read before it or is in it; from now on live
            // deliveries, in id order, move the watermark.
            seen.watermark = seen.watermark.max(seen.conn_last_live);
            seen.synced = true;
            return Ok(fetched);
        }
    }
}

/// When this client drops its own connection next (`--drop-every-secs`):
/// a random moment in each window, counted from the start of sending.
struct DropPlan {
    every: Duration,
    rng: u64,
    /// The window already used.
    done_window: Option<u64>,
}

impl DropPlan {
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next drop at or after `now`, if sending is under way.
    fn next(&mut self, shared: &Shared, now: Instant) -> Option<Instant> {
        let &(start, until) = shared.started.get()?;
        if now >= until {
            return None;
        }
        let every = self.every.as_secs_f64();
        let mut window = (now.saturating_duration_since(start).as_secs_f64() / every) as u64;
        if self.done_window == Some(window) {
            window += 1;
        }
        loop {
            let at = start + Duration::from_secs_f64(every * (window as f64 + self.random()));
            if at >= until {
                return None;
            }
            if at >= now {
                self.done_window = Some(window);
                return Some(at);
            }
            window += 1;
        }
    }
}

async fn run_client(
    shared: Arc<Shared>,
    index: usize,
    cookie: Option<String>,
    slot: Slot,
    seen: Arc<Mutex<Seen>>,
    mut stop: watch::Receiver<bool>,
) -> ClientReport {
    let cookie = cookie.as_deref();
    let mut report = ClientReport {
        seen: seen.clone(),
        outages: Vec::new(),
        connect_failures: BTreeMap::new(),
        final_catch_up_us: 0,
        final_fetched: 0,
        final_ok: false,
    };
    let mut plan = shared.drop_every.map(|every| DropPlan {
        every,
        rng: 0x9e37_79b9_7f4a_7c15 ^ ((index as u64 + 1) * 0x2545_f491_4f6c_dd1d),
        done_window: None,
    });
    // First connection: a few at a time, caught up like any other.
    let mut conn = {
        let _permit = shared.first_connects.acquire().await;
        let mut attempts = 0;
        loop {
            let client = reconnect(
                &shared,
                cookie,
                &seen,
                &mut report.connect_failures,
                &mut attempts,
            )
            .await;
            if catch_up(&client, &seen).await.is_ok() {
                break client;
            }
            client.close();
        }
    };
    *lock(&slot) = Some((conn.sender(), conn.upstream.clone()));
    shared.connected.fetch_add(1, Ordering::Relaxed);
    'run: loop {
        // Connected and caught up: wait for the connection to drop.
        let cause = loop {
            let now = Instant::now();
            let planned = plan.as_mut().and_then(|p| p.next(&shared, now));
            let wake = planned.unwrap_or(now + Duration::from_secs(1));
            tokio::select! {
                _ = &mut conn.reader => break "server",
                _ = stop.changed() => break 'run,
                _ = tokio::time::sleep_until(wake.into()) => {
                    if planned.is_some() {
                        conn.close();
                        let _ = (&mut conn.reader).await;
                        break "self";
                    }
                    if let Some(p) = plan.as_mut() {
                        // Not armed yet (sending had not started): the
                        // window just looked at is still free.
                        p.done_window = None;
                    }
                }
            }
        };
        *lock(&slot) = None;
        let mut outage = {
            let mut seen = lock(&seen);
            seen.synced = false;
            Outage {
                at_us: now_us(),
                cause,
                watermark: seen.watermark,
                upstream_before: conn.upstream.clone(),
                upstream_after: None,
                attempts: 0,
                catch_up_failures: 0,
                reconnected_us: 0,
                caught_up_us: 0,
                fetched: 0,
            }
        };
        tokio::time::sleep(shared.reconnect).await;
        loop {
            conn = reconnect(
                &shared,
                cookie,
                &seen,
                &mut report.connect_failures,
                &mut outage.attempts,
            )
            .await;
            outage.reconnected_us = now_us();
            outage.upstream_after = conn.upstream.clone();
            *lock(&slot) = Some((conn.sender(), conn.upstream.clone()));
            match catch_up(&conn, &seen).await {
                Ok(fetched) => {
                    outage.fetched = fetched;
                    break;
                }
                Err(_) => {
                    outage.catch_up_failures += 1;
                    *lock(&slot) = None;
                    conn.close();
                    tokio::time::sleep(shared.reconnect).await;
                }
            }
        }
        outage.caught_up_us = now_us();
        report.outages.push(outage);
    }
    // After the run: catch up once more, on a new connection if need be.
    *lock(&slot) = None;
    let started = now_us();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The connection in hand was never waited for to its end.
    let mut reader_done = conn.reader.is_finished();
    loop {
        if reader_done {
            lock(&seen).synced = false;
            let mut attempts = 0;
            let attempt = reconnect(
                &shared,
                cookie,
                &seen,
                &mut report.connect_failures,
                &mut attempts,
            );
            match tokio::time::timeout_at(deadline.into(), attempt).await {
                Ok(client) => conn = client,
                Err(_) => break,
            }
        }
        match catch_up(&conn, &seen).await {
            Ok(fetched) => {
                report.final_fetched += fetched;
                report.final_ok = true;
                break;
            }
            Err(_) if Instant::now() < deadline => {
                conn.close();
                reader_done = true;
            }
            Err(_) => break,
        }
    }
    report.final_catch_up_us = now_us() - started;
    conn.close();
    report
}

/// Sends `interval` apart until `until` on whatever connection the client
/// has; records each send's fate.
async fn run_sender(
    sender: usize,
    slot: Slot,
    interval: Duration,
    until: Instant,
) -> (Vec<Sent>, u64) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut records = Vec::new();
    let mut skipped = 0;
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    let mut seq = 0u64;
    while Instant::now() < until {
        tokio::select! {
            _ = tick.tick() => {
                seq += 1;
                let connection = lock(&slot).clone();
                let Some((emitter, upstream)) = connection else {
                    // Reconnecting: a client cannot send now.
                    skipped += 1;
                    continue;
                };
                let sent_us = now_us();
                let data = json!({
                    "text": format!("b|{sender}.{seq}|{sent_us}"),
                    "client_id": format!("c{sender}-{seq}"),
                });
                let rx = emitter.emit("message", &data).unwrap_or_else(closed_receiver);
                inflight.push(async move {
                    let outcome = match tokio::time::timeout(ACK_LIMIT, rx).await {
                        Ok(Ok(ack)) if ack["ok"] == true => ack["message"]["id"]
                            .as_i64()
                            .ok_or_else(|| "ack without id".to_owned()),
                        Ok(Ok(ack)) => Err(ack["error"]["code"].as_str().unwrap_or("error").to_owned()),
                        Ok(Err(_)) => Err("connection_lost".to_owned()),
                        Err(_) => Err("no_ack_in_5s".to_owned()),
                    };
                    Sent { sender, seq, sent_us, done_us: now_us(), outcome, upstream }
                });
            }
            Some(record) = inflight.next(), if !inflight.is_empty() => records.push(record),
        }
    }
    while let Some(record) = inflight.next().await {
        records.push(record);
    }
    (records, skipped)
}

/// Reads `<unix ms> <name>` lines (written by the driving script).
fn read_events(path: &PathBuf, unix_ms_at_epoch: i64) -> Vec<(u64, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut events: Vec<(u64, String)> = text
        .lines()
        .filter_map(|line| {
            let (at, name) = line.trim().split_once(' ')?;
            let at: i64 = at.parse().ok()?;
            let rel_us = (at - unix_ms_at_epoch).max(0) as u64 * 1000;
            Some((rel_us, name.trim().to_owned()))
        })
        .collect();
    events.sort();
    events
}

/// Linux's `USER_HZ` (what `/proc/<pid>/stat` counts CPU time in).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// A process's user + system CPU time so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is
    // field 3, utime 14 and stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 10.0).round() / 10.0
}

fn summary_us(samples: Vec<u32>) -> Value {
    let mut summary = latency_summary(samples);
    if let Some(object) = summary.as_object_mut() {
        object.remove("p90_ms");
    }
    summary
}

/// The newest stored id (0 for none) and, when `all`, every stored message
/// above `after`: (id, text).
async fn audit(client: &Client<Holder>, after: i64) -> Result<Vec<(i64, String)>> {
    let mut stored = Vec::new();
    let mut after = after;
    loop {
        let page = client
            .call_within(
                "history",
                json!({ "after": after, "limit": PAGE }),
                Duration::from_secs(30),
            )
            .await
            .ok_or_else(|| anyhow!("history: no answer"))?;
        let messages = page["messages"]
            .as_array()
            .ok_or_else(|| anyhow!("history: {page}"))?;
        for message in messages {
            let id = message["id"].as_i64().unwrap_or(0);
            stored.push((id, message["text"].as_str().unwrap_or("").to_owned()));
            after = after.max(id);
        }
        if messages.len() < PAGE {
            return Ok(stored);
        }
    }
}

pub async fn churn(ctx: &Ctx, opts: Options) -> Result<Value> {
    if opts.senders == 0 || opts.senders > opts.clients || opts.rate <= 0.0 {
        return Err(anyhow!(
            "churn needs 1 ≤ senders ≤ clients and a rate above 0"
        ));
    }
    let unix_ms_at_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
        - (now_us() / 1000) as i64;
    let (_keep_tx, keep) = watch::channel(false);
    // The newest id before the run: everything above belongs to it.
    let probe_seen = Arc::new(Mutex::new(Seen::default()));
    let probe = connect_with(
        &ctx.base,
        ctx.cookie(0),
        Holder(probe_seen.clone()),
        keep.clone(),
    )
    .await
    .context("first connection")?;
    let newest = probe
        .call_within("history", json!({ "limit": 1 }), Duration::from_secs(10))
        .await
        .ok_or_else(|| anyhow!("history: no answer"))?;
    let base = newest["messages"][0]["id"].as_i64().unwrap_or(0);
    probe.close();

    let shared = Arc::new(Shared {
        base_url: ctx.base.clone(),
        reconnect: Duration::from_millis(opts.reconnect_ms),
        drop_every: opts
            .drop_every_secs
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64),
        started: OnceLock::new(),
        keep,
        connected: AtomicUsize::new(0),
        first_connects: Semaphore::new(64),
    });
    let (stop_tx, stop) = watch::channel(false);
    let connect_started = Instant::now();
    let mut slots = Vec::new();
    let mut clients = Vec::new();
    let mut seens = Vec::new();
    for i in 0..opts.clients {
        let slot: Slot = Arc::default();
        slots.push(slot.clone());
        let seen = Arc::new(Mutex::new(Seen {
            got: IdSet::new(base),
            live: IdSet::new(base),
            watermark: base,
            ..Seen::default()
        }));
        seens.push(seen.clone());
        clients.push(tokio::spawn(run_client(
            shared.clone(),
            i,
            ctx.cookie(i).map(str::to_owned),
            slot,
            seen,
            stop.clone(),
        )));
    }
    while shared.connected.load(Ordering::Relaxed) < opts.clients {
        if connect_started.elapsed() > Duration::from_secs(300) {
            return Err(anyhow!(
                "only {} of {} clients connected in 300 s",
                shared.connected.load(Ordering::Relaxed),
                opts.clients
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cpu_before = opts.server_pid.and_then(cpu_ticks);
    let start = Instant::now();
    let until = start + Duration::from_secs(opts.secs);
    let _ = shared.started.set((start, until));
    let start_us = now_us();
    if let Some(path) = &opts.ready_file {
        std::fs::write(
            path,
            format!("{}\n", unix_ms_at_epoch + (start_us / 1000) as i64),
        )?;
    }
    let interval = Duration::from_secs_f64(opts.senders as f64 / opts.rate);
    let mut senders = Vec::new();
    for (s, slot) in slots.iter().take(opts.senders).enumerate() {
        senders.push(tokio::spawn(run_sender(s, slot.clone(), interval, until)));
    }
    let mut sends = Vec::new();
    let mut skipped = 0;
    for sender in senders {
        let (records, s) = sender.await?;
        sends.extend(records);
        skipped += s;
    }
    let end_us = now_us();
    tokio::time::sleep(Duration::from_secs(opts.quiet_secs)).await;
    // The end (quiet seconds after the last send): what each client holds
    // now, before the final catch-up, and who was still catching up.
    let cpu_after = opts.server_pid.and_then(cpu_ticks);
    let wall_secs = start.elapsed().as_secs_f64();
    let mut at_end = Vec::with_capacity(seens.len());
    let mut unfinished_at_end = 0u64;
    for seen in &seens {
        let seen = lock(seen);
        if !seen.synced {
            unfinished_at_end += 1;
        }
        at_end.push(seen.got.clone());
    }
    let final_started = Instant::now();
    let _ = stop_tx.send(true);
    let mut reports = Vec::new();
    for client in clients {
        reports.push(client.await?);
    }
    let final_secs = final_started.elapsed().as_secs_f64();

    // What the database holds: every acknowledged message must be there.
    let auditor_seen = Arc::new(Mutex::new(Seen::default()));
    let auditor = connect_with(
        &ctx.base,
        ctx.cookie(0),
        Holder(auditor_seen),
        shared.keep.clone(),
    )
    .await
    .context("audit connection")?;
    let stored = audit(&auditor, base).await?;
    auditor.close();
    let mut stored_ids = IdSet::new(base);
    let mut stored_texts = std::collections::HashSet::new();
    for (id, text) in &stored {
        stored_ids.insert(*id);
        if let Some(rest) = text.strip_prefix("b|") {
            if let Some((key, _)) = rest.split_once('|') {
                stored_texts.insert(key.to_owned());
            }
        }
    }

    // Sends.
    let mut acked = IdSet::new(base);
    let mut ack_latencies = Vec::new();
    let mut refused_by: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused_but_stored = 0;
    let mut acked_by_upstream: BTreeMap<String, u64> = BTreeMap::new();
    for send in &sends {
        match &send.outcome {
            Ok(id) => {
                acked.insert(*id);
                ack_latencies.push((send.done_us - send.sent_us).min(u64::from(u32::MAX)) as u32);
                *acked_by_upstream
                    .entry(send.upstream.clone().unwrap_or_else(|| "-".into()))
                    .or_default() += 1;
            }
            Err(why) => {
                *refused_by.entry(why.clone()).or_default() += 1;
                if stored_texts.contains(&format!("{}.{}", send.sender, send.seq)) {
                    refused_but_stored += 1;
                }
            }
        }
    }
    let acked_count = acked.len();
    let refused: u64 = refused_by.values().sum();
    let acked_missing_from_history = acked.missing_from(&stored_ids);

    // Clients.
    let mut lost = 0u64;
    let mut clients_with_losses = 0u64;
    let mut lost_sample = Vec::new();
    let (mut out_of_order, mut duplicate_live, mut live_after_history, mut history_overlap) =
        (0, 0, 0, 0);
    let mut latencies = Vec::new();
    let mut slowest_by_sec: Vec<u32> = Vec::new();
    let mut outages_us = Vec::new();
    let mut catch_ups_us = Vec::new();
    let mut final_us = Vec::new();
    let mut causes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let (mut attempts, mut catch_up_failures, mut fetched, mut final_fetched) = (0, 0, 0, 0);
    let mut final_failed = 0;
    let mut moved: BTreeMap<String, u64> = BTreeMap::new();
    let mut all_outages: Vec<Outage> = Vec::new();
    let mut details = Vec::new();
    let (mut lost_at_end, mut clients_with_losses_at_end) = (0u64, 0u64);
    for held in &at_end {
        let missing = acked.missing_from(held).len() as u64;
        lost_at_end += missing;
        clients_with_losses_at_end += u64::from(missing > 0);
    }
    for (i, report) in reports.iter().enumerate() {
        let seen = lock(&report.seen);
        let missing = acked.missing_from(&seen.got);
        if !missing.is_empty() {
            clients_with_losses += 1;
            lost += missing.len() as u64;
            if lost_sample.len() < 20 {
                let outages: Vec<Value> = report
                    .outages
                    .iter()
                    .map(|o| {
                        json!({
                            "at_ms": ms(o.at_us.saturating_sub(start_us)), "cause": o.cause,
                            "watermark": o.watermark, "caught_up_ms": ms(o.caught_up_us.saturating_sub(start_us)),
                            "from": o.upstream_before, "to": o.upstream_after,
                        })
                    })
                    .collect();
                let ids: Vec<Value> = missing
                    .iter()
                    .take(10)
                    .map(|id| {
                        let send = sends.iter().find(|s| s.outcome.as_ref().ok() == Some(id));
                        json!({
                            "id": id,
                            "acked_at_ms": send.map(|s| ms(s.done_us.saturating_sub(start_us))),
                            "sender": send.map(|s| s.sender),
                            "sender_upstream": send.and_then(|s| s.upstream.clone()),
                            "stored": stored_ids.contains(*id),
                        })
                    })
                    .collect();
                lost_sample.push(json!({
                    "client": i, "missing": missing.len(), "first_ids": ids,
                    "watermark": seen.watermark, "outages": outages,
                }));
            }
        }
        out_of_order += seen.out_of_order;
        duplicate_live += seen.duplicate_live;
        live_after_history += seen.live_after_history;
        history_overlap += seen.history_overlap;
        latencies.extend_from_slice(&seen.latencies);
        if seen.slowest_by_sec.len() > slowest_by_sec.len() {
            slowest_by_sec.resize(seen.slowest_by_sec.len(), 0);
        }
        for (sec, slowest) in seen.slowest_by_sec.iter().enumerate() {
            slowest_by_sec[sec] = slowest_by_sec[sec].max(*slowest);
        }
        for outage in &report.outages {
            outages_us.push((outage.caught_up_us - outage.at_us).min(u64::from(u32::MAX)) as u32);
            catch_ups_us.push(
                (outage.caught_up_us - outage.reconnected_us).min(u64::from(u32::MAX)) as u32,
            );
            *causes.entry(outage.cause).or_default() += 1;
            attempts += u64::from(outage.attempts);
            catch_up_failures += u64::from(outage.catch_up_failures);
            fetched += outage.fetched;
            if outage.upstream_before != outage.upstream_after {
                let key = format!(
                    "{} -> {}",
                    outage.upstream_before.as_deref().unwrap_or("-"),
                    outage.upstream_after.as_deref().unwrap_or("-")
                );
                *moved.entry(key).or_default() += 1;
            }
            all_outages.push(outage.clone());
        }
        for (why, n) in &report.connect_failures {
            *failures.entry(why.clone()).or_default() += n;
        }
        final_us.push(report.final_catch_up_us.min(u64::from(u32::MAX)) as u32);
        final_fetched += report.final_fetched;
        if !report.final_ok {
            final_failed += 1;
        }
        if opts.details.is_some() {
            details.push(json!({
                "client": i,
                "held": seen.got.len(),
                "lost": missing,
                "watermark": seen.watermark,
                "out_of_order": seen.out_of_order,
                "duplicate_live": seen.duplicate_live,
                "final_fetched": report.final_fetched,
                "outages": report.outages.iter().map(|o| json!({
                    "at_ms": ms(o.at_us.saturating_sub(start_us)), "cause": o.cause,
                    "watermark": o.watermark, "attempts": o.attempts,
                    "catch_up_failures": o.catch_up_failures,
                    "reconnected_ms": ms(o.reconnected_us.saturating_sub(start_us)),
                    "caught_up_ms": ms(o.caught_up_us.saturating_sub(start_us)),
                    "fetched": o.fetched, "from": o.upstream_before, "to": o.upstream_after,
                })).collect::<Vec<_>>(),
            }));
        }
    }

    // Outage windows from the driving script's events: `<name>:begin` and
    // `<name>:end`.
    let events = opts
        .events
        .as_ref()
        .map(|path| read_events(path, unix_ms_at_epoch))
        .unwrap_or_default();
    let mut windows = Vec::new();
    for (begin, name) in &events {
        let Some(key) = name.strip_suffix(":begin") else {
            continue;
        };
        let Some((end, _)) = events
            .iter()
            .find(|(at, n)| at >= begin && n == &format!("{key}:end"))
        else {
            continue;
        };
        let (begin, end) = (*begin, *end);
        // Up to 10 s after the end, or the next window's beginning.
        let next_begin = events
            .iter()
            .filter(|(at, n)| *at > begin && n.ends_with(":begin"))
            .map(|(at, _)| *at)
            .min()
            .unwrap_or(u64::MAX);
        let tail = (end + WINDOW_TAIL.as_micros() as u64).min(next_begin);
        let in_span: Vec<&Sent> = sends
            .iter()
            .filter(|s| s.sent_us >= begin && s.sent_us <= tail)
            .collect();
        let refused_here: Vec<&&Sent> = in_span.iter().filter(|s| s.outcome.is_err()).collect();
        let mut why: BTreeMap<String, u64> = BTreeMap::new();
        for s in &refused_here {
            if let Err(w) = &s.outcome {
                *why.entry(w.clone()).or_default() += 1;
            }
        }
        let last_refused = refused_here.iter().map(|s| s.sent_us).max();
        let first_ok_after_end = sends
            .iter()
            .filter(|s| s.outcome.is_ok() && s.sent_us >= end.max(last_refused.unwrap_or(0)))
            .map(|s| s.sent_us)
            .min();
        let first_ok_after_begin = sends
            .iter()
            .filter(|s| s.outcome.is_ok() && s.sent_us >= begin)
            .map(|s| s.sent_us)
            .min();
        let slowest_ack = in_span
            .iter()
            .filter(|s| s.outcome.is_ok())
            .map(|s| s.done_us - s.sent_us)
            .max();
        let first_sec = (begin / 1_000_000) as usize;
        let last_sec = (tail / 1_000_000) as usize;
        let slowest_delivery = slowest_by_sec
            .iter()
            .enumerate()
            .filter(|(sec, _)| *sec >= first_sec && *sec <= last_sec)
            .map(|(_, v)| *v)
            .max();
        let drops: Vec<&Outage> = all_outages
            .iter()
            .filter(|o| o.at_us >= begin && o.at_us <= tail)
            .collect();
        let outage_samples: Vec<u32> = drops
            .iter()
            .map(|o| (o.caught_up_us - o.at_us).min(u64::from(u32::MAX)) as u32)
            .collect();
        windows.push(json!({
            "name": key,
            "begin_ms": ms(begin.saturating_sub(start_us)),
            "duration_ms": ms(end - begin),
            "sends": in_span.len(),
            "refused": refused_here.len(),
            "refused_by_reason": why,
            "first_refused_after_begin_ms": refused_here.iter().map(|s| s.sent_us).min().map(|t| ms(t.saturating_sub(begin))),
            "last_refused_after_begin_ms": last_refused.map(|t| ms(t.saturating_sub(begin))),
            "first_acked_send_after_begin_ms": first_ok_after_begin.map(|t| ms(t - begin)),
            "recovered_after_end_ms": first_ok_after_end.map(|t| ms(t - end)),
            "recovered_after_begin_ms": first_ok_after_end.map(|t| ms(t - begin)),
            "slowest_ack_ms": slowest_ack.map(ms),
            "slowest_live_delivery_ms": slowest_delivery.map(|v| ms(u64::from(v))),
            "client_drops": drops.len(),
            "client_outage": summary_us(outage_samples),
        }));
    }
    let events_json: Vec<Value> = events
        .iter()
        .map(|(at, name)| json!({ "at_ms": ms(at.saturating_sub(start_us)), "name": name }))
        .collect();

    if let Some(path) = &opts.details {
        let sends_json: Vec<Value> = sends
            .iter()
            .map(|s| {
                json!({
                    "sender": s.sender, "seq": s.seq,
                    "sent_ms": ms(s.sent_us.saturating_sub(start_us)),
                    "done_ms": ms(s.done_us.saturating_sub(start_us)),
                    "id": s.outcome.as_ref().ok(), "refused": s.outcome.as_ref().err(),
                    "upstream": s.upstream,
                })
            })
            .collect();
        let document = json!({ "base": base, "clients": details, "sends": sends_json });
        std::fs::write(path, serde_json::to_vec(&document)?)?;
    }

    let elapsed_secs = (end_us - start_us) as f64 / 1e6;
    let server_cpu = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) => {
            let secs = after.saturating_sub(before) as f64 / CLOCK_TICKS_PER_SEC;
            let reconnects = outages_us.len().max(1) as f64;
            json!({
                "secs": secs,
                "percent": (secs / wall_secs * 1000.0).round() / 10.0,
                "us_per_reconnect": (secs * 1e6 / reconnects).round(),
            })
        }
        _ => Value::Null,
    };
    Ok(json!({
        "scenario": "churn", "server": ctx.label,
        "clients": opts.clients, "senders": opts.senders, "rate": opts.rate, "secs": opts.secs,
        "reconnect_ms": opts.reconnect_ms, "drop_every_secs": opts.drop_every_secs,
        "connect_secs": connect_secs,
        "sent": sends.len(),
        "acked": acked_count,
        "acked_per_sec": acked_count as f64 / elapsed_secs,
        "refused_sends": refused,
        "refused_by_reason": refused_by,
        "refused_but_stored": refused_but_stored,
        "skipped_while_reconnecting": skipped,
        "acked_by_upstream": acked_by_upstream,
        "stored_in_run": stored.len(),
        "acked_missing_from_history": acked_missing_from_history.len(),
        "lost": lost,
        "clients_with_losses": clients_with_losses,
        "at_end": {
            "lost": lost_at_end,
            "clients_with_losses": clients_with_losses_at_end,
            "catching_up": unfinished_at_end,
        },
        "server_cpu": server_cpu,
        "lost_sample": lost_sample,
        "duplicates": {
            "live": duplicate_live,
            "live_after_history": live_after_history,
            "history_overlap": history_overlap,
        },
        "out_of_order_while_connected": out_of_order,
        "reconnects": outages_us.len(),
        "reconnects_by_cause": causes,
        "reconnects_moved": moved,
        "connect_attempts": attempts,
        "connect_failures": failures,
        "catch_up_failures": catch_up_failures,
        "outage": summary_us(outages_us),
        "catch_up": summary_us(catch_ups_us),
        "caught_up_messages": fetched,
        "live_latency": latency_summary(latencies),
        "ack_latency": latency_summary(ack_latencies),
        "final_catch_up": {
            "secs": final_secs,
            "per_client": summary_us(final_us),
            "messages": final_fetched,
            "failed": final_failed,
        },
        "events": events_json,
        "windows": windows,
    }))
}
