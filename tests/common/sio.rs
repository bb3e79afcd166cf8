//! A small Socket.IO v5 / Engine.IO v4 client over WebSocket, speaking the
//! real wire protocol, for driving the server in tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// Why a connection did not come up.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the namespace connect with `connect_error`.
    Refused(Value),
    /// Transport failure (handshake rejected, closed, …).
    Transport(String),
}

#[derive(Default)]
struct Shared {
    events: VecDeque<(String, Value)>,
    acks: HashMap<u64, oneshot::Sender<Value>>,
    closed: bool,
}

/// A connected client.
pub struct SioClient {
    out: mpsc::UnboundedSender<Message>,
    shared: Arc<Mutex<Shared>>,
    arrived: Arc<Notify>,
    next_ack: u64,
}

/// Connects to `/` with optional `Cookie` and `Origin` headers.
pub async fn connect(
    base: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<SioClient, ConnectError> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base.replacen("http://", "ws://", 1)
    );
    let mut request = url
        .into_client_request()
        .map_err(|e| ConnectError::Transport(e.to_string()))?;
    if let Some(cookie) = cookie {
        request.headers_mut().insert(
            "cookie",
            HeaderValue::from_str(cookie).expect("cookie header"),
        );
    }
    if let Some(origin) = origin {
        request.headers_mut().insert(
            "origin",
            HeaderValue::from_str(origin).expect("origin header"),
        );
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| ConnectError::Transport(e.to_string()))?;
    let (mut sink, mut stream) = ws.split();

    // Engine.IO open packet.
    let open = next_text(&mut stream).await?;
    if !open.starts_with('0') {
        return Err(ConnectError::Transport(format!(
            "unexpected open packet {open}"
        )));
    }
    sink.send(Message::text("40"))
        .await
        .map_err(|e| ConnectError::Transport(e.to_string()))?;
    // Namespace connect answer (pings may come first). Events of rooms the
    // server joined the socket to may come before it; like socket.io's
    // own client, keep them for after the connect.
    let mut early = Vec::new();
    loop {
        let packet = next_text(&mut stream).await?;
        if packet == "2" {
            let _ = sink.send(Message::text("3")).await;
            continue;
        }
        if let Some(rest) = packet.strip_prefix("40") {
            let _ = rest;
            break;
        }
        if let Some(rest) = packet.strip_prefix("44") {
            let value = serde_json::from_str(rest).unwrap_or(Value::Null);
            return Err(ConnectError::Refused(value));
        }
        if let Some(event) = packet.strip_prefix("42").and_then(parse_event) {
            early.push(event);
            continue;
        }
        return Err(ConnectError::Transport(format!(
            "unexpected packet {packet}"
        )));
    }

    let shared = Arc::new(Mutex::new(Shared::default()));
    lock(&shared).events.extend(early);
    let arrived = Arc::new(Notify::new());
    let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let reader_shared = shared.clone();
    let reader_arrived = arrived.clone();
    let pong = out.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                if matches!(message, Message::Close(_)) {
                    break;
                }
                continue;
            };
            let text = text.as_str();
            if text == "2" {
                let _ = pong.send(Message::text("3"));
            } else if let Some(rest) = text.strip_prefix("42") {
                if let Some(event) = parse_event(rest) {
                    lock(&reader_shared).events.push_back(event);
                }
            } else if let Some(rest) = text.strip_prefix("43") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(id) = digits.parse::<u64>() {
                    let payload: Value =
                        serde_json::from_str(&rest[digits.len()..]).unwrap_or(Value::Null);
                    let first = payload.get(0).cloned().unwrap_or(Value::Null);
                    if let Some(tx) = lock(&reader_shared).acks.remove(&id) {
                        let _ = tx.send(first);
                    }
                }
            } else if text.starts_with("41") || text.starts_with('1') {
                break;
            }
            reader_arrived.notify_waiters();
        }
        lock(&reader_shared).closed = true;
        reader_arrived.notify_waiters();
    });
    Ok(SioClient {
        out,
        shared,
        arrived,
        next_ack: 1,
    })
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn parse_event(raw: &str) -> Option<(String, Value)> {
    let value: Value = serde_json::from_str(raw).ok()?;
    let array = value.as_array()?;
    let name = array.first()?.as_str()?.to_owned();
    Some((name, array.get(1).cloned().unwrap_or(Value::Null)))
}

async fn next_text<S>(stream: &mut S) -> Result<String, ConnectError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let next = tokio::time::timeout(WAIT, stream.next())
            .await
            .map_err(|_| ConnectError::Transport("timed out".into()))?;
        match next {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(ConnectError::Transport("closed".into()))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ConnectError::Transport(e.to_string())),
        }
    }
}

impl SioClient {
    /// Sends an event without asking for an ack.
    pub fn emit(&self, event: &str, data: Value) {
        let packet = format!("42{}", Value::Array(vec![Value::from(event), data]));
        let _ = self.out.send(Message::text(packet));
    }

    /// Sends a raw Engine.IO text frame (for protocol abuse tests).
    pub fn send_raw(&self, frame: &str) {
        let _ = self.out.send(Message::text(frame.to_owned()));
    }

    /// Sends an event and waits for its ack.
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        self.try_call(event, data)
            .await
            .unwrap_or_else(|| panic!("no ack for {event}"))
    }

    /// Sends an event and waits for its ack; `None` on timeout or close.
    pub async fn try_call(&mut self, event: &str, data: Value) -> Option<Value> {
        let id = self.next_ack;
        self.next_ack += 1;
        let (tx, rx) = oneshot::channel();
        lock(&self.shared).acks.insert(id, tx);
        let packet = format!("42{id}{}", Value::Array(vec![Value::from(event), data]));
        let _ = self.out.send(Message::text(packet));
        tokio::time::timeout(WAIT, rx).await.ok()?.ok()
    }

    /// Waits for the next event with this name (other events stay queued).
    pub async fn next(&self, event: &str) -> Value {
        self.next_within(event, WAIT)
            .await
            .unwrap_or_else(|| panic!("no {event} event arrived"))
    }

    /// Like [`next`], with a custom timeout; `None` when none came.
    pub async fn next_within(&self, event: &str, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            {
                let mut shared = lock(&self.shared);
                if let Some(pos) = shared.events.iter().position(|(name, _)| name == event) {
                    return shared.events.remove(pos).map(|(_, v)| v);
                }
                if shared.closed {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The next event (in arrival order) whose name is one of `names`;
    /// `None` when none came within `wait`.
    pub async fn next_of(&self, names: &[&str], wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            {
                let mut shared = lock(&self.shared);
                if let Some(pos) = shared
                    .events
                    .iter()
                    .position(|(name, _)| names.contains(&name.as_str()))
                {
                    return shared.events.remove(pos);
                }
                if shared.closed {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Drops queued events of this name.
    pub fn clear(&self, event: &str) {
        lock(&self.shared).events.retain(|(name, _)| name != event);
    }

    /// Waits until the server closes the connection.
    pub async fn closed_within(&self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.arrived.notified();
            if lock(&self.shared).closed {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return lock(&self.shared).closed;
            }
        }
    }

    /// Closes the connection (client side).
    pub fn close(&self) {
        let _ = self.out.send(Message::text("41"));
        let _ = self.out.send(Message::Close(None));
    }
}
