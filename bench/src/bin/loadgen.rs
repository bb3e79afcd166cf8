#![recursion_limit = "256"]
//! chatroom's load generator: many Socket.IO v5 clients over WebSocket,
//! driving bounded scenarios and printing one JSON line of results each.
//!
//! The client is deliberately small (one reader and one writer task per
//! connection, no per-message allocation beyond the frame) so one core can
//! hold thousands of sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[path = "loadgen/churn.rs"]
mod churn;
#[path = "loadgen/crowd.rs"]
mod crowd;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Load generator for chatroom (and the floor server)")]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// `username<TAB>cookie` lines from `chatroom seed-users --sessions-out`;
    /// without it, connections are anonymous (the floor server).
    #[arg(long)]
    cookies: Option<std::path::PathBuf>,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Label printed with the results (e.g. chatroom or floor).
    #[arg(long, default_value = "chatroom")]
    label: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand, Clone)]
enum Scenario {
    /// N idle sockets; server memory per socket.
    Hold {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Server process id, to read its RSS.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// L listeners, S senders, R messages/s in total for T seconds.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        listeners: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
    /// S senders, each with one message in flight, as fast as acks come.
    Ingest {
        #[arg(long, default_value_t = 50)]
        senders: usize,
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
    /// History page latency over REST and Socket.IO.
    History {
        #[arg(long, default_value_t = 500)]
        samples: usize,
    },
    /// Password logins per second (optionally during a fan-out).
    Login {
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Username prefix and password of seeded accounts.
        #[arg(long, default_value = "bench")]
        prefix: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
        /// Run a fan-out at this rate (messages/s) meanwhile and report its
        /// latency too: hashing must not starve the chat.
        #[arg(long, default_value_t = 0.0)]
        fanout_rate: f64,
        #[arg(long, default_value_t = 1000)]
        fanout_listeners: usize,
        #[arg(long, default_value_t = 10)]
        fanout_secs: u64,
    },
    /// A fan-out with one extra listener that stops reading: the others
    /// must lose nothing; the stalled one must be disconnected (never keep
    /// its connection with a gap) and catch up from history.
    Slow {
        #[arg(long, default_value_t = 100)]
        listeners: usize,
        #[arg(long, default_value_t = 5)]
        senders: usize,
        #[arg(long, default_value_t = 400.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        secs: u64,
        /// Characters added to every message, so the stalled client's
        /// kernel buffers fill in a short run.
        #[arg(long, default_value_t = 1800)]
        pad: usize,
        /// Exit 1 unless nobody lost a message and the stalled client got
        /// every message or was disconnected without a gap, and caught up
        /// from history (CI).
        #[arg(long)]
        check: bool,
    },
    /// 10-second fan-out that fails on any lost message (for CI).
    Smoke,
    /// A reconnect storm: P people with K sockets each, all in the global
    /// room, R messages/s; every socket drops itself about every D seconds
    /// (at a random moment in each window), reconnects after 200 ms and
    /// catches up with `history {after}`. Reports what was not caught up
    /// Q seconds after the last send, drop → caught-up and live latency,
    /// and the server's CPU per reconnect.
    Storm {
        #[arg(long, default_value_t = 1000)]
        people: usize,
        #[arg(long, default_value_t = 10)]
        sockets: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        secs: u64,
        #[arg(long, default_value_t = 15.0)]
        drop_every_secs: f64,
        #[arg(long, default_value_t = 200)]
        reconnect_ms: u64,
        #[arg(long, default_value_t = 5)]
        quiet_secs: u64,
        /// Server process id, to read its CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Exit 1 on any loss at the end, a catch-up still running then,
        /// or a drop → caught-up p99 above this many ms (CI).
        #[arg(long)]
        check_catch_up_ms: Option<f64>,
    },
    /// C authenticated sockets on one instance (each bound to a loopback
    /// source address of its own round, 127.0.0.2, 127.0.0.3, …): time to
    /// connect them all and the server's RSS per socket; then one more
    /// socket posts 1 message/s to the global room for T seconds and every
    /// socket counts and times its deliveries.
    Crowd {
        #[arg(long, default_value_t = 100_000)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        secs: u64,
        /// Loopback source addresses (0: one per 1,000 sockets).
        #[arg(long, default_value_t = 0)]
        sources: usize,
        /// Sockets being opened at once (below the server's listen
        /// backlog of 128).
        #[arg(long, default_value_t = 100)]
        concurrency: usize,
        #[arg(long, default_value_t = 5)]
        quiet_secs: u64,
        /// Server process id, to read its RSS and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value_t = 60.0)]
        connect_limit_secs: f64,
        #[arg(long, default_value_t = 1000.0)]
        p99_limit_ms: f64,
        /// Exit 1 unless every socket connected within the limit, nothing
        /// was lost or refused, and the delivery p99 is within its limit.
        #[arg(long)]
        check: bool,
    },
    /// C clients, S of them sending R messages/s in total, whose
    /// connections drop (instances restarted behind a proxy, Redis or
    /// PostgreSQL outages, or `--drop-every-secs`): each reconnects, catches
    /// up with `history` after the last id it holds, and must end up with
    /// every acknowledged message.
    Churn {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Pause before reconnecting (then backing off up to 2 s while
        /// refused).
        #[arg(long, default_value_t = 200)]
        reconnect_ms: u64,
        /// Each client also drops its own connection at a random moment in
        /// every window of this many seconds (a reconnect storm).
        #[arg(long)]
        drop_every_secs: Option<f64>,
        /// Quiet seconds after sending, before the final catch-up.
        #[arg(long, default_value_t = 3)]
        quiet_secs: u64,
        /// Written (unix ms) when every client is connected and sending
        /// starts: the driving script waits for it.
        #[arg(long)]
        ready_file: Option<std::path::PathBuf>,
        /// `<unix ms> <name>` lines from the driving script, read at the
        /// end; `<x>:begin` / `<x>:end` pairs are reported as outage
        /// windows (refused sends, time to recover).
        #[arg(long)]
        events: Option<std::path::PathBuf>,
        /// Per-client and per-send data as JSON, for digging.
        #[arg(long)]
        details: Option<std::path::PathBuf>,
        /// Exit 1 when an acknowledged message is lost (or missing from
        /// history), nothing was acknowledged, or a final catch-up failed.
        #[arg(long)]
        check: bool,
    },
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// What one listening connection saw.
#[derive(Default)]
struct Heard {
    /// Microseconds from send to receipt, per delivery.
    latencies: Vec<u32>,
    /// chatroom deliveries whose id was not above the last one (duplicated
    /// or out of id order). Senders pipeline, so a sender's own messages
    /// may be stored in another order than sent; ids are what is promised.
    out_of_order: u64,
    /// chatroom deliveries whose id skipped ids (only benchmark traffic is
    /// in the room during a run, so ids are consecutive): a gap.
    gaps: u64,
    /// The server ended the connection before the run did.
    closed_by_server: bool,
    /// Highest message id seen (chatroom messages carry one).
    last_id: Option<i64>,
    /// Per sender: the highest sequence number heard, and how many.
    per_sender: HashMap<u32, (u64, u64)>,
}

impl Heard {
    fn record(&mut self, frame: &str) {
        let Some(sent_us) = sent_at(frame) else {
            return;
        };
        self.latencies
            .push(now_us().saturating_sub(sent_us).min(u64::from(u32::MAX)) as u32);
        if let Some((sender, seq)) = sender_seq(frame) {
            let entry = self.per_sender.entry(sender).or_insert((0, 0));
            entry.0 = entry.0.max(seq);
            entry.1 += 1;
        }
        let Some(id) = message_id(frame) else {
            return;
        };
        match self.last_id {
            Some(last) if id <= last => self.out_of_order += 1,
            Some(last) => {
                if id > last + 1 {
                    self.gaps += 1;
                }
                self.last_id = Some(id);
            }
            None => self.last_id = Some(id),
        }
    }
}

/// Sends events with acks on one connection (cloneable, for another task).
#[derive(Clone)]
struct Emitter {
    out: mpsc::UnboundedSender<Message>,
    acks: Acks,
    next_ack: Arc<AtomicU64>,
}

/// A receiver whose sender is gone: for a send that could not be written.
fn closed_receiver() -> oneshot::Receiver<Value> {
    oneshot::channel().1
}

impl Emitter {
    fn emit(&self, event: &str, data: &Value) -> Option<oneshot::Receiver<Value>> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks.lock().ok()?.insert(id, tx);
        let frame = format!("42{id}{}", json!([event, data]));
        self.out.send(Message::text(frame)).ok()?;
        Some(rx)
    }
}

/// What a connection's reader does with what arrives.
trait Listener: Send + 'static {
    /// A `message` event frame (text as received).
    fn message(&mut self, frame: &str);
    /// The server, the proxy or the network ended the connection.
    fn closed(&mut self);
}

/// The fan-out listeners' [`Listener`]: times deliveries when `record`.
#[derive(Default)]
struct Recorder {
    heard: Heard,
    record: bool,
}

impl Listener for Recorder {
    fn message(&mut self, frame: &str) {
        if self.record {
            self.heard.record(frame);
        }
    }

    fn closed(&mut self) {
        self.heard.closed_by_server = true;
    }
}

/// One Socket.IO connection; its reader hands deliveries to `L`.
struct Client<L = Recorder> {
    out: mpsc::UnboundedSender<Message>,
    acks: Acks,
    next_ack: Arc<AtomicU64>,
    reader: tokio::task::JoinHandle<L>,
    /// The `X-Upstream` response header (set by the churn bench's nginx):
    /// which instance the proxy chose.
    upstream: Option<String>,
}

/// Opens `/socket.io/` over WebSocket and joins the default namespace.
/// With `record`, `message` deliveries carrying our timestamps are timed.
async fn connect(
    base: &str,
    cookie: Option<&str>,
    record: bool,
    stop: watch::Receiver<bool>,
) -> Result<Client> {
    let recorder = Recorder {
        heard: Heard::default(),
        record,
    };
    connect_with(base, cookie, recorder, stop).await
}

/// [`connect`] with any [`Listener`].
async fn connect_with<L: Listener>(
    base: &str,
    cookie: Option<&str>,
    mut listener: L,
    stop: watch::Receiver<bool>,
) -> Result<Client<L>> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request()?;
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie)?);
    }
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .context("websocket")?;
    let upstream = response
        .headers()
        .get("x-upstream")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    join_namespace(&mut ws).await?;
    let (mut sink, mut stream) = ws.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let acks: Acks = Arc::new(Mutex::new(HashMap::new()));
    let reader_acks = acks.clone();
    let pong = out.clone();
    let mut stop = stop;
    let reader = tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                frame = stream.next() => frame,
                _ = stop.changed() => break,
            };
            let Some(Ok(Message::Text(text))) = frame else {
                match frame {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        listener.closed();
                        break;
                    }
                    Some(Ok(_)) => continue,
                }
            };
            let text = text.as_str();
            if text == "2" {
                let _ = pong.send(Message::text("3"));
            } else if let Some(rest) = text.strip_prefix("43") {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                if let Ok(id) = rest[..digits].parse::<u64>() {
                    let payload: Value =
                        serde_json::from_str(&rest[digits..]).unwrap_or(Value::Null);
                    let first = payload.get(0).cloned().unwrap_or(Value::Null);
                    if let Some(tx) = reader_acks.lock().ok().and_then(|mut a| a.remove(&id)) {
                        let _ = tx.send(first);
                    }
                }
            } else if text.starts_with("42[\"message\"") {
                listener.message(text);
            } else if text.starts_with("41") || text.starts_with('1') {
                listener.closed();
                break;
            }
        }
        // No ack can come any more: whoever waits for one learns it now.
        if let Ok(mut acks) = reader_acks.lock() {
            acks.clear();
        }
        listener
    });
    Ok(Client {
        out,
        acks,
        next_ack: Arc::new(AtomicU64::new(1)),
        reader,
        upstream,
    })
}

fn leading_number<T: std::str::FromStr>(text: &str) -> Option<T> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    text[..digits].parse().ok()
}

/// The send time in a delivered `b|<sender>.<seq>|<micros>[|pad]` text.
fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find("\"text\":\"b|")? + "\"text\":\"b|".len();
    let (_, rest) = frame[start..].split_once('|')?;
    leading_number(rest)
}

/// Sender and sequence number of a delivered benchmark message.
fn sender_seq(frame: &str) -> Option<(u32, u64)> {
    let start = frame.find("\"text\":\"b|")? + "\"text\":\"b|".len();
    let (sender, rest) = frame[start..].split_once('.')?;
    Some((sender.parse().ok()?, leading_number(rest)?))
}

impl Heard {
    /// Messages missing below the newest heard from each sender: lost while
    /// the connection went on (works without ids, so for the floor too).
    fn holes(&self) -> u64 {
        self.per_sender
            .values()
            .map(|(max, count)| max.saturating_sub(*count))
            .sum()
    }
}

/// The message id in a delivered chatroom message frame.
fn message_id(frame: &str) -> Option<i64> {
    let start = frame.find("\"id\":")? + "\"id\":".len();
    leading_number(&frame[start..])
}

async fn next_text<S>(stream: &mut S) -> Result<String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(err))) => return Err(err.into()),
            Ok(None) => return Err(anyhow!("closed")),
            Err(_) => return Err(anyhow!("timed out")),
        }
    }
}

impl<L> Client<L> {
    /// Sends an event asking for an ack; the receiver gets the ack's first
    /// argument, or an error once the connection is gone.
    fn emit(&self, event: &str, data: &Value) -> Option<oneshot::Receiver<Value>> {
        self.sender().emit(event, data)
    }

    /// Sends an event and waits for its ack.
    async fn call(&mut self, event: &str, data: Value) -> Option<Value> {
        self.call_within(event, data, Duration::from_secs(30)).await
    }

    /// Sends an event and waits at most `limit` for its ack.
    async fn call_within(&self, event: &str, data: Value, limit: Duration) -> Option<Value> {
        let rx = self.emit(event, &data)?;
        tokio::time::timeout(limit, rx).await.ok()?.ok()
    }

    /// What it takes to send on this connection from another task.
    fn sender(&self) -> Emitter {
        Emitter {
            out: self.out.clone(),
            acks: self.acks.clone(),
            next_ack: self.next_ack.clone(),
        }
    }

    fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

fn latency_summary(mut samples: Vec<u32>) -> Value {
    samples.sort_unstable();
    json!({
        "p50_ms": percentile(&samples, 0.50),
        "p90_ms": percentile(&samples, 0.90),
        "p99_ms": percentile(&samples, 0.99),
        "max_ms": samples.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
    })
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Ctx {
    base: String,
    cookies: Vec<(String, String)>,
    label: String,
}

impl Ctx {
    fn cookie(&self, i: usize) -> Option<&str> {
        if self.cookies.is_empty() {
            None
        } else {
            Some(self.cookies[i % self.cookies.len()].1.as_str())
        }
    }

    /// Opens `count` connections starting at user `first`, a few at a time.
    async fn open(
        &self,
        first: usize,
        count: usize,
        record: bool,
        stop: &watch::Receiver<bool>,
    ) -> Result<Vec<Client>> {
        let mut clients = Vec::with_capacity(count);
        let mut pending = futures_util::stream::FuturesOrdered::new();
        for i in first..first + count {
            let base = self.base.clone();
            let cookie = self.cookie(i).map(str::to_owned);
            let stop = stop.clone();
            pending.push_back(async move { connect(&base, cookie.as_deref(), record, stop).await });
            if pending.len() >= 64 {
                if let Some(client) = pending.next().await {
                    clients.push(client?);
                }
            }
        }
        while let Some(client) = pending.next().await {
            clients.push(client?);
        }
        Ok(clients)
    }
}

async fn hold(ctx: &Ctx, clients: usize, secs: u64, server_pid: Option<u32>) -> Result<Value> {
    let (_stop_tx, stop) = watch::channel(false);
    let before = server_pid.and_then(rss_kib);
    let started = Instant::now();
    let held = ctx.open(0, clients, false, &stop).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let after = server_pid.and_then(rss_kib);
    let per_socket = match (before, after) {
        (Some(b), Some(a)) => json!((a.saturating_sub(b)) as f64 / clients as f64),
        _ => Value::Null,
    };
    for client in &held {
        client.close();
    }
    Ok(json!({
        "scenario": "hold", "server": ctx.label, "clients": clients,
        "connect_secs": connect_secs,
        "server_rss_before_kib": before, "server_rss_after_kib": after,
        "rss_per_socket_kib": per_socket,
    }))
}

async fn fanout(
    ctx: &Ctx,
    listeners: usize,
    senders: usize,
    rate: f64,
    secs: u64,
    pad: usize,
) -> Result<Value> {
    let pad: Arc<str> = "x".repeat(pad).into();
    let (stop_tx, stop) = watch::channel(false);
    let listening = ctx.open(0, listeners, true, &stop).await?;
    let sending = ctx.open(listeners, senders, false, &stop).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let per_sender = rate / senders as f64;
    let interval = Duration::from_secs_f64(1.0 / per_sender);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (s, client) in sending.into_iter().enumerate() {
        let pad = pad.clone();
        let acked = acked.clone();
        let refused = refused.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut seq = 0u64;
            let mut inflight = futures_util::stream::FuturesUnordered::new();
            while Instant::now() < deadline {
                tokio::select! {
                    _ = tick.tick() => {
                        seq += 1;
                        let text = format!("b|{s}.{seq}|{}|{pad}", now_us());
                        let rx = client.emit("message", &json!({"text": text})).unwrap_or_else(closed_receiver);
                        inflight.push(async move { tokio::time::timeout(Duration::from_secs(30), rx).await });
                    }
                    Some(result) = inflight.next(), if !inflight.is_empty() => {
                        count_ack(result, &acked, &refused);
                    }
                }
            }
            while let Some(result) = inflight.next().await {
                count_ack(result, &acked, &refused);
            }
            client
        }));
    }
    let mut keep = Vec::new();
    for task in tasks {
        keep.push(task.await?);
    }
    // Grace for the last deliveries.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let acked = acked.load(Ordering::Relaxed);
    let mut samples = Vec::new();
    let (mut out_of_order, mut gaps, mut closed, mut missed_connected) = (0, 0, 0, 0);
    for client in listening {
        client.close();
        let heard = client.reader.await.unwrap_or_default().heard;
        out_of_order += heard.out_of_order;
        gaps += heard.gaps;
        if heard.closed_by_server {
            closed += 1;
        } else {
            missed_connected += acked.saturating_sub(heard.latencies.len() as u64);
        }
        samples.extend(heard.latencies);
    }
    for client in &keep {
        client.close();
    }
    let expected = acked * listeners as u64;
    let received = samples.len() as u64;
    Ok(json!({
        "scenario": "fanout", "server": ctx.label, "listeners": listeners, "senders": senders,
        "rate": rate, "secs": secs,
        "sent_acked": acked, "refused": refused.load(Ordering::Relaxed),
        "deliveries_expected": expected, "deliveries_received": received,
        "lost": expected.saturating_sub(received),
        "out_of_order": out_of_order, "id_gaps": gaps,
        "missed_while_connected": missed_connected, "listeners_disconnected": closed,
        "deliveries_per_sec": received as f64 / secs as f64,
        "latency": latency_summary(samples),
    }))
}

fn count_ack(
    result: Result<Result<Value, oneshot::error::RecvError>, tokio::time::error::Elapsed>,
    acked: &AtomicU64,
    refused: &AtomicU64,
) {
    match result {
        Ok(Ok(ack)) if ack["ok"] == true => acked.fetch_add(1, Ordering::Relaxed),
        _ => refused.fetch_add(1, Ordering::Relaxed),
    };
}

async fn ingest(ctx: &Ctx, senders: usize, secs: u64) -> Result<Value> {
    let (_stop_tx, stop) = watch::channel(false);
    let clients = ctx.open(0, senders, false, &stop).await?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (s, mut client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                let started = Instant::now();
                match client
                    .call("message", json!({ "text": format!("i|{s}.{seq}") }))
                    .await
                {
                    Some(ack) if ack["ok"] == true => {
                        latencies.push(started.elapsed().as_micros() as u32)
                    }
                    _ => failed += 1,
                }
            }
            client.close();
            (latencies, failed)
        }));
    }
    let mut samples = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (l, f) = task.await?;
        samples.extend(l);
        failed += f;
    }
    Ok(json!({
        "scenario": "ingest", "server": ctx.label, "senders": senders, "secs": secs,
        "acked": samples.len(), "failed": failed,
        "acked_per_sec": samples.len() as f64 / secs as f64,
        "ack_latency": latency_summary(samples),
    }))
}

/// A raw connection with a small receive buffer that reads nothing after
/// joining the namespace.
async fn stalled_connection(
    base: &str,
    cookie: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .context("base must be http://ip:port")?;
    let tcp = tokio::net::TcpSocket::new_v4()?;
    // Bounded, but above the loopback MSS: a smaller window is never
    // reopened promptly once the client reads again (the sender only
    // probes it, at ever longer intervals).
    tcp.set_recv_buffer_size(256 * 1024)?;
    let stream = tcp.connect(addr).await?;
    let mut request =
        format!("ws://{addr}/socket.io/?EIO=4&transport=websocket").into_client_request()?;
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie)?);
    }
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    join_namespace(&mut ws).await?;
    Ok(ws)
}

/// The Engine.IO open packet, then joining the default namespace
/// (answering pings meanwhile).
async fn join_namespace<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let open = next_text(ws).await?;
    if !open.starts_with('0') {
        return Err(anyhow!("unexpected open packet"));
    }
    ws.send(Message::text("40")).await?;
    loop {
        let packet = next_text(ws).await?;
        if packet == "2" {
            ws.send(Message::text("3")).await?;
        } else if packet.starts_with("40") {
            return Ok(());
        } else if packet.starts_with("44") {
            return Err(anyhow!("connection refused: {packet}"));
        }
    }
}

async fn slow(
    ctx: &Ctx,
    listeners: usize,
    senders: usize,
    rate: f64,
    secs: u64,
    pad: usize,
) -> Result<Value> {
    let stalled_cookie = ctx.cookie(listeners + senders).map(str::to_owned);
    let mut stalled = stalled_connection(&ctx.base, stalled_cookie.as_deref()).await?;
    let mut result = fanout(ctx, listeners, senders, rate, secs, pad).await?;
    // Now read what the stalled client was sent, until the stream ends or
    // goes quiet.
    let mut heard = Heard::default();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stalled.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let text = text.as_str();
                if text.starts_with("42[\"message\"") {
                    heard.record(text);
                } else if text.starts_with("41") || text.starts_with('1') {
                    heard.closed_by_server = true;
                    break;
                }
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => {
                heard.closed_by_server = true;
                break;
            }
            Err(_) => break,
        }
    }
    let acked = result["sent_acked"].as_u64().unwrap_or(0);
    let received = heard.latencies.len() as u64;
    // chatroom: reconnect and page through history after the last id seen.
    let mut resumed = Value::Null;
    if let (Some(cookie), Some(mut last)) = (stalled_cookie.as_deref(), heard.last_id) {
        let (_stop_tx, stop) = watch::channel(false);
        let mut client = connect(&ctx.base, Some(cookie), false, stop).await?;
        let mut fetched = 0u64;
        loop {
            let page = client
                .call("history", json!({ "after": last, "limit": 100 }))
                .await
                .unwrap_or(Value::Null);
            let messages = page["messages"].as_array().cloned().unwrap_or_default();
            let Some(newest) = messages.last().and_then(|m| m["id"].as_i64()) else {
                break;
            };
            fetched += messages
                .iter()
                .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("b|")))
                .count() as u64;
            last = newest;
        }
        client.close();
        resumed = json!({ "from_history": fetched, "caught_up": received + fetched == acked });
    }
    result["scenario"] = json!("slow");
    result["stalled"] = json!({
        "received_before_cut": received,
        "id_gaps": heard.gaps,
        "out_of_order": heard.out_of_order,
        "disconnected_by_server": heard.closed_by_server,
        "holes": heard.holes(),
        "silently_missed": heard.holes()
            + if heard.closed_by_server { 0 } else { acked.saturating_sub(received + heard.holes()) },
        "resumed": resumed,
    });
    Ok(result)
}

async fn history(ctx: &Ctx, samples: usize) -> Result<Value> {
    let cookie = ctx
        .cookie(0)
        .ok_or_else(|| anyhow!("history needs --cookies"))?
        .to_owned();
    let http = reqwest::Client::new();
    let latest: Value = http
        .get(format!("{}/api/v1/rooms/global/messages?limit=1", ctx.base))
        .header("cookie", &cookie)
        .send()
        .await?
        .json()
        .await?;
    let max_id = latest["messages"][0]["id"]
        .as_u64()
        .ok_or_else(|| anyhow!("no messages stored"))?;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_id = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        1 + rng % max_id
    };
    let mut rest = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let response = http
            .get(format!(
                "{}/api/v1/rooms/global/messages?before={}&limit=50",
                ctx.base,
                next_id()
            ))
            .header("cookie", &cookie)
            .send()
            .await?;
        let _ = response.bytes().await?;
        rest.push(started.elapsed().as_micros() as u32);
    }
    let (_stop_tx, stop) = watch::channel(false);
    let mut client = ctx
        .open(0, 1, false, &stop)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no client"))?;
    let mut socket = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        client
            .call("history", json!({ "before": next_id(), "limit": 50 }))
            .await;
        socket.push(started.elapsed().as_micros() as u32);
    }
    Ok(json!({
        "scenario": "history", "server": ctx.label, "stored_messages": max_id, "samples": samples,
        "rest": latency_summary(rest), "socket": latency_summary(socket),
    }))
}

async fn login(
    ctx: &Ctx,
    count: usize,
    prefix: &str,
    password: &str,
    concurrency: usize,
) -> Result<Value> {
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let next = next.clone();
        let url = format!("{}/api/v1/auth/login", ctx.base);
        let prefix = prefix.to_owned();
        let password = password.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= count {
                    break ok;
                }
                let response = http
                    .post(&url)
                    .json(&json!({ "username": format!("{prefix}{i}"), "password": password }))
                    .send()
                    .await;
                if response.is_ok_and(|r| r.status().is_success()) {
                    ok += 1;
                }
            }
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += task.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "scenario": "login", "server": ctx.label, "attempts": count, "succeeded": ok,
        "logins_per_sec": ok as f64 / secs,
    }))
}

async fn run(args: Args) -> Result<Value> {
    let cookies = match &args.cookies {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, c)| (n.to_owned(), c.to_owned()))
            .collect(),
        None => Vec::new(),
    };
    let ctx = Ctx {
        base: args.base.clone(),
        cookies,
        label: args.label.clone(),
    };
    let _ = epoch();
    match args.scenario {
        Scenario::Hold {
            clients,
            secs,
            server_pid,
        } => hold(&ctx, clients, secs, server_pid).await,
        Scenario::Fanout {
            listeners,
            senders,
            rate,
            secs,
        } => fanout(&ctx, listeners, senders, rate, secs, 0).await,
        Scenario::Ingest { senders, secs } => ingest(&ctx, senders, secs).await,
        Scenario::History { samples } => history(&ctx, samples).await,
        Scenario::Login {
            count,
            prefix,
            password,
            concurrency,
            fanout_rate,
            fanout_listeners,
            fanout_secs,
        } => {
            let logins = login(&ctx, count, &prefix, &password, concurrency);
            if fanout_rate > 0.0 {
                let chat = fanout(&ctx, fanout_listeners, 10, fanout_rate, fanout_secs, 0);
                let (logins, chat) = tokio::join!(
                    async {
                        // Once the fan-out's sockets are up.
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        logins.await
                    },
                    chat
                );
                let mut logins = logins?;
                logins["during_fanout"] = chat?;
                Ok(logins)
            } else {
                logins.await
            }
        }
        Scenario::Slow {
            listeners,
            senders,
            rate,
            secs,
            pad,
            check,
        } => {
            let result = slow(&ctx, listeners, senders, rate, secs, pad).await?;
            let stalled = &result["stalled"];
            let clean = result["lost"] == 0
                && result["missed_while_connected"] == 0
                && result["out_of_order"] == 0
                && result["id_gaps"] == 0
                && result["sent_acked"] != 0
                && stalled["silently_missed"] == 0
                && stalled["id_gaps"] == 0
                && stalled["out_of_order"] == 0
                && stalled["resumed"]["caught_up"] == true;
            if check && !clean {
                println!("{result}");
                return Err(anyhow!(
                    "slow: a message was lost, or the stalled client kept its connection or did not catch up"
                ));
            }
            Ok(result)
        }
        Scenario::Churn {
            clients,
            senders,
            rate,
            secs,
            reconnect_ms,
            drop_every_secs,
            quiet_secs,
            ready_file,
            events,
            details,
            check,
        } => {
            let options = churn::Options {
                clients,
                senders,
                rate,
                secs,
                reconnect_ms,
                drop_every_secs,
                quiet_secs,
                ready_file,
                events,
                details,
                server_pid: None,
            };
            let result = churn::churn(&ctx, options).await?;
            let clean = result["lost"] == 0
                && result["acked_missing_from_history"] == 0
                && result["acked"] != 0
                && result["final_catch_up"]["failed"] == 0;
            if check && !clean {
                println!("{result}");
                return Err(anyhow!(
                    "churn: acknowledged messages were lost, or a client could not catch up"
                ));
            }
            Ok(result)
        }
        Scenario::Crowd {
            clients,
            secs,
            sources,
            concurrency,
            quiet_secs,
            server_pid,
            connect_limit_secs,
            p99_limit_ms,
            check,
        } => {
            let options = crowd::Options {
                clients,
                secs,
                sources,
                concurrency,
                quiet_secs,
                server_pid,
                connect_limit_secs,
                p99_limit_ms,
            };
            let result = crowd::crowd(&ctx, options).await?;
            if check && result["targets_met"] != true {
                println!("{result}");
                return Err(anyhow!(
                    "crowd: not every socket connected in time, a delivery was lost, or the p99 is over its limit"
                ));
            }
            Ok(result)
        }
        Scenario::Storm {
            people,
            sockets,
            senders,
            rate,
            secs,
            drop_every_secs,
            reconnect_ms,
            quiet_secs,
            server_pid,
            check_catch_up_ms,
        } => {
            let mut ctx = ctx;
            if ctx.cookies.len() < people {
                return Err(anyhow!(
                    "storm: {people} people need as many sessions in --cookies"
                ));
            }
            ctx.cookies.truncate(people);
            let options = churn::Options {
                clients: people * sockets,
                senders,
                rate,
                secs,
                reconnect_ms,
                drop_every_secs: Some(drop_every_secs),
                quiet_secs,
                ready_file: None,
                events: None,
                details: None,
                server_pid,
            };
            let full = churn::churn(&ctx, options).await?;
            let result = json!({
                "scenario": "storm", "server": ctx.label,
                "people": people, "sockets_per_person": sockets, "sockets": people * sockets,
                "rate": rate, "secs": secs, "drop_every_secs": drop_every_secs,
                "reconnect_ms": reconnect_ms, "quiet_secs": quiet_secs,
                "connect_secs": full["connect_secs"],
                "acked": full["acked"],
                "refused_sends": full["refused_sends"],
                "deliveries_due": full["acked"].as_u64().unwrap_or(0) * (people * sockets) as u64,
                "lost_at_end": full["at_end"]["lost"],
                "clients_with_losses_at_end": full["at_end"]["clients_with_losses"],
                "catch_ups_unfinished_at_end": full["at_end"]["catching_up"],
                "lost_after_final_catch_up": full["lost"],
                "acked_missing_from_history": full["acked_missing_from_history"],
                "reconnects": full["reconnects"],
                "reconnects_by_cause": full["reconnects_by_cause"],
                "connect_attempts": full["connect_attempts"],
                "connect_failures": full["connect_failures"],
                "catch_up_failures": full["catch_up_failures"],
                "drop_to_caught_up": full["outage"],
                "reconnect_to_caught_up": full["catch_up"],
                "live_latency": full["live_latency"],
                "ack_latency": full["ack_latency"],
                "out_of_order_while_connected": full["out_of_order_while_connected"],
                "server_cpu": full["server_cpu"],
            });
            if let Some(limit) = check_catch_up_ms {
                let clean = result["lost_at_end"] == 0
                    && result["lost_after_final_catch_up"] == 0
                    && result["acked_missing_from_history"] == 0
                    && result["catch_ups_unfinished_at_end"] == 0
                    && result["acked"] != 0
                    && result["reconnects"] != 0
                    && full["final_catch_up"]["failed"] == 0
                    && result["drop_to_caught_up"]["p99_ms"]
                        .as_f64()
                        .is_some_and(|p99| p99 <= limit);
                if !clean {
                    println!("{result}");
                    return Err(anyhow!(
                        "storm: a delivery was lost, a catch-up did not finish, or catching up took longer than {limit} ms (p99)"
                    ));
                }
            }
            Ok(result)
        }
        Scenario::Smoke => {
            let result = fanout(&ctx, 50, 5, 50.0, 10, 0).await?;
            let clean = ["lost", "refused", "out_of_order", "id_gaps"]
                .iter()
                .all(|k| result[*k] == 0);
            if !clean || result["sent_acked"] == 0 {
                println!("{result}");
                return Err(anyhow!(
                    "smoke: messages were lost, refused, duplicated or reordered"
                ));
            }
            Ok(result)
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(args))?;
    println!("{result}");
    Ok(())
}
