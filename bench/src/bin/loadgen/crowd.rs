//! `crowd`: as many authenticated sockets as one instance should hold
//! (issue 20: 100,000), then a slow broadcast to all of them.
//!
//! Phase 1 opens every socket, a bounded number at a time, and reports how
//! long that took, why any failed, and the server's RSS per socket. Phase 2
//! has one more socket post a message to the global room every second; every
//! crowd socket counts and times what it receives, and once the last send is
//! a few seconds old the deliveries due are compared with those received.
//!
//! Each TCP socket is bound to a loopback source address of its own round
//! (127.0.0.2, 127.0.0.3, …) before connecting: one source address has only
//! ~28,000 ephemeral ports, and fewer are quickly found free (see
//! [`SOCKETS_PER_SOURCE`]).
//!
//! A crowd socket is one task owning its WebSocket (no writer task, no
//! channels, no ack table): it only answers pings and counts deliveries,
//! ~8 KiB each in the generator (160 MiB for 19,500).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{
    closed_receiver, connect, join_namespace, latency_summary, now_us, rss_kib, sender_seq,
    sent_at, Ctx,
};

/// One socket's whole opening (TCP, WebSocket, Socket.IO connect) gives up
/// after this long; the kernel alone would retry a lost SYN for minutes.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// A send without an ack this long counts as refused.
const ACK_LIMIT: Duration = Duration::from_secs(5);
/// Sockets per loopback source address when `--sources` is not given.
/// `bind` picks the port before the destination is known, probing for one
/// that is free on that address (ports in TIME_WAIT from an earlier run
/// count as taken, and it tries odd ports first: ~14,000 of them). At
/// 10,000 per address a second run within a minute of the first spent
/// 40 s of the generator's CPU connecting; at 1,000 the same took 4.5 s.
const SOCKETS_PER_SOURCE: usize = 1_000;
/// The crowd's messages are `b|<SENDER>.<seq>|<micros>` (the shape
/// `sent_at` and `sender_seq` read).
const SENDER: u32 = 0;
/// Linux's `USER_HZ` (what `/proc/<pid>/stat` counts CPU time in).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

pub struct Options {
    pub clients: usize,
    pub secs: u64,
    /// Loopback source addresses to spread sockets over (0: one per
    /// 1,000 sockets).
    pub sources: usize,
    /// Sockets being opened at once. Kept below the server's listen
    /// backlog (128: tokio's `TcpListener::bind` takes mio's default), or
    /// the kernel drops SYNs that the client only retries a second later.
    pub concurrency: usize,
    /// Seconds to wait after the last send before counting.
    pub quiet_secs: u64,
    pub server_pid: Option<u32>,
    /// Targets: everything connected within this many seconds …
    pub connect_limit_secs: f64,
    /// … and a delivery p99 at most this many ms (besides no loss).
    pub p99_limit_ms: f64,
}

/// What the crowd's tasks share.
#[derive(Default)]
struct Shared {
    connected: AtomicUsize,
    failed: AtomicUsize,
    /// Sockets the server (or the network) closed after they had joined.
    dropped: AtomicUsize,
    /// Deliveries of a message the socket already had.
    repeated: AtomicUsize,
    /// Microseconds from send to receipt, every delivery.
    latencies: Mutex<Vec<u32>>,
    /// Why sockets could not be opened, counted.
    failures: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn fail(&self, reason: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *lock(&self.failures).entry(reason).or_insert(0) += 1;
    }
}

/// A short, countable reason: the stage that failed (the outermost
/// context) and the kind of error underneath, without addresses or ports.
fn reason(err: &anyhow::Error) -> String {
    let stage = err.to_string();
    let cause = err.root_cause();
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return format!("{stage}: {:?}", io.kind());
    }
    let mut text = cause.to_string();
    if text == stage {
        return stage;
    }
    text.truncate(60);
    format!("{stage}: {text}")
}

/// The `n`th loopback source address: 127.0.0.2, 127.0.0.3, …
fn source_address(n: usize) -> IpAddr {
    let first = u32::from(Ipv4Addr::new(127, 0, 0, 2));
    IpAddr::V4(Ipv4Addr::from(first + n as u32))
}

/// Small buffers: a crowd socket receives chat frames of a few hundred
/// bytes (a larger one is read in several steps), and tungstenite's
/// default read buffer is 128 KiB per socket.
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2 * 1024)
        .write_buffer_size(0)
}

/// TCP from `source`, WebSocket upgrade with the session cookie, Socket.IO
/// connect to the default namespace.
async fn open(
    server: SocketAddr,
    source: IpAddr,
    cookie: Option<&str>,
) -> Result<WebSocketStream<TcpStream>> {
    let tcp = TcpSocket::new_v4().context("socket")?;
    tcp.bind(SocketAddr::new(source, 0)).context("bind")?;
    let stream = tcp.connect(server).await.context("tcp connect")?;
    stream.set_nodelay(true).context("nodelay")?;
    let mut request =
        format!("ws://{server}/socket.io/?EIO=4&transport=websocket").into_client_request()?;
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie)?);
    }
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(socket_config()))
            .await
            .context("websocket handshake")?;
    join_namespace(&mut ws).await.context("socket.io connect")?;
    Ok(ws)
}

/// One crowd socket: opens (holding `permit` meanwhile), then listens until
/// `stop`. Returns how many distinct crowd messages it received (None: it
/// never connected).
async fn run_client(
    shared: Arc<Shared>,
    server: SocketAddr,
    source: IpAddr,
    cookie: Option<Arc<str>>,
    permit: OwnedSemaphorePermit,
    secs: u64,
    stop: watch::Receiver<bool>,
) -> Option<u32> {
    let opened = tokio::time::timeout(OPEN_LIMIT, open(server, source, cookie.as_deref())).await;
    drop(permit);
    let ws = match opened {
        Ok(Ok(ws)) => ws,
        Ok(Err(err)) => {
            shared.fail(reason(&err));
            return None;
        }
        Err(_) => {
            shared.fail(format!("timed out ({} s)", OPEN_LIMIT.as_secs()));
            return None;
        }
    };
    shared.connected.fetch_add(1, Ordering::Relaxed);
    Some(listen(ws, &shared, secs, stop).await)
}

/// The crowd messages one socket has received, one bit per sequence
/// number: messages sent a second apart may still be stored, and so
/// delivered, in another order (ids are what is ordered, not sends).
struct Seen(Vec<u64>);

impl Seen {
    fn new(secs: u64) -> Self {
        Seen(vec![0; (secs as usize).div_ceil(64)])
    }

    /// Marks `seq` (1-based); false when it was already marked or is out
    /// of range.
    fn insert(&mut self, seq: u64) -> bool {
        let Some(bit) = seq.checked_sub(1) else {
            return false;
        };
        let Some(word) = self.0.get_mut((bit / 64) as usize) else {
            return false;
        };
        let mask = 1u64 << (bit % 64);
        let new = *word & mask == 0;
        *word |= mask;
        new
    }
}

/// Answers pings and counts the crowd's messages until `stop`.
async fn listen(
    mut ws: WebSocketStream<TcpStream>,
    shared: &Shared,
    secs: u64,
    mut stop: watch::Receiver<bool>,
) -> u32 {
    let mut received = 0u32;
    let mut seen = Seen::new(secs);
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                break;
            }
        };
        let text = text.as_str();
        if text == "2" {
            if ws.send(Message::text("3")).await.is_err() {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                break;
            }
        } else if text.starts_with("42[\"message\"") {
            let (Some(sent_us), Some((SENDER, seq))) = (sent_at(text), sender_seq(text)) else {
                continue;
            };
            if !seen.insert(seq) {
                shared.repeated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            received += 1;
            let latency = now_us().saturating_sub(sent_us).min(u64::from(u32::MAX)) as u32;
            lock(&shared.latencies).push(latency);
        } else if text.starts_with("41") || text.starts_with('1') {
            // Socket.IO or Engine.IO disconnect from the server.
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    received
}

/// A process's user + system CPU time so far, in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): utime is
    // field 14 and stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((user + system) as f64 / CLOCK_TICKS_PER_SEC)
}

/// The kernel's count of connections dropped because a listen queue was
/// full (`TcpExt: ListenOverflows`, all listeners on the machine).
fn listen_overflows() -> Option<u64> {
    let netstat = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?.split_whitespace();
    let values = lines.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "ListenOverflows")?
        .1
        .parse()
        .ok()
}

fn delta<T: std::ops::Sub<Output = T> + PartialOrd>(
    before: Option<T>,
    after: Option<T>,
) -> Option<T> {
    match (before, after) {
        (Some(b), Some(a)) if a >= b => Some(a - b),
        _ => None,
    }
}

/// Prints progress to stderr every 10 s while the crowd connects (a full
/// run takes a minute; stdout stays one JSON line).
fn report_progress(
    shared: Arc<Shared>,
    started: Instant,
    total: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "crowd: {:.0} s, {} of {total} connected, {} failed",
                started.elapsed().as_secs_f64(),
                shared.connected.load(Ordering::Relaxed),
                shared.failed.load(Ordering::Relaxed),
            );
        }
    })
}

/// Phase 1: opens every crowd socket, `concurrency` at a time; returns
/// their tasks once each has connected or failed.
async fn open_crowd(
    ctx: &Ctx,
    opts: &Options,
    server: SocketAddr,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<Option<u32>>>> {
    let sources = match opts.sources {
        0 => opts.clients.div_ceil(SOCKETS_PER_SOURCE).max(1),
        n => n,
    };
    // One shared copy of each cookie, not one per socket.
    let cookies: Vec<Arc<str>> = ctx
        .cookies
        .iter()
        .map(|(_, c)| Arc::from(c.as_str()))
        .collect();
    let gate = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let permit = gate.clone().acquire_owned().await?;
        let cookie = (!cookies.is_empty()).then(|| cookies[i % cookies.len()].clone());
        tasks.push(tokio::spawn(run_client(
            shared.clone(),
            server,
            source_address(i % sources),
            cookie,
            permit,
            opts.secs,
            stop.clone(),
        )));
    }
    // Every permit back: every socket has connected or given up.
    let _all = gate.acquire_many(opts.concurrency.max(1) as u32).await?;
    Ok(tasks)
}

/// Phase 2: one socket posts `secs` messages to the global room, one a
/// second. Returns (acknowledged, refused).
async fn broadcast(ctx: &Ctx, secs: u64, stop: watch::Receiver<bool>) -> Result<(u64, u64)> {
    let sender = connect(&ctx.base, ctx.cookie(0), false, stop)
        .await
        .context("sender socket")?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut inflight = futures_util::stream::FuturesUnordered::new();
    for seq in 1..=secs {
        tick.tick().await;
        let text = format!("b|{SENDER}.{seq}|{}", now_us());
        let rx = sender
            .emit("message", &json!({ "text": text }))
            .unwrap_or_else(closed_receiver);
        inflight.push(tokio::time::timeout(ACK_LIMIT, rx));
    }
    let (mut acked, mut refused) = (0, 0);
    while let Some(result) = inflight.next().await {
        match result {
            Ok(Ok(ack)) if ack["ok"] == true => acked += 1,
            _ => refused += 1,
        }
    }
    sender.close();
    Ok((acked, refused))
}

pub async fn crowd(ctx: &Ctx, opts: Options) -> Result<Value> {
    let server: SocketAddr = ctx
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .context("crowd needs --base http://<ip>:<port>")?;
    if opts.clients == 0 || opts.secs == 0 {
        return Err(anyhow!("crowd needs --clients and --secs above 0"));
    }
    let pid = opts.server_pid;
    let rss_before = pid.and_then(rss_kib);
    let cpu_before = pid.and_then(cpu_secs);
    let own_cpu_before = cpu_secs(std::process::id());
    let overflows_before = listen_overflows();
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop) = watch::channel(false);

    let started = Instant::now();
    let progress = report_progress(shared.clone(), started, opts.clients);
    let tasks = open_crowd(ctx, &opts, server, &shared, &stop).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    progress.abort();
    // The driving script may wait for this line (to profile the broadcast).
    eprintln!("crowd: connected in {connect_secs:.1} s; broadcasting");
    let cpu_connected = pid.and_then(cpu_secs);
    let own_cpu_connected = cpu_secs(std::process::id());
    let overflows = delta(overflows_before, listen_overflows());
    // Let the server finish what connecting set off (presence broadcasts).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = pid.and_then(rss_kib);
    let connected = shared.connected.load(Ordering::Relaxed);

    let cpu_sending = pid.and_then(cpu_secs);
    let own_cpu_sending = cpu_secs(std::process::id());
    let (acked, refused) = broadcast(ctx, opts.secs, stop.clone()).await?;
    tokio::time::sleep(Duration::from_secs(opts.quiet_secs)).await;
    let broadcast_cpu = delta(cpu_sending, pid.and_then(cpu_secs));
    let own_broadcast_cpu = delta(own_cpu_sending, cpu_secs(std::process::id()));
    let _ = stop_tx.send(true);
    let mut received = 0u64;
    let mut short = 0u64;
    for task in tasks {
        if let Some(got) = task.await? {
            received += u64::from(got);
            if u64::from(got) < acked {
                short += 1;
            }
        }
    }
    let rss_after = pid.and_then(rss_kib);
    let expected = acked * connected as u64;
    let lost = expected.saturating_sub(received);
    let latency = latency_summary(std::mem::take(&mut *lock(&shared.latencies)));
    let connect_cpu = delta(cpu_before, cpu_connected);

    let targets = json!({
        "all_connected": connected == opts.clients,
        "connected_within_limit": connected == opts.clients && connect_secs <= opts.connect_limit_secs,
        "no_loss": lost == 0 && refused == 0 && acked == opts.secs,
        "p99_within_limit": latency["p99_ms"].as_f64().is_some_and(|p99| p99 <= opts.p99_limit_ms),
    });
    let met = targets
        .as_object()
        .is_some_and(|t| t.values().all(|v| v == true));
    Ok(json!({
        "scenario": "crowd", "server": ctx.label, "clients": opts.clients, "secs": opts.secs,
        "connected": connected,
        "failed": shared.failed.load(Ordering::Relaxed),
        "failures": *lock(&shared.failures),
        "connect_secs": connect_secs,
        "connects_per_sec": connected as f64 / connect_secs,
        "listen_overflows": overflows,
        "server_cpu_connecting_secs": connect_cpu,
        "server_cpu_us_per_connect": connect_cpu.map(|s| s * 1e6 / connected.max(1) as f64),
        // Which side was busy while connecting (each has one core).
        "loadgen_cpu_connecting_secs": delta(own_cpu_before, own_cpu_connected),
        "server_rss_before_kib": rss_before,
        "server_rss_connected_kib": rss_connected,
        "server_rss_after_kib": rss_after,
        "rss_per_socket_kib": delta(rss_before, rss_connected)
            .map(|d| d as f64 / connected.max(1) as f64),
        "loadgen_rss_kib": rss_kib(std::process::id()),
        "sent_acked": acked, "refused": refused,
        "deliveries_expected": expected, "deliveries_received": received,
        "lost": lost,
        "clients_short": short,
        "repeated": shared.repeated.load(Ordering::Relaxed),
        "dropped_by_server": shared.dropped.load(Ordering::Relaxed),
        "latency": latency,
        // Whose work a delivery's latency mostly is: the server writes
        // every frame, the generator reads every one, each on one core.
        "server_cpu_us_per_delivery": broadcast_cpu.map(|s| s * 1e6 / received.max(1) as f64),
        "loadgen_cpu_us_per_delivery": own_broadcast_cpu.map(|s| s * 1e6 / received.max(1) as f64),
        "targets": targets,
        "targets_met": met,
    }))
}
