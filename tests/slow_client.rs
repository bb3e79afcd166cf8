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

/// The most messages sent before the stalled client must have been cut off.
const MAX_SENT: usize = 20_000;

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_resumes_from_history() {
    let app = spawn_with(|config| config.chat_rate = 1_000_000.0).await;
    let (_, _, sender_cookie) = app.user_with_cookie("fast").await;
    let (slow_name, _, slow_cookie) = app.user_with_cookie("stalled").await;

    // The stalled client: a tiny receive buffer, and it reads nothing after
    // joining.
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let tcp = TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let mut request = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", HeaderValue::from_str(&slow_cookie).unwrap());
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
        break;
    }

    let mut sender = sio::connect(&app.base, Some(&sender_cookie), None)
        .await
        .unwrap();
    let text = "x".repeat(1900);
    let mut sent = Vec::new();
    let mut cut_off = false;
    while sent.len() < MAX_SENT && !cut_off {
        for _ in 0..50 {
            let ack = sender.call("message", json!({ "text": text })).await;
            assert_eq!(ack["ok"], true, "{ack}");
            sent.push(ack["message"]["id"].as_i64().unwrap());
        }
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
    let mut got = Vec::new();
    let mut ended = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), stalled.next()).await
    {
        let Ok(Message::Text(frame)) = frame else {
            ended = true;
            break;
        };
        let frame = frame.as_str();
        if let Some(event) = frame.strip_prefix("42") {
            let event: Value = serde_json::from_str(event).unwrap();
            if event[0] == "message" {
                got.push(event[1]["id"].as_i64().unwrap());
            }
        } else if frame.starts_with("41") || frame.starts_with('1') {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stalled client is disconnected");
    assert!(
        !got.is_empty() && got.len() < sent.len(),
        "got {}",
        got.len()
    );
    assert_eq!(got, sent[..got.len()], "no gap in what it was sent");

    // Reconnecting, it asks for what came after the last id it saw.
    let mut again = sio::connect(&app.base, Some(&slow_cookie), None)
        .await
        .unwrap();
    let mut resumed = got.clone();
    loop {
        let last = *resumed.last().unwrap();
        let page = again
            .call("history", json!({ "after": last, "limit": 100 }))
            .await;
        let messages = page["messages"].as_array().unwrap();
        if messages.is_empty() {
            break;
        }
        resumed.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
    }
    assert_eq!(resumed, sent);
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
