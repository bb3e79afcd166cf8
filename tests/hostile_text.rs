//! Text no field may hold — NUL bytes, undecodable path segments, payloads
//! that are not objects — is refused at the edge with a JSON 4xx or an
//! error ack, on every route and event, and never reaches the database
//! (PostgreSQL refuses NUL in text: this suite runs on it too).

mod common;

use common::rooms::{self, assert_ack_error, assert_error, User};
use common::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Sends a raw request (the path as given, not re-encoded).
async fn raw(
    app: &TestApp,
    user: Option<&User>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let client = match user {
        Some(user) => user.http.clone(),
        None => reqwest::Client::new(),
    };
    let mut request = client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

#[track_caller]
fn assert_json_error(answer: &(u16, String, Value), status: u16, code: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {:?}", answer.2);
    assert!(
        answer.1.starts_with("application/json"),
        "{what}: {}",
        answer.1
    );
    assert_eq!(answer.2["error"]["code"], code, "{what}: {:?}", answer.2);
}

#[tokio::test]
async fn nul_bytes_in_paths_queries_and_bodies_are_refused_everywhere() {
    let app = spawn_app().await;
    let me = rooms::user(&app, "nul").await;
    let room = rooms::create_room(&app, &me, &format!("nul{}", me.id)).await;
    let room = room["id"].as_str().unwrap().to_owned();

    for (method, path) in [
        (Method::GET, "/api/v1/users/ali%00ce".to_owned()),
        (Method::GET, format!("/api/v1/rooms/{room}%00")),
        (Method::GET, "/api/v1/rooms/%00/messages".to_owned()),
        (Method::POST, format!("/api/v1/rooms/{room}%00x/messages")),
        (Method::PUT, "/api/v1/rooms/a%00b/membership".to_owned()),
        (Method::DELETE, "/api/v1/rooms/a%00b/membership".to_owned()),
        (Method::PUT, "/api/v1/rooms/a%00b/read".to_owned()),
        (Method::DELETE, "/api/v1/me/sessions/1%00".to_owned()),
        (
            Method::PUT,
            "/api/v1/admin/users/a%00b/suspension".to_owned(),
        ),
        (Method::PUT, "/api/v1/messages/1/reactions/%00".to_owned()),
    ] {
        let body = match method {
            Method::POST => Some(json!({"text": "hello"})),
            Method::PUT if path.ends_with("/read") => Some(json!({"last_read_id": 1})),
            _ => None,
        };
        let answer = raw(&app, Some(&me), method.clone(), &path, body).await;
        assert_json_error(&answer, 404, "not_found", &format!("{method} {path}"));
    }

    for path in [
        "/api/v1/rooms?q=a%00b",
        "/api/v1/search?q=hello%00",
        "/api/v1/search?q=hello&room=glo%00bal",
        &format!("/api/v1/rooms/{room}/messages?before=1%00"),
    ] {
        let answer = raw(&app, Some(&me), Method::GET, path, None).await;
        assert_json_error(&answer, 422, "validation_failed", path);
    }

    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "ali\u{0}ce", "password": "whatever it is"}),
            "username",
        ),
        (
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "alice", "password": "pass\u{0}word"}),
            "password",
        ),
        (
            Method::POST,
            "/api/v1/auth/register",
            json!({"username": "x\u{0}yz", "password": "whatever it is"}),
            "username",
        ),
        (
            Method::POST,
            "/api/v1/auth/forgot-password",
            json!({"email": "a\u{0}@b.io"}),
            "email",
        ),
        (
            Method::POST,
            "/api/v1/dms",
            json!({"username": "bob\u{0}"}),
            "username",
        ),
        (
            Method::POST,
            "/api/v1/rooms",
            json!({"name": "ok-name", "topic": "t\u{0}"}),
            "topic",
        ),
        (
            Method::POST,
            &format!("/api/v1/rooms/{room}/messages"),
            json!({"text": "hi\u{0}"}),
            "text",
        ),
        (
            Method::PUT,
            "/api/v1/me/email",
            json!({"email": "x@y.io", "current_password": "\u{0}"}),
            "current_password",
        ),
    ] {
        let answer = raw(&app, Some(&me), method.clone(), path, Some(body)).await;
        assert_json_error(
            &answer,
            422,
            "validation_failed",
            &format!("{method} {path}"),
        );
        assert!(
            answer.2["error"]["fields"][field].is_string(),
            "{path}: {:?}",
            answer.2
        );
    }

    let mut socket = rooms::connect(&app, &me).await;
    for (event, data) in [
        ("message", json!({"text": "hi", "room": "glo\u{0}bal"})),
        ("message", json!({"text": "hi\u{0}there"})),
        ("history", json!({"room": "\u{0}"})),
        ("read", json!({"room": "a\u{0}b", "id": 1})),
        ("presence", json!({"room": "x\u{0}"})),
        ("edit", json!({"id": 1, "text": "\u{0}"})),
        ("react", json!({"id": 1, "emoji": "\u{0}"})),
    ] {
        let ack = socket.call(event, data.clone()).await;
        assert_ack_error(&ack, "validation_failed", &format!("{event} {data}"));
    }
    // Nothing was stored, and the socket still works.
    let (_, history) = rooms::get(&app, &me, "/api/v1/rooms/global/messages").await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        0,
        "{history}"
    );
    rooms::send(&mut socket, "global", "still here").await;
}

#[tokio::test]
async fn undecodable_path_segments_answer_json_errors() {
    let app = spawn_app().await;
    let me = rooms::user(&app, "ff").await;
    for (method, path) in [
        (Method::PATCH, "/api/v1/messages/%FF"),
        (Method::DELETE, "/api/v1/messages/%FF"),
        (Method::PUT, "/api/v1/messages/%FF/reactions/%FF"),
        (Method::DELETE, "/api/v1/messages/1/reactions/%FF%FE"),
        (Method::PUT, "/api/v1/admin/users/%FF/suspension"),
        (Method::DELETE, "/api/v1/admin/users/%FF/suspension"),
        (Method::GET, "/api/v1/users/%FF"),
        (Method::DELETE, "/api/v1/me/sessions/%FF"),
        (Method::GET, "/api/v1/rooms/%FF"),
        (Method::GET, "/api/v1/rooms/%FF/messages"),
        (Method::PUT, "/api/v1/rooms/%C3%28/membership"),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"text": "x"}));
        let answer = raw(&app, Some(&me), method.clone(), path, body).await;
        assert_json_error(&answer, 404, "not_found", &format!("{method} {path}"));
    }
    // Undecodable query bytes read as U+FFFD: a JSON answer, never a 5xx.
    let answer = raw(&app, Some(&me), Method::GET, "/api/v1/search?q=%FF", None).await;
    assert_json_error(&answer, 422, "validation_failed", "search for %FF");
    let answer = raw(&app, Some(&me), Method::GET, "/api/v1/rooms?q=%FF", None).await;
    assert_eq!(answer.0, 200, "{:?}", answer.2);
    assert!(answer.1.starts_with("application/json"));
    let signed_out = raw(&app, None, Method::GET, "/api/v1/users/%FF", None).await;
    assert_json_error(&signed_out, 404, "not_found", "signed out");
}

#[tokio::test]
async fn event_data_that_is_not_an_object_is_refused() {
    let app = spawn_app().await;
    let me = rooms::user(&app, "shape").await;
    let mut socket = rooms::connect(&app, &me).await;
    rooms::send(&mut socket, "global", "one").await;
    for event in [
        "history", "message", "presence", "read", "edit", "delete", "react", "unreact",
    ] {
        for data in [json!("garbage"), json!(7), json!([1, 2]), json!(true)] {
            let ack = socket.call(event, data.clone()).await;
            assert_ack_error(&ack, "validation_failed", &format!("{event} {data}"));
        }
    }
    // An absent payload is an empty one: the newest history page.
    let ack = socket.call("history", Value::Null).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_types_name_the_real_field() {
    let app = spawn_app().await;
    let me = rooms::user(&app, "fields").await;
    let room = rooms::create_room(&app, &me, &format!("f{}", me.id)).await;
    let room = room["id"].as_str().unwrap().to_owned();
    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/v1/rooms".to_owned(),
            json!({"name": 5}),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/rooms".to_owned(),
            json!({"name": "okay", "topic": []}),
            "topic",
        ),
        (
            Method::PUT,
            format!("/api/v1/rooms/{room}/read"),
            json!({"last_read_id": "x"}),
            "last_read_id",
        ),
        (
            Method::PUT,
            format!("/api/v1/rooms/{room}/read"),
            json!({}),
            "last_read_id",
        ),
        (
            Method::POST,
            format!("/api/v1/rooms/{room}/messages"),
            json!({"text": "x", "client_id": 4}),
            "client_id",
        ),
        (
            Method::POST,
            "/api/v1/dms".to_owned(),
            json!({"username": {}}),
            "username",
        ),
    ] {
        let answer = rooms::api(&app, &me, method.clone(), &path, Some(body)).await;
        assert_error(
            &answer,
            422,
            "validation_failed",
            &format!("{method} {path}"),
        );
        assert!(
            answer.1["error"]["fields"][field].is_string(),
            "{path}: {}",
            answer.1
        );
    }
    let mut socket = rooms::connect(&app, &me).await;
    let ack = socket.call("react", json!({"id": 1, "emoji": 5})).await;
    assert!(ack["error"]["fields"]["emoji"].is_string(), "{ack}");
    let ack = socket.call("read", json!({"room": room, "id": "x"})).await;
    assert!(ack["error"]["fields"]["id"].is_string(), "{ack}");
}
