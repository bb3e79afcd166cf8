//! Direct messages (docs/rooms.md): opening them, and authorization
//! everywhere: a DM is invisible to everyone but its two participants, and a
//! public room is closed to those who have not joined it.

mod common;

use common::rooms::{
    api, assert_ack_error, assert_error, connect, create_room, delete, dm_id, drain, encode, get,
    id_of, join, message_ids, messages_until, my_room, my_rooms, open_dm, patch, post, put, send,
    user, User, QUIET, THUMBS,
};
use common::sio::SioClient;
use common::{spawn_app, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_dm_is_the_same_conversation_from_both_sides() {
    let app = spawn_app().await;
    // Enough accounts that ids of one and two digits both exist, so the
    // id must order them as numbers.
    let mut users = Vec::new();
    for _ in 0..11 {
        users.push(user(&app, "dmer").await);
    }
    let small = users.iter().find(|u| u.id < 10).expect("an id under 10");
    let large = users
        .iter()
        .find(|u| u.id >= 10)
        .expect("an id of 10 or more");
    let expected = dm_id(small.id, large.id);
    let large_socket = connect(&app, large).await;

    let from_small = open_dm(&app, small, &large.name).await;
    assert_eq!(from_small["id"], expected.as_str(), "{from_small}");
    assert_eq!(from_small["kind"], "dm");
    assert_eq!(from_small["name"], large.name.as_str());
    assert_eq!(from_small["topic"], "");
    assert_eq!(from_small["joined"], true);
    assert_eq!(from_small["peer"]["id"], large.id);
    assert_eq!(from_small["peer"]["username"], large.name.as_str());
    assert!(from_small["peer"]["avatar_url"].is_string(), "{from_small}");

    // The peer's list shows it once it is used (tests/live_signals.rs) or,
    // as here, once they open it too; their connected socket hears of it.
    let from_large = open_dm(&app, large, &small.name).await;
    let event = large_socket.next("room_joined").await;
    assert_eq!(event["room"]["id"], expected.as_str());
    assert_eq!(event["room"]["kind"], "dm");
    assert_eq!(
        event["room"]["name"],
        small.name.as_str(),
        "named after the other side"
    );
    assert_eq!(event["room"]["peer"]["id"], small.id);
    assert_eq!(from_large["id"], expected.as_str(), "same conversation");
    assert_eq!(from_large["name"], small.name.as_str());
    assert_eq!(from_large["peer"]["id"], small.id);
    let again = open_dm(&app, small, &large.name).await;
    assert_eq!(
        again["id"],
        expected.as_str(),
        "opening twice is the same DM"
    );

    for (who, other) in [(small, large), (large, small)] {
        let (status, room) = get(&app, who, &format!("/api/v1/rooms/{expected}")).await;
        assert_eq!(status, 200, "{room}");
        assert_eq!(room["room"]["peer"]["id"], other.id);
        let listed = my_room(&app, who, &expected)
            .await
            .expect("listed in /me/rooms");
        assert_eq!(listed["kind"], "dm");
        assert_eq!(listed["name"], other.name.as_str());
    }
    // Nobody else has it.
    let other = users
        .iter()
        .find(|u| u.id != small.id && u.id != large.id)
        .unwrap();
    assert!(my_room(&app, other, &expected).await.is_none());
    assert_error(
        &get(&app, other, &format!("/api/v1/rooms/{expected}")).await,
        404,
        "not_found",
        "someone else's DM",
    );
}

#[tokio::test]
async fn dm_messages_reach_both_participants_live_and_only_them() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let c = connect(&app, &carol).await;

    // Both were connected before the DM existed.
    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let hello = send(&mut a, &dm, "hello bob").await;
    assert_eq!(hello["room"], dm.as_str());
    let seen = messages_until(&b, "hello bob").await;
    assert_eq!(seen, vec![hello.clone()]);
    let reply = send(&mut b, &dm, "hello alice").await;
    let seen = messages_until(&a, "hello alice").await;
    assert_eq!(seen.last().unwrap(), &reply);

    let history = b.call("history", json!({ "room": dm })).await;
    assert_eq!(history["ok"], true, "{history}");
    assert_eq!(message_ids(&history), vec![id_of(&hello), id_of(&reply)]);
    let (status, rest) = get(&app, &alice, &format!("/api/v1/rooms/{dm}/messages")).await;
    assert_eq!(status, 200);
    assert_eq!(rest["messages"], history["messages"]);

    b.emit("typing", json!({ "room": dm }));
    let typing = a.next("typing").await;
    assert_eq!(typing["room"], dm.as_str());
    assert_eq!(typing["user"]["id"], bob.id);

    let presence = a.call("presence", json!({ "room": dm })).await;
    assert_eq!(presence["ok"], true, "{presence}");
    assert_eq!(
        presence["count"], 2,
        "both participants, not carol: {presence}"
    );

    send(&mut a, "global", "sentinel").await;
    let seen = messages_until(&c, "sentinel").await;
    assert_eq!(seen.len(), 1, "carol got nothing of the DM: {seen:?}");
    let typing = drain(&c, "typing", QUIET).await;
    assert!(typing.is_empty(), "{typing:?}");
}

#[tokio::test]
async fn dm_rules_yourself_unknown_users_and_no_leaving() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    assert_error(
        &post(&app, &alice, "/api/v1/dms", json!({"username": alice.name})).await,
        422,
        "validation_failed",
        "a DM with yourself",
    );
    assert_error(
        &post(
            &app,
            &alice,
            "/api/v1/dms",
            json!({"username": "nobody_at_all"}),
        )
        .await,
        404,
        "not_found",
        "a DM with nobody",
    );
    for body in [json!({}), json!({"username": 5}), json!({"username": null})] {
        assert_error(
            &post(&app, &alice, "/api/v1/dms", body.clone()).await,
            422,
            "validation_failed",
            &body.to_string(),
        );
    }
    assert_eq!(
        my_rooms(&app, &alice).await.len(),
        1,
        "nothing was opened; only global"
    );

    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/rooms/{dm}/membership");
    let joined = put(&app, &alice, &path).await;
    assert_eq!(joined.0, 200, "your own DM simply answers 200");
    assert_eq!(joined.1["room"]["id"], dm.as_str());
    assert_error(
        &delete(&app, &alice, &path).await,
        403,
        "forbidden",
        "a DM cannot be left",
    );
    assert!(my_room(&app, &alice, &dm).await.is_some());

    // A DM that was never opened is not found.
    let never = dm_id(alice.id, 999_999);
    assert_error(
        &get(&app, &alice, &format!("/api/v1/rooms/{never}")).await,
        404,
        "not_found",
        "an unopened DM",
    );
}

#[tokio::test]
async fn a_dm_with_a_deleted_account_shows_deleted_user() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let gone = api(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({"current_password": PASSWORD})),
    )
    .await;
    assert_eq!(gone.0, 204, "{}", gone.1);
    let (status, room) = get(&app, &alice, &format!("/api/v1/rooms/{dm}")).await;
    assert_eq!(status, 200, "{room}");
    assert_eq!(room["room"]["name"], "Deleted user");
    assert_eq!(room["room"]["peer"], Value::Null);
    let listed = my_room(&app, &alice, &dm).await.expect("still listed");
    assert_eq!(listed["name"], "Deleted user");
}

/// A DM whose other participant deleted their account keeps its history
/// but takes no new messages, over REST and the socket alike (the rule is
/// the service's), nor files; reading and read markers still work.
#[tokio::test]
async fn a_dm_with_a_deleted_account_is_read_only() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/rooms/{dm}/messages");
    let (status, sent) = post(&app, &alice, &path, json!({"text": "still there?"})).await;
    assert_eq!(status, 201, "{sent}");
    let gone = api(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({"current_password": PASSWORD})),
    )
    .await;
    assert_eq!(gone.0, 204, "{}", gone.1);

    let refused = post(&app, &alice, &path, json!({"text": "hello?"})).await;
    assert_error(&refused, 403, "forbidden", "posting over REST");
    assert_eq!(
        refused.1["error"]["message"],
        "This account was deleted. You can still read this conversation, but not send to it."
    );
    let mut socket = connect(&app, &alice).await;
    let ack = socket
        .call("message", json!({ "text": "hello?", "room": dm }))
        .await;
    assert_ack_error(&ack, "forbidden", "posting over the socket");
    assert_eq!(ack["error"]["message"], refused.1["error"]["message"]);
    let reply = post(
        &app,
        &alice,
        &path,
        json!({"text": "a reply", "reply_to": id_of(&sent["message"])}),
    )
    .await;
    assert_error(&reply, 403, "forbidden", "a reply in a thread");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"notes".to_vec())
            .file_name("notes.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let upload = alice
        .http
        .post(app.url(&format!("/api/v1/rooms/{dm}/attachments")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403, "uploading a file");

    let (status, history) = get(&app, &alice, &path).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(message_ids(&history), vec![id_of(&sent["message"])]);
    assert_eq!(history["messages"][0]["author"]["id"], alice.id);
    let read = api(
        &app,
        &alice,
        Method::PUT,
        &format!("/api/v1/rooms/{dm}/read"),
        Some(json!({ "last_read_id": id_of(&sent["message"]) })),
    )
    .await;
    assert_eq!(read.0, 204, "{}", read.1);
    // Other DMs are not affected.
    let carol = user(&app, "carol").await;
    let other = open_dm(&app, &alice, &carol.name).await;
    send(&mut socket, other["id"].as_str().unwrap(), "hi carol").await;
}

/// Every REST route that touches a room or one of its messages, for an
/// outsider; each answer must match `expected`.
async fn outsider_rest_answers(
    app: &TestApp,
    outsider: &User,
    room: &str,
    message: i64,
) -> Vec<(String, (u16, Value))> {
    let emoji = encode(THUMBS);
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/rooms/{room}/messages"), None),
        (
            Method::GET,
            format!("/api/v1/rooms/{room}/messages?after=0"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/rooms/{room}/read"),
            Some(json!({ "last_read_id": message })),
        ),
        (
            Method::GET,
            format!("/api/v1/search?q=secret&room={room}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/messages/{message}"),
            Some(json!({"text": "hijacked"})),
        ),
        (Method::DELETE, format!("/api/v1/messages/{message}"), None),
        (
            Method::PUT,
            format!("/api/v1/messages/{message}/reactions/{emoji}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/messages/{message}/reactions/{emoji}"),
            None,
        ),
    ];
    let mut answers = Vec::new();
    for (method, path, body) in requests {
        let answer = api(app, outsider, method.clone(), &path, body).await;
        answers.push((format!("{method} {path}"), answer));
    }
    answers
}

/// Socket events an outsider may try on a room and one of its messages.
async fn outsider_socket_acks(
    socket: &mut SioClient,
    room: &str,
    message: i64,
) -> Vec<(String, Value)> {
    let events = [
        ("message", json!({"room": room, "text": "let me in"})),
        ("history", json!({ "room": room })),
        ("presence", json!({ "room": room })),
        ("read", json!({"room": room, "id": message})),
        ("edit", json!({"id": message, "text": "hijacked"})),
        ("delete", json!({ "id": message })),
        ("react", json!({"id": message, "emoji": THUMBS})),
        ("unreact", json!({"id": message, "emoji": THUMBS})),
    ];
    let mut acks = Vec::new();
    for (event, payload) in events {
        let ack = socket.call(event, payload.clone()).await;
        acks.push((format!("{event} {payload}"), ack));
    }
    acks
}

#[tokio::test]
async fn a_third_user_gets_404_for_a_dm_on_every_route_and_event_and_hears_nothing() {
    let app = spawn_app().await;
    let _admin = user(&app, "admin").await; // the first account is an admin
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let mut c = connect(&app, &carol).await;
    let c2 = connect(&app, &carol).await;

    let dm = open_dm(&app, &alice, &bob.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let secret = send(&mut a, &dm, "secret plans").await;
    let secret_id = id_of(&secret);
    let fake = dm_id(alice.id, carol.id + 1000);

    // REST: every route answers exactly what a DM that does not exist answers.
    let (status, unknown_room) = get(&app, &carol, &format!("/api/v1/rooms/{fake}")).await;
    assert_eq!(status, 404);
    assert_error(
        &get(&app, &carol, &format!("/api/v1/rooms/{dm}")).await,
        404,
        "not_found",
        "GET the room",
    );
    assert_eq!(
        get(&app, &carol, &format!("/api/v1/rooms/{dm}")).await.1,
        unknown_room,
        "the same body as a DM that does not exist"
    );
    for method in [Method::PUT, Method::DELETE] {
        let answer = api(
            &app,
            &carol,
            method.clone(),
            &format!("/api/v1/rooms/{dm}/membership"),
            None,
        )
        .await;
        assert_error(&answer, 404, "not_found", &format!("{method} membership"));
    }
    for (what, answer) in outsider_rest_answers(&app, &carol, &dm, secret_id).await {
        assert_error(&answer, 404, "not_found", &what);
    }
    let (status, found) = get(&app, &carol, "/api/v1/search?q=secret").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["messages"], json!([]), "search shows nothing of it");
    assert!(my_room(&app, &carol, &dm).await.is_none());
    let (_, directory) = get(&app, &carol, "/api/v1/rooms").await;
    assert!(
        directory["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] != "dm"),
        "{directory}"
    );

    // Socket: every event answers not_found.
    for (what, ack) in outsider_socket_acks(&mut c, &dm, secret_id).await {
        assert_ack_error(&ack, "not_found", &what);
    }
    c.emit("typing", json!({ "room": dm }));

    // Nothing changed, and nothing carol tried reached the DM.
    let history = a.call("history", json!({ "room": dm })).await;
    assert_eq!(
        history["messages"],
        json!([secret]),
        "no message, edit, delete or reaction from carol"
    );

    // The participants carry on; carol hears none of it.
    let mention = send(&mut a, &dm, &format!("@{} @{} look", bob.name, carol.name)).await;
    let edited = a
        .call(
            "edit",
            json!({"id": id_of(&mention), "text": format!("@{} edited", carol.name)}),
        )
        .await;
    assert_eq!(edited["ok"], true, "{edited}");
    let reacted = b
        .call("react", json!({"id": secret_id, "emoji": THUMBS}))
        .await;
    assert_eq!(reacted["ok"], true, "{reacted}");
    b.emit("typing", json!({ "room": dm }));
    assert_eq!(b.next("mention").await["message"]["id"], id_of(&mention));
    let typing = a.next("typing").await;
    assert_eq!(typing["room"], dm.as_str(), "bob's typing reached alice");
    assert_eq!(typing["user"]["id"], bob.id, "and nobody else's: {typing}");
    let typing_from_carol: Vec<Value> = drain(&b, "typing", QUIET)
        .await
        .into_iter()
        .filter(|t| t["user"]["id"] == carol.id)
        .collect();
    assert!(
        typing_from_carol.is_empty(),
        "carol's typing went nowhere: {typing_from_carol:?}"
    );

    send(&mut b, "global", "sentinel").await;
    for socket in [&c, &c2] {
        let seen = messages_until(socket, "sentinel").await;
        assert!(
            seen.iter().all(|m| m["room"] != dm.as_str()),
            "no DM message: {seen:?}"
        );
        for event in ["message_updated", "typing", "mention", "room_joined"] {
            let got = drain(socket, event, QUIET).await;
            assert!(got.is_empty(), "carol got {event}: {got:?}");
        }
    }
}

#[tokio::test]
async fn a_public_room_you_have_not_joined_is_403_and_its_message_ids_404() {
    let app = spawn_app().await;
    let _admin = user(&app, "admin").await;
    let alice = user(&app, "alice").await;
    let carol = user(&app, "carol").await;
    create_room(&app, &alice, "private-ish").await;
    let mut a = connect(&app, &alice).await;
    let mut c = connect(&app, &carol).await;
    let said = send(&mut a, "private-ish", "secret in a room").await;
    let said_id = id_of(&said);

    // The listing is public.
    let (status, room) = get(&app, &carol, "/api/v1/rooms/private-ish").await;
    assert_eq!(status, 200);
    assert_eq!(room["room"]["joined"], false);

    for (what, answer) in outsider_rest_answers(&app, &carol, "private-ish", said_id).await {
        let by_id = what.contains("/api/v1/messages/");
        if by_id {
            assert_error(&answer, 404, "not_found", &what);
        } else {
            assert_error(&answer, 403, "forbidden", &what);
        }
    }
    for (what, ack) in outsider_socket_acks(&mut c, "private-ish", said_id).await {
        let by_id = ["edit", "delete", "react", "unreact"]
            .iter()
            .any(|e| what.starts_with(&format!("{e} ")));
        let code = if by_id { "not_found" } else { "forbidden" };
        assert_ack_error(&ack, code, &what);
    }
    c.emit("typing", json!({"room": "private-ish"}));
    let (_, found) = get(&app, &carol, "/api/v1/search?q=secret").await;
    assert_eq!(found["messages"], json!([]), "{found}");

    // Nothing changed; carol hears nothing of the room.
    let history = a.call("history", json!({"room": "private-ish"})).await;
    assert_eq!(history["messages"], json!([said]));
    let edited = a
        .call("edit", json!({"id": said_id, "text": "secret, edited"}))
        .await;
    assert_eq!(edited["ok"], true, "{edited}");
    send(
        &mut a,
        "private-ish",
        &format!("@{} you are not here", carol.name),
    )
    .await;
    a.emit("typing", json!({"room": "private-ish"}));
    send(&mut a, "global", "sentinel").await;
    let seen = messages_until(&c, "sentinel").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    for event in ["message_updated", "typing", "mention"] {
        let got = drain(&c, event, QUIET).await;
        assert!(got.is_empty(), "carol got {event}: {got:?}");
    }
    let typing: Vec<Value> = drain(&a, "typing", std::time::Duration::ZERO)
        .await
        .into_iter()
        .filter(|t| t["user"]["id"] == carol.id)
        .collect();
    assert!(typing.is_empty(), "{typing:?}");

    // Joining opens it all up, earlier messages included.
    join(&app, &carol, "private-ish").await;
    let history = c.call("history", json!({"room": "private-ish"})).await;
    assert_eq!(history["ok"], true, "{history}");
    assert_eq!(message_ids(&history).len(), 2);
    let ack = c
        .call("react", json!({"id": said_id, "emoji": THUMBS}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let (status, answer) = patch(
        &app,
        &carol,
        &format!("/api/v1/messages/{said_id}"),
        json!({"text": "mine now"}),
    )
    .await;
    assert_error(
        &(status, answer),
        403,
        "forbidden",
        "a readable message that is not yours",
    );
}

#[tokio::test]
async fn unknown_rooms_and_message_ids_are_404_everywhere() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let real = send(&mut a, "global", "real").await;
    let missing = id_of(&real) + 1000;
    for (what, answer) in outsider_rest_answers(&app, &alice, "no-such-room", missing).await {
        assert_error(&answer, 404, "not_found", &what);
    }
    for (what, ack) in outsider_socket_acks(&mut a, "no-such-room", missing).await {
        assert_ack_error(&ack, "not_found", &what);
    }
}
