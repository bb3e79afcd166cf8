//! Helpers shared by the rooms, direct-message and message-change suites
//! (docs/rooms.md).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};

use super::sio::{self, SioClient};
use super::TestApp;

/// How long to keep listening when proving that an event does not arrive
/// (always after a later event that did arrive).
pub const QUIET: Duration = Duration::from_millis(400);

/// The six allowed reactions; ❤️ is U+2764 U+FE0F.
pub const EMOJIS: [&str; 6] = [
    "\u{1F44D}",
    "\u{2764}\u{FE0F}",
    "\u{1F602}",
    "\u{1F389}",
    "\u{1F62E}",
    "\u{1F622}",
];
pub const THUMBS: &str = "\u{1F44D}";
pub const HEART: &str = "\u{2764}\u{FE0F}";

/// A signed-in user: name, id, session cookie and an HTTP client using it.
pub struct User {
    pub name: String,
    pub id: i64,
    pub cookie: String,
    pub http: reqwest::Client,
}

/// Registers a fresh user.
pub async fn user(app: &TestApp, prefix: &str) -> User {
    let (name, id, cookie) = app.user_with_cookie(prefix).await;
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    User {
        name,
        id,
        cookie,
        http,
    }
}

/// Sends a request as `user`; returns the status and the JSON body
/// (`Null` when empty).
pub async fn api(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = user.http.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

pub async fn get(app: &TestApp, user: &User, path: &str) -> (u16, Value) {
    api(app, user, Method::GET, path, None).await
}

pub async fn put(app: &TestApp, user: &User, path: &str) -> (u16, Value) {
    api(app, user, Method::PUT, path, None).await
}

pub async fn delete(app: &TestApp, user: &User, path: &str) -> (u16, Value) {
    api(app, user, Method::DELETE, path, None).await
}

pub async fn post(app: &TestApp, user: &User, path: &str, body: Value) -> (u16, Value) {
    api(app, user, Method::POST, path, Some(body)).await
}

pub async fn patch(app: &TestApp, user: &User, path: &str, body: Value) -> (u16, Value) {
    api(app, user, Method::PATCH, path, Some(body)).await
}

/// Asserts an error answer: status and `error.code`.
#[track_caller]
pub fn assert_error(answer: &(u16, Value), status: u16, code: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{what}: {}", answer.1);
    assert!(
        answer.1["error"]["message"].is_string(),
        "{what}: {}",
        answer.1
    );
}

/// Asserts a failed socket ack with this code.
#[track_caller]
pub fn assert_ack_error(ack: &Value, code: &str, what: &str) {
    assert_eq!(ack["ok"], false, "{what}: {ack}");
    assert_eq!(ack["error"]["code"], code, "{what}: {ack}");
    assert!(ack["error"]["message"].is_string(), "{what}: {ack}");
}

/// Creates a public room; returns the room object.
pub async fn create_room(app: &TestApp, user: &User, name: &str) -> Value {
    let answer = post(app, user, "/api/v1/rooms", json!({ "name": name })).await;
    assert_eq!(answer.0, 201, "create {name}: {}", answer.1);
    answer.1["room"].clone()
}

/// Joins a room over REST; returns the room object.
pub async fn join(app: &TestApp, user: &User, room: &str) -> Value {
    let answer = put(app, user, &format!("/api/v1/rooms/{room}/membership")).await;
    assert_eq!(answer.0, 200, "join {room}: {}", answer.1);
    answer.1["room"].clone()
}

/// Leaves a room over REST.
pub async fn leave(app: &TestApp, user: &User, room: &str) {
    let answer = delete(app, user, &format!("/api/v1/rooms/{room}/membership")).await;
    assert_eq!(answer.0, 204, "leave {room}: {}", answer.1);
}

/// Opens (or finds) the DM with `peer`; returns the room object.
pub async fn open_dm(app: &TestApp, user: &User, peer: &str) -> Value {
    let answer = post(app, user, "/api/v1/dms", json!({ "username": peer })).await;
    assert_eq!(answer.0, 200, "dm with {peer}: {}", answer.1);
    answer.1["room"].clone()
}

/// The expected id of the DM between two users.
pub fn dm_id(a: i64, b: i64) -> String {
    format!("dm:{}:{}", a.min(b), a.max(b))
}

/// `GET /api/v1/me/rooms`.
pub async fn my_rooms(app: &TestApp, user: &User) -> Vec<Value> {
    let answer = get(app, user, "/api/v1/me/rooms").await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    answer.1["rooms"].as_array().expect("rooms").clone()
}

/// One room of `GET /api/v1/me/rooms`, if listed.
pub async fn my_room(app: &TestApp, user: &User, room: &str) -> Option<Value> {
    my_rooms(app, user)
        .await
        .into_iter()
        .find(|r| r["id"] == room)
}

/// Ids of a list of rooms or messages.
pub fn ids(list: &[Value]) -> Vec<Value> {
    list.iter().map(|v| v["id"].clone()).collect()
}

/// `{"messages": [...]}` → the message ids.
pub fn message_ids(body: &Value) -> Vec<i64> {
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

pub async fn connect(app: &TestApp, user: &User) -> SioClient {
    sio::connect(&app.base, Some(&user.cookie), None)
        .await
        .expect("socket connects")
}

/// Sends a message to a room over the socket; returns the acked message.
pub async fn send(socket: &mut SioClient, room: &str, text: &str) -> Value {
    let ack = socket
        .call("message", json!({ "text": text, "room": room }))
        .await;
    assert_eq!(ack["ok"], true, "send to {room}: {ack}");
    ack["message"].clone()
}

/// Lets the clock move on a millisecond, so that activity times differ.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// The id of a message object.
pub fn id_of(message: &Value) -> i64 {
    message["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {message}"))
}

/// Waits for the `message` event with this text; returns every `message`
/// event that came before it, and it last.
pub async fn messages_until(socket: &SioClient, text: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = socket
            .next_within("message", Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no message {text:?} arrived; saw {seen:?}"));
        let done = message["text"] == text;
        seen.push(message);
        if done {
            return seen;
        }
    }
}

/// Every event of this name already queued (waits `wait` for stragglers).
pub async fn drain(socket: &SioClient, event: &str, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match socket.next_within(event, left).await {
            Some(value) => out.push(value),
            None => return out,
        }
    }
}

/// URL-encodes every byte of a path segment.
pub fn encode(segment: &str) -> String {
    segment.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The reaction entry for `emoji` in a message, if any.
pub fn reaction<'a>(message: &'a Value, emoji: &str) -> Option<&'a Value> {
    message["reactions"]
        .as_array()
        .unwrap_or_else(|| panic!("no reactions in {message}"))
        .iter()
        .find(|r| r["emoji"] == emoji)
}

/// Sorted user ids of a reaction entry.
pub fn reaction_user_ids(entry: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = entry["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    ids.sort_unstable();
    ids
}
