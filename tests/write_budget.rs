//! Posting over REST, and the one per-account budget every broadcast write
//! takes from — new messages, edits, deletes and reactions, over REST and
//! the socket alike.

mod common;

use std::time::Duration;

use common::rooms::{self, assert_ack_error, assert_error, drain, THUMBS};
use common::spawn_with;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn rest_posting_acks_and_broadcasts_like_the_socket_event() {
    let app = spawn_with(|_| {}).await;
    let alice = rooms::user(&app, "poster").await;
    let bob = rooms::user(&app, "reader").await;
    let listener = rooms::connect(&app, &bob).await;
    let mut own = rooms::connect(&app, &alice).await;
    listener.clear("message");

    let (status, body) = rooms::post(
        &app,
        &alice,
        "/api/v1/rooms/global/messages",
        json!({"text": "  over REST  ", "client_id": "c-41_x"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let message = &body["message"];
    assert_eq!(message["text"], "over REST");
    assert_eq!(message["room"], "global");
    assert_eq!(message["author"]["id"], alice.id);
    assert_eq!(message["client_id"], "c-41_x", "the sender's id is echoed");
    let seen = listener.next("message").await;
    assert_eq!(seen["id"], message["id"]);
    assert_eq!(seen["client_id"], "c-41_x");
    let mine = own.next("message").await;
    assert_eq!(mine["id"], message["id"], "the sender's sockets get it too");
    // History has it, without the client's id.
    let (_, history) = rooms::get(&app, &bob, "/api/v1/rooms/global/messages").await;
    let stored = history["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(stored["id"], message["id"]);
    assert!(stored.get("client_id").is_none(), "{stored}");
    // The socket event echoes it the same way.
    let ack = own
        .call(
            "message",
            json!({"text": "over the socket", "client_id": "s-1"}),
        )
        .await;
    assert_eq!(ack["message"]["client_id"], "s-1", "{ack}");

    // The same validation and access as the socket event.
    assert_error(
        &rooms::post(
            &app,
            &alice,
            "/api/v1/rooms/global/messages",
            json!({"text": "   "}),
        )
        .await,
        422,
        "validation_failed",
        "empty text",
    );
    assert_error(
        &rooms::post(
            &app,
            &alice,
            "/api/v1/rooms/global/messages",
            json!({"text": "x", "client_id": "no spaces"}),
        )
        .await,
        422,
        "validation_failed",
        "a bad client id",
    );
    let dm = rooms::open_dm(&app, &bob, &rooms::user(&app, "third").await.name).await;
    let dm_path = format!("/api/v1/rooms/{}/messages", dm["id"].as_str().unwrap());
    assert_error(
        &rooms::post(&app, &alice, &dm_path, json!({"text": "let me in"})).await,
        404,
        "not_found",
        "someone else's DM",
    );
    rooms::create_room(&app, &bob, &format!("closed{}", bob.id)).await;
    assert_error(
        &rooms::post(
            &app,
            &alice,
            &format!("/api/v1/rooms/closed{}/messages", bob.id),
            json!({"text": "hi"}),
        )
        .await,
        403,
        "forbidden",
        "a room not joined",
    );
    assert_error(
        &rooms::post(
            &app,
            &alice,
            "/api/v1/rooms/no-such-room/messages",
            json!({"text": "hi"}),
        )
        .await,
        404,
        "not_found",
        "no such room",
    );
    let signed_out = reqwest::Client::new()
        .post(app.url("/api/v1/rooms/global/messages"))
        .json(&json!({"text": "anonymous"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 401);
}

#[tokio::test]
async fn every_broadcast_write_takes_from_one_budget_on_every_path() {
    // Two messages a second, bursts of ten.
    let app = spawn_with(|c| c.chat_rate = 2.0).await;
    let alice = rooms::user(&app, "writer").await;
    let bob = rooms::user(&app, "watcher").await;
    let mut socket = rooms::connect(&app, &alice).await;
    let watcher = rooms::connect(&app, &bob).await;
    let first = rooms::send(&mut socket, "global", "original").await;
    let id = rooms::id_of(&first);

    // Sixty edits of 1,900 characters at once over REST.
    let long = "e".repeat(1900);
    let path = format!("/api/v1/messages/{id}");
    let answers = join_all((0..60).map(|_| {
        let alice = &alice;
        let app = &app;
        let path = path.clone();
        let text = long.clone();
        async move {
            let response = alice
                .http
                .patch(app.url(&path))
                .json(&json!({ "text": text }))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.headers().contains_key("retry-after"),
            )
        }
    }))
    .await;
    let edited = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(edited + limited.len(), 60, "{answers:?}");
    assert!(edited <= 11, "{edited} edits passed a burst of ten");
    assert!(
        limited.iter().all(|(_, retry)| *retry),
        "429 carries Retry-After"
    );

    // Reactions over the socket take from the same budget: empty now.
    let mut refused = 0;
    for on in [true, false, true, false, true] {
        let event = if on { "react" } else { "unreact" };
        let ack = socket.call(event, json!({"id": id, "emoji": THUMBS})).await;
        if ack["ok"] == false {
            assert_ack_error(&ack, "rate_limited", event);
            refused += 1;
        }
    }
    assert!(refused >= 3, "{refused} of 5 reaction changes refused");
    // And so do new messages, REST and socket.
    let rest = rooms::post(
        &app,
        &alice,
        "/api/v1/rooms/global/messages",
        json!({"text": "more"}),
    )
    .await;
    assert_error(&rest, 429, "rate_limited", "a post with no budget left");
    let ack = socket.call("message", json!({"text": "more"})).await;
    assert_ack_error(&ack, "rate_limited", "a socket post with no budget left");
    let delete = rooms::api(&app, &alice, Method::DELETE, &path, None).await;
    assert_error(&delete, 429, "rate_limited", "a delete with no budget left");

    // Listeners saw only what was accepted.
    let updates = drain(&watcher, "message_updated", Duration::from_millis(500)).await;
    assert!(
        updates.len() <= edited + 2,
        "{} updates for {edited} edits",
        updates.len()
    );

    // Another account is not affected.
    let mut other = rooms::connect(&app, &bob).await;
    rooms::send(&mut other, "global", "my own budget").await;
    // The budget refills.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ack = socket.call("message", json!({"text": "later"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
}
