//! Public rooms (docs/rooms.md): creating, the directory, joining and
//! leaving, `/me/rooms` with unread counts and read markers, and per-room
//! history, typing and presence, live on connected sockets.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::rooms::{
    assert_ack_error, assert_error, connect, create_room, delete, drain, get, id_of, ids, join,
    leave, message_ids, messages_until, my_room, my_rooms, open_dm, post, send, tick, user, QUIET,
};
use common::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_created_room_is_joined_by_its_creator_and_its_id_is_the_lower_cased_name() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;

    let answer = post(
        &app,
        &alice,
        "/api/v1/rooms",
        json!({"name": "Rust-Fans", "topic": "All about Rust"}),
    )
    .await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    let room = answer.1["room"].clone();
    assert_eq!(room["id"], "rust-fans");
    assert_eq!(room["kind"], "public");
    assert_eq!(room["name"], "Rust-Fans", "shown as typed");
    assert_eq!(room["topic"], "All about Rust");
    assert_eq!(room["member_count"], 1);
    assert_eq!(room["joined"], true);
    assert_eq!(room["peer"], Value::Null);
    assert_eq!(room["last_activity_at"], Value::Null, "no messages yet");
    assert!(
        room["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{room}"
    );

    let (status, mine) = get(&app, &alice, "/api/v1/rooms/rust-fans").await;
    assert_eq!(status, 200);
    assert_eq!(mine["room"], room, "GET answers the same room");

    // Anyone can look at it; bob has not joined.
    let (status, seen) = get(&app, &bob, "/api/v1/rooms/rust-fans").await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["room"]["joined"], false);
    assert_eq!(seen["room"]["member_count"], 1);
    assert_eq!(seen["room"]["name"], "Rust-Fans");
    assert_eq!(seen["room"]["topic"], "All about Rust");

    let listed = my_room(&app, &alice, "rust-fans")
        .await
        .expect("the creator's rooms list it");
    assert_eq!(listed["joined"], true);
    assert_eq!(listed["unread"], 0);
    assert_eq!(listed["mentions"], 0);
    assert!(my_room(&app, &bob, "rust-fans").await.is_none());

    // The topic is optional.
    let plain = create_room(&app, &bob, "plain").await;
    assert_eq!(plain["id"], "plain");
    assert_eq!(plain["joined"], true);
    assert_eq!(plain["member_count"], 1);

    assert_error(
        &get(&app, &alice, "/api/v1/rooms/no-such-room").await,
        404,
        "not_found",
        "unknown room",
    );
    let anonymous = app
        .client()
        .post(app.url("/api/v1/rooms"))
        .json(&json!({"name": "anonymous"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_error(
        &get(&app, &alice, "/api/v1/rooms/anonymous").await,
        404,
        "not_found",
        "nothing was created signed out",
    );
}

#[tokio::test]
async fn room_names_and_topics_are_validated() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bad = [
        json!({}),
        json!({"name": ""}),
        json!({"name": "a"}),
        json!({"name": "x".repeat(33)}),
        json!({"name": "-dash"}),
        json!({"name": "_under"}),
        json!({"name": "has space"}),
        json!({"name": "dot.ted"}),
        json!({"name": "slash/y"}),
        json!({"name": "h\u{e9}llo"}),
        json!({"name": "party\u{1F389}"}),
        json!({"name": 42}),
        json!({"name": null}),
        json!({"name": "okname", "topic": "t".repeat(201)}),
        json!({"name": "okname", "topic": "\u{e9}".repeat(201)}),
        json!({"name": "okname", "topic": "bell\u{7}"}),
        json!({"name": "okname", "topic": "two\nlines"}),
        json!({"name": "okname", "topic": 5}),
    ];
    for body in bad {
        let answer = post(&app, &alice, "/api/v1/rooms", body.clone()).await;
        assert_error(&answer, 422, "validation_failed", &body.to_string());
    }
    assert_error(
        &get(&app, &alice, "/api/v1/rooms/okname").await,
        404,
        "not_found",
        "nothing invalid was created",
    );
    let not_json = alice
        .http
        .post(app.url("/api/v1/rooms"))
        .header("content-type", "application/json")
        .body("{name:")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);

    // The limits themselves are fine.
    let long = "Z".repeat(32);
    let topic = "\u{e9}".repeat(200);
    for (name, topic) in [
        ("ab", None),
        ("9lives", None),
        (long.as_str(), None),
        ("a_b-C", Some(topic.as_str())),
    ] {
        let mut body = json!({ "name": name });
        if let Some(topic) = topic {
            body["topic"] = json!(topic);
        }
        let answer = post(&app, &alice, "/api/v1/rooms", body).await;
        assert_eq!(answer.0, 201, "{name}: {}", answer.1);
        assert_eq!(answer.1["room"]["name"], name);
        assert_eq!(answer.1["room"]["id"], name.to_lowercase());
        if let Some(topic) = topic {
            assert_eq!(answer.1["room"]["topic"], topic);
        }
    }
}

#[tokio::test]
async fn room_names_are_unique_ignoring_case_and_global_is_taken() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    create_room(&app, &alice, "Rust-Fans").await;
    for name in [
        "Rust-Fans",
        "rust-fans",
        "RUST-FANS",
        "global",
        "Global",
        "GLOBAL",
    ] {
        let answer = post(&app, &bob, "/api/v1/rooms", json!({ "name": name })).await;
        assert_error(&answer, 409, "room_name_taken", name);
    }
    let (_, room) = get(&app, &bob, "/api/v1/rooms/rust-fans").await;
    assert_eq!(
        room["room"]["name"], "Rust-Fans",
        "the first spelling stays"
    );
    assert_eq!(room["room"]["member_count"], 1, "bob did not join");
    let (_, global) = get(&app, &bob, "/api/v1/rooms/global").await;
    assert_eq!(global["room"]["kind"], "global");
}

#[tokio::test]
async fn the_directory_lists_global_and_public_rooms_by_activity_and_filters_by_name_or_topic() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut socket = connect(&app, &alice).await;
    create_room(&app, &alice, "alpha").await;
    let answer = post(
        &app,
        &alice,
        "/api/v1/rooms",
        json!({"name": "beta", "topic": "All about Rust"}),
    )
    .await;
    assert_eq!(answer.0, 201);
    create_room(&app, &alice, "gamma").await;
    let answer = post(
        &app,
        &alice,
        "/api/v1/rooms",
        json!({"name": "delta", "topic": "Cats and dogs"}),
    )
    .await;
    assert_eq!(answer.0, 201);
    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();

    // Activity, oldest first: delta, beta, global, gamma, alpha (and the DM).
    for room in ["delta", "beta", "global", "gamma", "alpha", dm.as_str()] {
        send(&mut socket, room, &format!("hello {room}")).await;
        tick().await;
    }

    let (status, listing) = get(&app, &bob, "/api/v1/rooms").await;
    assert_eq!(status, 200, "{listing}");
    let rooms = listing["rooms"].as_array().unwrap().clone();
    assert_eq!(
        ids(&rooms),
        vec![
            json!("alpha"),
            json!("gamma"),
            json!("global"),
            json!("beta"),
            json!("delta")
        ],
        "global and public rooms, most recent activity first; never DMs"
    );
    for room in &rooms {
        assert!(
            room["last_activity_at"].is_string(),
            "every room had a message: {room}"
        );
        let expected_kind = if room["id"] == "global" {
            "global"
        } else {
            "public"
        };
        assert_eq!(room["kind"], expected_kind);
        assert_eq!(
            room["joined"],
            room["id"] == "global",
            "bob only is in global: {room}"
        );
    }
    let delta = rooms.iter().find(|r| r["id"] == "delta").unwrap();
    assert_eq!(delta["topic"], "Cats and dogs", "the listing is public");
    assert_eq!(delta["member_count"], 1);
    let global = rooms.iter().find(|r| r["id"] == "global").unwrap();
    assert_eq!(global["member_count"], 2, "every account");

    for (q, expected) in [
        ("CATS", vec!["delta"]),
        ("rust", vec!["beta"]),
        ("amm", vec!["gamma"]),
        ("LOB", vec!["global"]),
        ("nothing-like-this", vec![]),
    ] {
        let (status, found) = get(&app, &bob, &format!("/api/v1/rooms?q={q}")).await;
        assert_eq!(status, 200, "{q}: {found}");
        let expected: Vec<Value> = expected.into_iter().map(Value::from).collect();
        assert_eq!(ids(found["rooms"].as_array().unwrap()), expected, "q={q}");
    }
    let (status, limited) = get(&app, &bob, "/api/v1/rooms?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(limited["rooms"].as_array().unwrap()),
        vec![json!("alpha"), json!("gamma")]
    );
    assert_error(
        &get(&app, &bob, "/api/v1/rooms?limit=abc").await,
        422,
        "validation_failed",
        "limit=abc",
    );
}

#[tokio::test]
async fn joining_and_leaving_change_membership_and_leaving_keeps_the_messages() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut socket = connect(&app, &alice).await;
    create_room(&app, &alice, "club").await;

    let joined = join(&app, &bob, "club").await;
    assert_eq!(joined["id"], "club");
    assert_eq!(joined["joined"], true);
    assert_eq!(joined["member_count"], 2);
    let again = join(&app, &bob, "club").await;
    assert_eq!(again["joined"], true, "joining twice is fine");
    assert_eq!(again["member_count"], 2, "and counts once");
    let (_, seen) = get(&app, &alice, "/api/v1/rooms/club").await;
    assert_eq!(seen["room"]["member_count"], 2);
    assert!(my_room(&app, &bob, "club").await.is_some());

    let kept = send(&mut socket, "club", "said before bob left").await;
    leave(&app, &bob, "club").await;
    let (_, seen) = get(&app, &bob, "/api/v1/rooms/club").await;
    assert_eq!(seen["room"]["joined"], false);
    assert_eq!(seen["room"]["member_count"], 1);
    assert!(my_room(&app, &bob, "club").await.is_none());
    assert_error(
        &get(&app, &bob, "/api/v1/rooms/club/messages").await,
        403,
        "forbidden",
        "history after leaving",
    );
    let (status, history) = get(&app, &alice, "/api/v1/rooms/club/messages").await;
    assert_eq!(status, 200);
    assert_eq!(message_ids(&history), vec![id_of(&kept)], "messages stay");

    join(&app, &bob, "club").await;
    let club = my_room(&app, &bob, "club").await.unwrap();
    assert_eq!(club["unread"], 0, "joining marks what came before as read");
    assert!(
        club["last_read_id"].as_i64().unwrap_or(0) >= id_of(&kept),
        "{club}"
    );
    let (status, history) = get(&app, &bob, "/api/v1/rooms/club/messages").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        message_ids(&history),
        vec![id_of(&kept)],
        "joining again shows them again"
    );

    // Global always exists and cannot be left.
    let global = join(&app, &bob, "global").await;
    assert_eq!(global["id"], "global");
    assert_eq!(global["kind"], "global");
    assert_error(
        &delete(&app, &bob, "/api/v1/rooms/global/membership").await,
        403,
        "forbidden",
        "leaving global",
    );
    assert_eq!(my_rooms(&app, &bob).await[0]["id"], "global");

    for method in [Method::PUT, Method::DELETE] {
        let answer = common::rooms::api(
            &app,
            &bob,
            method.clone(),
            "/api/v1/rooms/no-such-room/membership",
            None,
        )
        .await;
        assert_error(&answer, 404, "not_found", &format!("{method} unknown room"));
    }

    // Global's member count is the number of accounts.
    let (_, global) = get(&app, &bob, "/api/v1/rooms/global").await;
    assert_eq!(global["room"]["member_count"], 2);
    user(&app, "carol").await;
    let (_, global) = get(&app, &bob, "/api/v1/rooms/global").await;
    assert_eq!(global["room"]["member_count"], 3);
}

#[tokio::test]
async fn my_rooms_put_global_first_then_by_activity_with_unread_mentions_and_markers() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut bob_socket = connect(&app, &bob).await;
    let mut alice_socket = connect(&app, &alice).await;
    send(&mut bob_socket, "global", "oldest activity").await;
    create_room(&app, &alice, "one").await;
    create_room(&app, &alice, "two").await;
    join(&app, &bob, "one").await;
    join(&app, &bob, "two").await;
    let dm = open_dm(&app, &alice, &bob.name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    tick().await;
    send(&mut bob_socket, "two", "two: first").await;
    tick().await;
    send(&mut bob_socket, &dm, "dm: first").await;
    tick().await;
    let first = send(&mut bob_socket, "one", "one: first").await;
    send(
        &mut bob_socket,
        "one",
        &format!("one: hey @{}", alice.name.to_uppercase()),
    )
    .await;
    let third = send(&mut bob_socket, "one", "one: third").await;
    let own = send(&mut alice_socket, "one", "one: mine").await;

    let rooms = my_rooms(&app, &alice).await;
    assert_eq!(
        ids(&rooms),
        vec![json!("global"), json!("one"), json!(dm), json!("two")],
        "global first, then most recent activity first"
    );
    let by_id = |id: &str| rooms.iter().find(|r| r["id"] == id).unwrap().clone();
    let one = by_id("one");
    assert_eq!(one["unread"], 3, "own messages are not unread: {one}");
    assert_eq!(one["mentions"], 1, "{one}");
    assert!(
        one["last_read_id"].as_i64().unwrap_or(0) < id_of(&first),
        "nothing read yet: {one}"
    );
    assert_eq!(one["joined"], true);
    assert_eq!(by_id("two")["unread"], 1);
    assert_eq!(by_id("two")["mentions"], 0);
    assert_eq!(by_id("global")["unread"], 1);
    let dm_room = by_id(&dm);
    assert_eq!(dm_room["unread"], 1);
    assert_eq!(dm_room["kind"], "dm");
    assert_eq!(dm_room["name"], bob.name.as_str());
    assert_eq!(dm_room["peer"]["id"], bob.id);

    let bob_one = my_room(&app, &bob, "one").await.unwrap();
    assert_eq!(bob_one["unread"], 1, "alice's one message: {bob_one}");
    assert_eq!(bob_one["mentions"], 0);

    // Deleted messages are not unread.
    let (status, _) = delete(&app, &bob, &format!("/api/v1/messages/{}", id_of(&third))).await;
    assert_eq!(status, 200);
    let one = my_room(&app, &alice, "one").await.unwrap();
    assert_eq!(one["unread"], 2, "{one}");
    assert_eq!(one["mentions"], 1);

    // Reading up to the newest clears both.
    let answer = common::rooms::api(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/rooms/one/read",
        Some(json!({"last_read_id": id_of(&own)})),
    )
    .await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    let one = my_room(&app, &alice, "one").await.unwrap();
    assert_eq!(one["unread"], 0);
    assert_eq!(one["mentions"], 0);
    assert_eq!(one["last_read_id"], id_of(&own));
    assert_eq!(
        my_room(&app, &alice, "two").await.unwrap()["unread"],
        1,
        "markers are per room"
    );
}

#[tokio::test]
async fn unread_counts_stop_at_100() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut socket = connect(&app, &bob).await;
    let mut sent = Vec::new();
    for i in 0..105 {
        sent.push(id_of(&send(&mut socket, "global", &format!("n{i}")).await));
    }
    let global = my_room(&app, &alice, "global").await.unwrap();
    assert_eq!(global["unread"], 100, "100 means 100 or more");
    let mark = |id: i64| {
        common::rooms::api(
            &app,
            &alice,
            Method::PUT,
            "/api/v1/rooms/global/read",
            Some(json!({ "last_read_id": id })),
        )
    };
    assert_eq!(mark(sent[4]).await.0, 204);
    assert_eq!(
        my_room(&app, &alice, "global").await.unwrap()["unread"],
        100
    );
    assert_eq!(mark(sent[5]).await.0, 204);
    assert_eq!(my_room(&app, &alice, "global").await.unwrap()["unread"], 99);
    assert_eq!(
        my_room(&app, &bob, "global").await.unwrap()["unread"],
        0,
        "his own"
    );
}

#[tokio::test]
async fn read_markers_only_move_forward_and_reach_the_users_other_sockets() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let dave = user(&app, "dave").await;
    create_room(&app, &alice, "news").await;
    join(&app, &bob, "news").await;
    join(&app, &dave, "news").await;
    let mut a1 = connect(&app, &alice).await;
    let a2 = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let m1 = id_of(&send(&mut b, "news", "one").await);
    let m2 = id_of(&send(&mut b, "news", "two").await);
    let m3 = id_of(&send(&mut b, "news", "three").await);
    let put_read = |body: Value| {
        common::rooms::api(
            &app,
            &alice,
            Method::PUT,
            "/api/v1/rooms/news/read",
            Some(body),
        )
    };

    // Over REST.
    let answer = put_read(json!({"last_read_id": m2})).await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    let event = a2.next("read").await;
    assert_eq!(event, json!({"room": "news", "last_read_id": m2}));
    let event = a1.next("read").await;
    assert_eq!(event["last_read_id"], m2);
    let news = my_room(&app, &alice, "news").await.unwrap();
    assert_eq!(news["last_read_id"], m2);
    assert_eq!(news["unread"], 1);

    let answer = put_read(json!({"last_read_id": m1})).await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    let news = my_room(&app, &alice, "news").await.unwrap();
    assert_eq!(news["last_read_id"], m2, "markers only move forward");
    assert_eq!(news["unread"], 1);

    // Over the socket; the other tab hears about it.
    let ack = a1.call("read", json!({"room": "news", "id": m3})).await;
    assert_eq!(
        ack,
        json!({"ok": true, "room": "news", "last_read_id": m3}),
        "{ack}"
    );
    loop {
        let event = a2.next("read").await;
        assert_eq!(event["room"], "news");
        let id = event["last_read_id"].as_i64().unwrap();
        assert!(id >= m2, "a marker never goes back: {event}");
        if id == m3 {
            break;
        }
    }
    let ack = a1.call("read", json!({"room": "news", "id": m1})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["last_read_id"], m3, "still the newest");
    let news = my_room(&app, &alice, "news").await.unwrap();
    assert_eq!(news["last_read_id"], m3);
    assert_eq!(news["unread"], 0);

    // Markers are per user.
    let dave_news = my_room(&app, &dave, "news").await.unwrap();
    assert_eq!(dave_news["unread"], 3, "{dave_news}");
    assert!(
        dave_news["last_read_id"].as_i64().unwrap_or(0) < m1,
        "{dave_news}"
    );
    assert!(
        drain(&b, "read", QUIET).await.is_empty(),
        "bob's sockets do not hear about alice's markers"
    );

    // Bad input.
    for body in [
        json!({}),
        json!({"last_read_id": "x"}),
        json!({"last_read_id": null}),
        json!({"last_read_id": 1.5}),
    ] {
        assert_error(
            &put_read(body.clone()).await,
            422,
            "validation_failed",
            &body.to_string(),
        );
    }
    let unknown = common::rooms::api(
        &app,
        &alice,
        Method::PUT,
        "/api/v1/rooms/no-such-room/read",
        Some(json!({"last_read_id": m3})),
    )
    .await;
    assert_error(&unknown, 404, "not_found", "read marker in an unknown room");
    for payload in [
        json!({"room": "news"}),
        json!({"room": "news", "id": "x"}),
        json!("news"),
    ] {
        let ack = a1.call("read", payload.clone()).await;
        assert_ack_error(&ack, "validation_failed", &payload.to_string());
    }
    let ack = a1
        .call("read", json!({"room": "no-such-room", "id": m3}))
        .await;
    assert_ack_error(&ack, "not_found", "socket read in an unknown room");
    assert_eq!(
        my_room(&app, &alice, "news").await.unwrap()["last_read_id"],
        m3,
        "nothing moved"
    );
}

#[tokio::test]
async fn history_is_per_room_over_the_socket_and_rest() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    create_room(&app, &alice, "den").await;
    let mut socket = connect(&app, &alice).await;
    let g1 = send(&mut socket, "global", "global one").await;
    let r1 = send(&mut socket, "den", "den one").await;
    let g2 = socket.call("message", json!({"text": "global two"})).await["message"].clone();
    let r2 = send(&mut socket, "den", "den two").await;
    assert_eq!(g2["room"], "global", "room defaults to global");
    assert_eq!(r1["room"], "den");
    for message in [&g1, &r1, &g2, &r2] {
        assert_eq!(message["edited_at"], Value::Null, "{message}");
        assert_eq!(message["deleted"], false);
        assert_eq!(message["reactions"], json!([]));
    }

    let den = socket.call("history", json!({"room": "den"})).await;
    assert_eq!(den["ok"], true, "{den}");
    assert_eq!(message_ids(&den), vec![id_of(&r1), id_of(&r2)]);
    assert_eq!(den["messages"][0], r1, "history equals the ack");
    let global = socket.call("history", json!({})).await;
    assert_eq!(message_ids(&global), vec![id_of(&g1), id_of(&g2)]);
    let named = socket.call("history", json!({"room": "global"})).await;
    assert_eq!(named["messages"], global["messages"]);

    let (status, rest) = get(&app, &alice, "/api/v1/rooms/den/messages").await;
    assert_eq!(status, 200);
    assert_eq!(rest["messages"], den["messages"], "REST agrees");
    let after = socket
        .call("history", json!({"room": "den", "after": id_of(&r1)}))
        .await;
    assert_eq!(message_ids(&after), vec![id_of(&r2)]);
    let (_, before) = get(
        &app,
        &alice,
        &format!("/api/v1/rooms/den/messages?before={}", id_of(&r2)),
    )
    .await;
    assert_eq!(message_ids(&before), vec![id_of(&r1)]);

    let ack = socket
        .call("history", json!({"room": "no-such-room"}))
        .await;
    assert_ack_error(&ack, "not_found", "history of an unknown room");
    let ack = socket.call("history", json!({"room": 7})).await;
    assert_eq!(ack["ok"], false, "{ack}");
    let ack = socket
        .call("message", json!({"room": "no-such-room", "text": "hello?"}))
        .await;
    assert_ack_error(&ack, "not_found", "message to an unknown room");
    assert_error(
        &get(&app, &alice, "/api/v1/rooms/den/messages?limit=abc").await,
        422,
        "validation_failed",
        "limit=abc",
    );
}

#[tokio::test]
async fn typing_reaches_only_the_rooms_other_members() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    create_room(&app, &alice, "quiet").await;
    join(&app, &bob, "quiet").await;
    let a = connect(&app, &alice).await;
    let b = connect(&app, &bob).await;
    let c = connect(&app, &carol).await;

    a.emit("typing", json!({"room": "quiet"}));
    let typing = b.next("typing").await;
    assert_eq!(
        typing,
        json!({"user": {"id": alice.id, "username": alice.name}, "room": "quiet"})
    );
    // Later typing in global reaches carol; the room's never did.
    b.emit("typing", json!({}));
    let global = c.next("typing").await;
    assert_eq!(
        global,
        json!({"user": {"id": bob.id, "username": bob.name}, "room": "global"}),
        "carol's first typing event is bob's in global"
    );
    assert!(drain(&c, "typing", QUIET).await.is_empty());
    let own: Vec<Value> = drain(&a, "typing", QUIET)
        .await
        .into_iter()
        .filter(|t| t["room"] == "quiet")
        .collect();
    assert!(own.is_empty(), "the typist is not told: {own:?}");
}

#[tokio::test]
async fn presence_of_a_room_lists_its_online_members() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let dave = user(&app, "dave").await;
    create_room(&app, &alice, "lounge").await;
    join(&app, &bob, "lounge").await;
    join(&app, &dave, "lounge").await; // a member, but offline
    let mut a = connect(&app, &alice).await;
    let _b = connect(&app, &bob).await;
    let _c = connect(&app, &carol).await;

    let online_ids = |ack: &Value| -> BTreeSet<i64> {
        ack["online"]
            .as_array()
            .unwrap_or_else(|| panic!("{ack}"))
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };
    let ack = a.call("presence", json!({"room": "lounge"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["count"], 2, "{ack}");
    assert_eq!(online_ids(&ack), BTreeSet::from([alice.id, bob.id]));
    let entry = ack["online"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == bob.id)
        .unwrap();
    assert_eq!(entry["username"], bob.name.as_str());

    let global = a.call("presence", json!({})).await;
    assert_eq!(global["count"], 3, "{global}");
    assert_eq!(
        online_ids(&global),
        BTreeSet::from([alice.id, bob.id, carol.id])
    );

    // Joining while online counts at once.
    join(&app, &carol, "lounge").await;
    let ack = a.call("presence", json!({"room": "lounge"})).await;
    assert_eq!(ack["count"], 3, "{ack}");
    assert_eq!(
        online_ids(&ack),
        BTreeSet::from([alice.id, bob.id, carol.id])
    );

    leave(&app, &bob, "lounge").await;
    leave(&app, &carol, "lounge").await;
    let ack = a.call("presence", json!({"room": "lounge"})).await;
    assert_eq!(ack["count"], 1, "{ack}");
    assert_eq!(online_ids(&ack), BTreeSet::from([alice.id]));

    let ack = a.call("presence", json!({"room": "no-such-room"})).await;
    assert_ack_error(&ack, "not_found", "presence of an unknown room");
}

#[tokio::test]
async fn joining_and_leaving_take_effect_on_already_connected_sockets() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let mut b1 = connect(&app, &bob).await;
    let b2 = connect(&app, &bob).await;

    // Creating joins the creator's connected socket.
    create_room(&app, &alice, "live").await;
    let created = a.next("room_joined").await;
    assert_eq!(created["room"]["id"], "live");
    assert_eq!(created["room"]["joined"], true);
    send(&mut a, "live", "before bob").await;

    let joined = join(&app, &bob, "live").await;
    for socket in [&b1, &b2] {
        let event = socket.next("room_joined").await;
        assert_eq!(event["room"]["id"], "live");
        assert_eq!(event["room"]["kind"], "public");
        assert_eq!(event["room"]["joined"], true);
        assert_eq!(event["room"]["member_count"], joined["member_count"]);
    }
    let welcome = send(&mut a, "live", "welcome").await;
    for socket in [&b1, &b2] {
        let seen = messages_until(socket, "welcome").await;
        assert_eq!(
            seen,
            vec![welcome.clone()],
            "only what was said after joining"
        );
    }
    let seen = messages_until(&a, "welcome").await;
    assert_eq!(seen.len(), 2, "the creator got both: {seen:?}");
    let reply = send(&mut b1, "live", "thanks").await;
    assert_eq!(reply["room"], "live");
    for socket in [&a, &b1, &b2] {
        assert_eq!(messages_until(socket, "thanks").await, vec![reply.clone()]);
    }
    let ack = a
        .call("edit", json!({"id": id_of(&welcome), "text": "welcome!"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    for socket in [&b1, &b2] {
        assert_eq!(socket.next("message_updated").await, ack["message"]);
    }

    leave(&app, &bob, "live").await;
    for socket in [&b1, &b2] {
        let event = socket.next("room_left").await;
        assert_eq!(event, json!({"room": "live"}));
    }
    send(&mut a, "live", "after bob left").await;
    let ack = a
        .call("edit", json!({"id": id_of(&welcome), "text": "welcome?"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    a.emit("typing", json!({"room": "live"}));
    send(&mut a, "global", "sentinel").await;
    for socket in [&b1, &b2] {
        let seen = messages_until(socket, "sentinel").await;
        assert!(
            seen.iter().all(|m| m["room"] != "live"),
            "nothing from the room after leaving: {seen:?}"
        );
        let typing = drain(socket, "typing", QUIET).await;
        assert!(
            typing.iter().all(|t| t["room"] != "live"),
            "no typing from the room after leaving: {typing:?}"
        );
        let updates = drain(socket, "message_updated", Duration::ZERO).await;
        assert!(updates.is_empty(), "no updates after leaving: {updates:?}");
    }
    let ack = b1
        .call("message", json!({"room": "live", "text": "still here?"}))
        .await;
    assert_ack_error(&ack, "forbidden", "writing after leaving");

    // A socket opened after joining is in the room from the start.
    join(&app, &bob, "live").await;
    let b3 = connect(&app, &bob).await;
    send(&mut a, "live", "fresh").await;
    let seen = messages_until(&b3, "fresh").await;
    assert_eq!(seen.last().unwrap()["room"], "live");
}

#[tokio::test]
async fn directory_search_treats_wildcards_as_plain_characters() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    for name in ["a_b", "axb", "percent"] {
        create_room(&app, &alice, name).await;
    }
    let answer = post(
        &app,
        &alice,
        "/api/v1/rooms",
        json!({"name": "discount", "topic": "50% off"}),
    )
    .await;
    assert_eq!(answer.0, 201);
    for (q, expected) in [
        ("_", vec!["a_b"]),
        ("a_b", vec!["a_b"]),
        ("%25", vec!["discount"]),
        ("50%25", vec!["discount"]),
        ("%5C", vec![]),
    ] {
        let (status, found) = get(&app, &alice, &format!("/api/v1/rooms?q={q}")).await;
        assert_eq!(status, 200, "{q}: {found}");
        let mut got: Vec<String> = found["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, expected, "q={q}");
    }
}

#[tokio::test]
async fn creating_rooms_is_limited_per_account() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    for i in 0..30 {
        create_room(&app, &alice, &format!("many-{i}")).await;
    }
    let response = alice
        .http
        .post(app.url("/api/v1/rooms"))
        .json(&json!({ "name": "one-too-many" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 3600, "Retry-After {wait}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Nothing was created, and the limit is per account.
    assert_error(
        &get(&app, &alice, "/api/v1/rooms/one-too-many").await,
        404,
        "not_found",
        "the refused room",
    );
    create_room(&app, &bob, "one-too-many").await;
}

#[tokio::test]
async fn a_room_that_is_not_a_room_id_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let too_long = "r".repeat(101);
    for room in [
        json!(5),
        json!(""),
        json!(["global"]),
        json!({}),
        json!(too_long),
    ] {
        let ack = a
            .call("message", json!({"text": "lost?", "room": room}))
            .await;
        assert_ack_error(&ack, "validation_failed", &format!("message to {room}"));
        assert_eq!(ack["error"]["fields"]["room"], "must be a room id");
        let ack = a.call("history", json!({ "room": room })).await;
        assert_ack_error(&ack, "validation_failed", &format!("history of {room}"));
        let ack = a.call("presence", json!({ "room": room })).await;
        assert_ack_error(&ack, "validation_failed", &format!("presence of {room}"));
    }
    let (status, body) = get(&app, &alice, "/api/v1/rooms/global/messages").await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], json!([]), "nothing was stored");
    // The socket is still fine.
    let sent = send(&mut a, "global", "still here").await;
    assert_eq!(sent["text"], "still here");
}
