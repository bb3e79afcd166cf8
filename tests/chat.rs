//! Live chat over Socket.IO: the handshake gate, messages, history,
//! presence, typing, disconnects and ordering under concurrency.

mod common;

use std::time::Duration;

use common::sio::{self, ConnectError, SioClient};
use common::{spawn_app, spawn_with, TestApp};
use serde_json::{json, Value};

async fn connect(app: &TestApp, cookie: &str) -> SioClient {
    sio::connect(&app.base, Some(cookie), None)
        .await
        .expect("socket connects")
}

async fn send(client: &mut SioClient, text: &str) -> Value {
    let ack = client.call("message", json!({ "text": text })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    ack["message"].clone()
}

#[tokio::test]
async fn handshake_without_a_session_is_refused() {
    let app = spawn_app().await;
    for cookie in [None, Some("chatroom_session=forged")] {
        match sio::connect(&app.base, cookie, None).await {
            Err(ConnectError::Refused(payload)) => {
                assert_eq!(payload, json!({"message": "unauthenticated"}))
            }
            Err(other) => panic!("expected a connect error, got {other:?}"),
            Ok(_) => panic!("connected without a session"),
        }
    }
}

#[tokio::test]
async fn cross_site_handshake_is_refused() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("cswsh").await;
    match sio::connect(&app.base, Some(&cookie), Some("https://evil.example")).await {
        Err(ConnectError::Refused(payload)) => assert_eq!(payload["message"], "unauthenticated"),
        other => panic!("expected refusal, got {:?}", other.err()),
    }
    // Our own origin is fine.
    let ok = sio::connect(&app.base, Some(&cookie), Some(&app.base)).await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn two_users_see_each_others_messages_with_the_same_ids() {
    let app = spawn_app().await;
    let (alice_name, alice_id, alice_cookie) = app.user_with_cookie("alice").await;
    let (_, _, bob_cookie) = app.user_with_cookie("bob").await;
    let mut alice = connect(&app, &alice_cookie).await;
    let bob = connect(&app, &bob_cookie).await;

    let acked = send(&mut alice, "  hello bob  ").await;
    assert_eq!(acked["text"], "hello bob", "text is trimmed");
    assert_eq!(acked["room"], "global");
    assert_eq!(acked["author"]["id"], alice_id);
    assert_eq!(acked["author"]["username"], alice_name.as_str());
    assert!(acked["author"]["avatar_url"].is_string());
    assert!(acked["created_at"].as_str().unwrap().ends_with('Z'));

    let received = bob.next("message").await;
    assert_eq!(received, acked, "broadcast equals the ack");
    let echoed = alice.next("message").await;
    assert_eq!(
        echoed["id"], acked["id"],
        "the sender gets the broadcast too"
    );

    let second = send(&mut alice, "again").await;
    assert!(second["id"].as_i64() > acked["id"].as_i64());
}

#[tokio::test]
async fn invalid_messages_get_error_acks_and_the_socket_stays() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("val").await;
    let mut client = connect(&app, &cookie).await;
    let bad = [
        json!({"text": ""}),
        json!({"text": "   \n  "}),
        json!({"text": "x".repeat(2001)}),
        json!({"text": "bell\u{7}"}),
        json!({"text": 42}),
        json!({}),
        json!("just a string"),
        json!(null),
    ];
    for payload in bad {
        let ack = client.call("message", payload.clone()).await;
        assert_eq!(ack["ok"], false, "{payload}");
        assert_eq!(ack["error"]["code"], "validation_failed", "{payload}");
        assert!(ack["error"]["message"].is_string());
    }
    let ok = send(&mut client, &"é".repeat(2000)).await;
    assert_eq!(ok["text"].as_str().unwrap().chars().count(), 2000);
    let history = client.call("history", json!({})).await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        1,
        "nothing invalid was stored"
    );
}

#[tokio::test]
async fn chat_rate_limit_answers_rate_limited() {
    let app = spawn_with(|c| c.chat_rate = 1.0).await;
    let (_, _, cookie) = app.user_with_cookie("spam").await;
    let mut client = connect(&app, &cookie).await;
    let mut limited = 0;
    for i in 0..30 {
        let ack = client
            .call("message", json!({ "text": format!("m{i}") }))
            .await;
        if ack["ok"] == false {
            assert_eq!(ack["error"]["code"], "rate_limited");
            limited += 1;
        }
    }
    assert!(
        limited >= 15,
        "a burst of 30 at 1/s is mostly refused ({limited})"
    );
    let history = client.call("history", json!({"limit": 100})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 30 - limited);
}

#[tokio::test]
async fn history_pages_before_and_after_and_rest_agrees() {
    let app = spawn_app().await;
    let (name, _, cookie) = app.user_with_cookie("hist").await;
    let mut client = connect(&app, &cookie).await;
    let mut ids = Vec::new();
    for i in 0..120 {
        ids.push(
            send(&mut client, &format!("message {i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let ids_of = |v: &Value| -> Vec<i64> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect()
    };
    let latest = client.call("history", json!({})).await;
    assert_eq!(latest["ok"], true);
    assert_eq!(
        ids_of(&latest),
        ids[70..].to_vec(),
        "newest 50, oldest first"
    );

    let before = client
        .call("history", json!({"before": ids[70], "limit": 30}))
        .await;
    assert_eq!(ids_of(&before), ids[40..70].to_vec());

    let after = client
        .call("history", json!({"after": ids[10], "limit": 5}))
        .await;
    assert_eq!(ids_of(&after), ids[11..16].to_vec());

    let capped = client.call("history", json!({"limit": 1000})).await;
    assert_eq!(ids_of(&capped).len(), 100);

    let bad = client.call("history", json!({"before": "soon"})).await;
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["error"]["code"], "validation_failed");

    let http = app.client();
    let login = app
        .post_json(
            &http,
            "/api/v1/auth/login",
            json!({"username": name, "password": common::PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let rest: Value = http
        .get(app.url(&format!(
            "/api/v1/rooms/global/messages?before={}&limit=30",
            ids[70]
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["messages"], before["messages"],
        "REST and socket history agree"
    );
    let rest_after: Value = http
        .get(app.url(&format!(
            "/api/v1/rooms/global/messages?after={}&limit=5",
            ids[10]
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest_after["messages"], after["messages"]);

    let invalid = http
        .get(app.url("/api/v1/rooms/global/messages?limit=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let other_room = http
        .get(app.url("/api/v1/rooms/elsewhere/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_room.status(), 404);
    let anonymous = app
        .client()
        .get(app.url("/api/v1/rooms/global/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn presence_lists_each_user_once_and_announces_changes() {
    let app = spawn_app().await;
    let (alice_name, alice_id, alice_cookie) = app.user_with_cookie("pa").await;
    let (bob_name, bob_id, bob_cookie) = app.user_with_cookie("pb").await;

    let alice = connect(&app, &alice_cookie).await;
    let first = alice.next("presence").await;
    assert_eq!(first["count"], 1);
    assert_eq!(first["online"][0]["username"], alice_name.as_str());
    assert!(first["online"][0]["avatar_url"].is_string());
    // Alice's own arrival may be announced; drain it.
    let _ = alice
        .next_within("presence_diff", Duration::from_millis(600))
        .await;

    let bob_tab1 = connect(&app, &bob_cookie).await;
    let diff = alice.next("presence_diff").await;
    assert_eq!(
        diff["joined"],
        json!([{ "id": bob_id, "username": bob_name, "avatar_url": diff["joined"][0]["avatar_url"] }])
    );
    assert_eq!(diff["count"], 2);

    let mut bob_tab2 = connect(&app, &bob_cookie).await;
    assert!(
        alice
            .next_within("presence_diff", Duration::from_millis(800))
            .await
            .is_none(),
        "a second tab is not news"
    );
    let listed = bob_tab2.call("presence", json!({})).await;
    assert_eq!(listed["ok"], true);
    assert_eq!(listed["count"], 2, "bob is listed once: {listed}");
    let ids: Vec<i64> = listed["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&alice_id) && ids.contains(&bob_id));

    bob_tab1.close();
    assert!(
        alice
            .next_within("presence_diff", Duration::from_millis(800))
            .await
            .is_none(),
        "bob still has a tab open"
    );
    bob_tab2.close();
    let diff = alice.next("presence_diff").await;
    assert_eq!(
        diff["left"],
        json!([{ "id": bob_id, "username": bob_name }])
    );
    assert_eq!(diff["count"], 1);
}

#[tokio::test]
async fn typing_reaches_others_but_not_the_typist() {
    let app = spawn_app().await;
    let (alice_name, alice_id, alice_cookie) = app.user_with_cookie("ta").await;
    let (_, _, bob_cookie) = app.user_with_cookie("tb").await;
    let alice = connect(&app, &alice_cookie).await;
    let bob = connect(&app, &bob_cookie).await;
    alice.emit("typing", json!({}));
    let typing = bob.next("typing").await;
    assert_eq!(
        typing,
        json!({ "user": { "id": alice_id, "username": alice_name }, "room": "global" })
    );
    assert!(alice
        .next_within("typing", Duration::from_millis(400))
        .await
        .is_none());
}

#[tokio::test]
async fn logout_disconnects_that_sessions_sockets_only() {
    let app = spawn_app().await;
    let (name, _, cookie) = app.user_with_cookie("lo").await;
    let other_cookie = app.session_cookie(&name).await;
    let doomed = connect(&app, &cookie).await;
    let mut survivor = connect(&app, &other_cookie).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        doomed.closed_within(Duration::from_secs(5)).await,
        "logged-out socket is closed"
    );
    assert!(!survivor.closed_within(Duration::from_millis(300)).await);
    send(&mut survivor, "still here").await;
    // The dead cookie cannot reconnect.
    assert!(matches!(
        sio::connect(&app.base, Some(&cookie), None).await,
        Err(ConnectError::Refused(_))
    ));
}

#[tokio::test]
async fn unknown_events_and_garbage_frames_do_not_hurt_anyone() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("gar").await;
    let (_, _, watcher_cookie) = app.user_with_cookie("watch").await;
    let mut client = connect(&app, &cookie).await;
    let watcher = connect(&app, &watcher_cookie).await;
    let ack = client.call("no_such_event", json!({"x": 1})).await;
    assert_eq!(ack["ok"], false);
    assert_eq!(ack["error"]["code"], "unknown_event");
    let ack = client
        .call("history", json!({"limit": {"deep": [1, 2]}}))
        .await;
    assert_eq!(ack["ok"], false);

    // Garbage from one client only ends that client, if anything.
    let (_, _, rogue_cookie) = app.user_with_cookie("rogue").await;
    let rogue = connect(&app, &rogue_cookie).await;
    for frame in [
        "42[",
        "42{\"a\":1}",
        "4",
        "9999",
        "42[123]",
        "\u{0}\u{1}",
        "43abc[]",
    ] {
        rogue.send_raw(frame);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ok = send(&mut client, "after garbage").await;
    let seen = watcher.next("message").await;
    assert_eq!(seen["id"], ok["id"]);
    let health = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn fifty_concurrent_senders_every_message_stored_once_same_order_everywhere() {
    let app = spawn_app().await;
    let mut listeners = Vec::new();
    for _ in 0..3 {
        let (_, _, cookie) = app.user_with_cookie("listen").await;
        listeners.push(connect(&app, &cookie).await);
    }
    let mut senders = Vec::new();
    for _ in 0..50 {
        let (_, _, cookie) = app.user_with_cookie("send").await;
        senders.push(connect(&app, &cookie).await);
    }
    const EACH: usize = 4;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(s, mut client)| {
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..EACH {
                    let ack = client
                        .call("message", json!({ "text": format!("s{s} m{i}") }))
                        .await;
                    assert_eq!(ack["ok"], true, "{ack}");
                    acked.push(ack["message"]["id"].as_i64().unwrap());
                }
                (client, acked)
            })
        })
        .collect();
    let mut all_acked = Vec::new();
    let mut keep = Vec::new();
    for task in tasks {
        let (client, acked) = task.await.unwrap();
        all_acked.extend(acked);
        keep.push(client);
    }
    let total = 50 * EACH;
    all_acked.sort_unstable();
    all_acked.dedup();
    assert_eq!(all_acked.len(), total, "every ack has its own id");

    let mut orders = Vec::new();
    for listener in &listeners {
        let mut seen = Vec::new();
        for _ in 0..total {
            seen.push(listener.next("message").await["id"].as_i64().unwrap());
        }
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "delivered in id order"
        );
        orders.push(seen);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "everyone saw the same order"
    );
    assert_eq!(orders[0], all_acked);
    let stored = chatroom::db::messages::count(&app.state.db, "global")
        .await
        .unwrap();
    assert_eq!(stored as usize, total, "each message stored exactly once");
}

#[tokio::test]
async fn long_polling_transport_works() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("poll").await;
    let (_, _, ws_cookie) = app.user_with_cookie("wsu").await;
    let mut ws = connect(&app, &ws_cookie).await;
    let http = reqwest::Client::new();
    let base = app.url("/socket.io/?EIO=4&transport=polling");
    let open = http
        .get(&base)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(open.starts_with('0'), "{open}");
    let handshake: Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    let session_url = format!("{base}&sid={sid}");
    let post = http
        .post(&session_url)
        .header("cookie", &cookie)
        .body("40")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let mut buffer = String::new();
    for _ in 0..5 {
        let got = http
            .get(&session_url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        buffer.push_str(&got);
        buffer.push('\u{1e}');
        if buffer.contains("\"presence\"") {
            break;
        }
    }
    assert!(buffer.contains("40{"), "namespace connected: {buffer}");
    assert!(
        buffer.contains("\"presence\""),
        "presence list arrived: {buffer}"
    );
    // Send a message with an ack over polling.
    let post = http
        .post(&session_url)
        .header("cookie", &cookie)
        .body("421[\"message\",{\"text\":\"via polling\"}]")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let mut replies = String::new();
    for _ in 0..5 {
        let got = http
            .get(&session_url)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        replies.push_str(&got);
        if replies.contains("431[") {
            break;
        }
    }
    assert!(
        replies.contains("431[{") && replies.contains("\"ok\":true"),
        "{replies}"
    );
    let seen = ws.next("message").await;
    assert_eq!(seen["text"], "via polling");
    let _ = ws.call("presence", json!({})).await;
}

#[tokio::test]
async fn events_sent_right_after_connecting_are_answered() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("eager").await;
    for i in 0..20 {
        let mut client = connect(&app, &cookie).await;
        let ack = client
            .call("message", json!({ "text": format!("hello {i}") }))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        let history = client.call("history", json!({"limit": 1})).await;
        assert_eq!(history["ok"], true);
        client.close();
    }
}

#[tokio::test]
async fn a_flood_of_events_from_one_socket_gets_rate_limited_acks() {
    let app = spawn_with(|c| c.chat_rate = 1.0).await;
    let (_, _, cookie) = app.user_with_cookie("flood").await;
    let (_, _, other_cookie) = app.user_with_cookie("calm").await;
    let mut client = connect(&app, &cookie).await;
    let mut limited = 0;
    for _ in 0..200 {
        let ack = client.call("history", json!({"limit": 1})).await;
        if ack["ok"] == false {
            assert_eq!(ack["error"]["code"], "rate_limited");
            limited += 1;
        }
    }
    assert!(
        limited > 100,
        "most of a 200-event burst is refused ({limited})"
    );
    // Others are unaffected.
    let mut calm = connect(&app, &other_cookie).await;
    let ack = calm.call("history", json!({})).await;
    assert_eq!(ack["ok"], true);
}

#[tokio::test]
async fn presence_lists_25_people_on_connect_200_on_request_and_counts_everyone() {
    let app = spawn_app().await;
    let (_, cookies) = chatroom::admin::seed::run_with_sessions(
        &app.state.db,
        "crowd",
        205,
        common::PASSWORD,
        true,
    )
    .await
    .unwrap();
    let mut sockets = Vec::new();
    for (_, cookie) in &cookies {
        sockets.push(connect(&app, cookie).await);
    }
    // Someone whose name sorts after everyone else is still listed to themself.
    let (me, _, cookie) = app.user_with_cookie("zzz").await;
    let mut late = connect(&app, &cookie).await;
    // On connect, a short list.
    let presence = late.next("presence").await;
    assert_eq!(presence["count"], 206);
    let first = presence["online"].as_array().unwrap();
    assert_eq!(first.len(), 25);
    assert!(
        first.iter().any(|u| u["username"] == me.as_str()),
        "the user sees themself"
    );
    // On request, up to 200.
    let asked = late.call("presence", json!({})).await;
    assert_eq!(asked["ok"], true);
    assert_eq!(asked["count"], 206);
    let online = asked["online"].as_array().unwrap();
    assert_eq!(online.len(), 200);
    assert!(
        online.iter().any(|u| u["username"] == me.as_str()),
        "the user sees themself"
    );
    assert!(online
        .iter()
        .all(|u| u["username"].as_str().unwrap().starts_with("crowd")
            || u["username"] == me.as_str()));
    // Changes arrive in small events.
    let diff = sockets[0].next("presence_diff").await;
    assert!(
        diff["joined"].as_array().unwrap().len() + diff["left"].as_array().unwrap().len() <= 50
    );
    // Past 200 online an arrival only moves the count; a departure is named.
    let arrival = diff_with_count(&sockets[0], 206).await;
    assert_eq!(arrival["joined"], json!([]), "{arrival}");
    late.close();
    let departure = diff_with_count(&sockets[0], 205).await;
    assert_eq!(departure["left"][0]["username"], me.as_str(), "{departure}");
}

/// The first `presence_diff` carrying this count (earlier ones are skipped).
async fn diff_with_count(socket: &SioClient, count: u64) -> Value {
    loop {
        let diff = socket
            .next_within("presence_diff", Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no presence_diff with count {count}"));
        if diff["count"] == count {
            return diff;
        }
    }
}

#[tokio::test]
async fn a_handshake_the_database_cannot_check_is_refused_as_unavailable() {
    if common::on_postgres() {
        return; // SQLite's file, changed from outside.
    }
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("busy").await;
    let url = format!("sqlite://{}", app.db_path().display());
    let mut blocker = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    // The session cannot be read at all.
    sqlx::query("ALTER TABLE sessions RENAME TO sessions_away")
        .execute(&mut blocker)
        .await
        .unwrap();
    match sio::connect(&app.base, Some(&cookie), None).await {
        Err(ConnectError::Refused(payload)) => {
            assert_eq!(
                payload["message"], "unavailable",
                "not a reason to send the user to /login"
            )
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
    sqlx::query("ALTER TABLE sessions_away RENAME TO sessions")
        .execute(&mut blocker)
        .await
        .unwrap();
    drop(blocker);
    assert!(sio::connect(&app.base, Some(&cookie), None).await.is_ok());
}

#[tokio::test]
async fn a_handshake_writes_nothing_so_reconnects_need_no_write_lock() {
    if common::on_postgres() {
        return; // SQLite locking.
    }
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("storm").await;
    let url = format!("sqlite://{}", app.db_path().display());
    let mut blocker = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    // A session unused for two minutes; someone else holds the write lock.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 120000")
        .execute(&mut blocker)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let connected = sio::connect(&app.base, Some(&cookie), None).await;
    assert!(connected.is_ok(), "{:?}", connected.err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the handshake waited for the write lock"
    );
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
}
