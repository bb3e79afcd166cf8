//! A client that stops reading must not silently lose messages while
//! staying connected: once it is too far behind it is disconnected, what it
//! did get has no gap, and history gives it the rest.

mod common;

use std::time::Duration;

use common::sio;
use common::spawn_with;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// By then the stalled client must have been cut off (its writes block
/// within a few seconds, and a connection blocked for 5 s is cut).
const MAX_WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_resumes_from_history() {
    let app = spawn_with(|config| config.chat_rate = 1_000_000.0).await;
    let (_, _, sender_cookie) = app.user_with_cookie("fast").await;
    let (slow_name, _, slow_cookie) = app.user_with_cookie("stalled").await;

    let mut stalled = stalled_client(&app.base, &slow_cookie).await;

    let mut sender = sio::connect(&app.base, Some(&sender_cookie), None)
        .await
        .unwrap();
    let text = "x".repeat(1900);
    let mut sent = Vec::new();
    let mut cut_off = false;
    let started = std::time::Instant::now();
    while !cut_off && started.elapsed() < MAX_WAIT {
        for _ in 0..20 {
            let ack = sender.call("message", json!({ "text": text })).await;
            assert_eq!(ack["ok"], true, "{ack}");
            sent.push(ack["message"]["id"].as_i64().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Its departure is announced once the server has ended it.
        while let Some(diff) = sender.next_within("presence_diff", Duration::ZERO).await {
            cut_off |= diff["left"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["username"] == slow_name.as_str());
        }
    }
    assert!(
        cut_off,
        "still connected after {} unread messages",
        sent.len()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "cut off only once stalled for 5 s"
    );
    // The fast client got everything.
    let mut fast_ids = Vec::new();
    while let Some(m) = sender.next_within("message", Duration::from_secs(5)).await {
        fast_ids.push(m["id"].as_i64().unwrap());
        if fast_ids.len() == sent.len() {
            break;
        }
    }
    assert_eq!(fast_ids, sent);

    // What the stalled client was sent is a gapless run from the first
    // message, and then the connection ends.
    let (got, ended) = read_to_end(&mut stalled).await;
    assert!(ended, "the stalled client is disconnected");
    assert!(
        !got.is_empty() && got.len() < sent.len(),
        "got {}",
        got.len()
    );
    assert_eq!(got, sent[..got.len()], "no gap in what it was sent");

    // Reconnecting, it asks for what came after the last id it saw.
    let resumed = resume(&app.base, &slow_cookie, got).await;
    assert_eq!(resumed, sent);
}

type Stalled = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A client with a tiny receive buffer that reads nothing after joining.
async fn stalled_client(base: &str, cookie: &str) -> Stalled {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let tcp = TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let mut request = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    let (mut stalled, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let open = next_text(&mut stalled).await.unwrap();
    assert!(open.starts_with('0'), "{open}");
    stalled.send(Message::text("40")).await.unwrap();
    loop {
        let frame = next_text(&mut stalled).await.unwrap();
        if frame == "2" {
            stalled.send(Message::text("3")).await.unwrap();
            continue;
        }
        assert!(frame.starts_with("40"), "{frame}");
        return stalled;
    }
}

/// The message ids it was sent, and whether the connection then ended.
async fn read_to_end(stalled: &mut Stalled) -> (Vec<i64>, bool) {
    let mut got = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), stalled.next()).await
    {
        let Ok(Message::Text(frame)) = frame else {
            return (got, true);
        };
        let frame = frame.as_str();
        if let Some(event) = frame.strip_prefix("42") {
            let event: Value = serde_json::from_str(event).unwrap();
            if event[0] == "message" {
                got.push(event[1]["id"].as_i64().unwrap());
            }
        } else if frame.starts_with("41") || frame.starts_with('1') {
            return (got, true);
        }
    }
    (got, false)
}

/// `seen` followed by every id history has after its last one.
async fn resume(base: &str, cookie: &str, seen: Vec<i64>) -> Vec<i64> {
    let mut client = sio::connect(base, Some(cookie), None).await.unwrap();
    let mut ids = seen;
    loop {
        let after = ids.last().copied().unwrap_or(0);
        let page = client
            .call("history", json!({ "after": after, "limit": 100 }))
            .await;
        let messages = page["messages"].as_array().unwrap();
        if messages.is_empty() {
            return ids;
        }
        ids.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
    }
}

#[tokio::test]
async fn a_full_socket_buffer_disconnects_the_room_rather_than_leave_a_gap() {
    let app = spawn_with(|config| {
        config.chat_rate = 1_000_000.0;
        config.socket_buffer = 16;
    })
    .await;
    let (_, _, sender_cookie) = app.user_with_cookie("fast").await;
    let (_, _, slow_cookie) = app.user_with_cookie("stalled").await;
    let mut stalled = stalled_client(&app.base, &slow_cookie).await;

    let text = "x".repeat(1900);
    let started = std::time::Instant::now();
    let mut sender = sio::connect(&app.base, Some(&sender_cookie), None)
        .await
        .unwrap();
    let mut sender_dropped = false;
    loop {
        assert!(
            started.elapsed() < MAX_WAIT,
            "the stalled client was never cut"
        );
        for _ in 0..20 {
            if sender.closed_within(Duration::ZERO).await
                || sender
                    .try_call("message", json!({ "text": text }))
                    .await
                    .is_none()
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if sender.closed_within(Duration::ZERO).await {
            // The room was disconnected; the sender comes back.
            sender_dropped = true;
            sender = sio::connect(&app.base, Some(&sender_cookie), None)
                .await
                .unwrap();
        }
        let presence = sender.call("presence", json!({})).await;
        if presence["count"] == 1 {
            break;
        }
    }
    // A stall would cut the stalled client alone.
    assert!(sender_dropped, "everyone in the room was disconnected");

    let (got, ended) = read_to_end(&mut stalled).await;
    assert!(ended, "the stalled client is disconnected");
    let stored = resume(&app.base, &sender_cookie, Vec::new()).await;
    assert!(
        !got.is_empty() && got.len() < stored.len(),
        "got {}",
        got.len()
    );
    assert_eq!(got, stored[..got.len()], "no gap in what it was sent");
    assert_eq!(resume(&app.base, &slow_cookie, got).await, stored);
}

async fn next_text<S>(stream: &mut S) -> Option<String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}
