//! Replies, threads and formatting (docs/threads.md): where a reply goes,
//! what a root shows, thread pages, following, thread markers, the stored
//! `html`, and who may see any of it.

mod common;

use std::time::Duration;

use common::rooms::{
    api, assert_ack_error, assert_error, connect, create_room, delete, get, id_of, join, leave,
    my_room, open_dm, patch, post, put, send, user, User,
};
use common::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Replies over REST: `(status, body)`.
async fn reply(
    app: &TestApp,
    who: &User,
    room: &str,
    to: i64,
    text: &str,
    also: bool,
) -> (u16, Value) {
    post(
        app,
        who,
        &format!("/api/v1/rooms/{room}/messages"),
        json!({"text": text, "reply_to": to, "also_in_room": also}),
    )
    .await
}

async fn replied(app: &TestApp, who: &User, room: &str, to: i64, text: &str) -> Value {
    let (status, body) = reply(app, who, room, to, text, false).await;
    assert_eq!(status, 201, "{body}");
    body["message"].clone()
}

async fn thread(app: &TestApp, who: &User, id: i64, query: &str) -> (u16, Value) {
    get(app, who, &format!("/api/v1/messages/{id}/thread{query}")).await
}

async fn history_ids(app: &TestApp, who: &User, room: &str) -> Vec<i64> {
    let (status, body) = get(app, who, &format!("/api/v1/rooms/{room}/messages")).await;
    assert_eq!(status, 200, "{body}");
    common::rooms::message_ids(&body)
}

async fn my_threads(app: &TestApp, who: &User) -> Vec<Value> {
    let (status, body) = get(app, who, "/api/v1/me/threads").await;
    assert_eq!(status, 200, "{body}");
    body["threads"].as_array().expect("threads").clone()
}

/// The elements a message's `html` may hold (SPEC §8).
const ALLOWED: [&str; 12] = [
    "p",
    "br",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
];

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn a_reply_joins_the_root_thread_and_stays_out_of_the_room() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let root = send(&mut a, "global", "what do we ship friday?").await;
    let root_id = id_of(&root);
    assert_eq!(root["reply_to"], Value::Null);
    assert_eq!(root["in_room"], true);
    assert_eq!(root["thread"], Value::Null);

    let first = replied(&app, &bob, "global", root_id, "the **thread** feature").await;
    assert_eq!(first["reply_to"], root_id);
    assert_eq!(first["in_room"], false);
    assert_eq!(first["thread"], Value::Null);
    assert_eq!(
        first["html"],
        "<p>the <strong>thread</strong> feature</p>\n"
    );
    // Everyone who can read the room gets the reply, then the root's summary.
    assert_eq!(b.next("message").await["id"], root_id);
    let live = b.next("message").await;
    assert_eq!(live["id"], first["id"]);
    assert_eq!(live["reply_to"], root_id);
    let updated = a.next("message_updated").await;
    assert_eq!(updated["id"], root_id);
    assert_eq!(updated["thread"]["reply_count"], 1);
    assert_eq!(updated["thread"]["last_reply_at"], first["created_at"]);
    assert_eq!(updated["thread"]["participants"][0]["username"], bob.name);

    // A reply to a reply joins the same root; the socket takes reply_to too.
    let ack = a
        .call(
            "message",
            json!({"text": "agreed", "reply_to": id_of(&first), "also_in_room": true, "client_id": "r1"}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let second = ack["message"].clone();
    assert_eq!(second["reply_to"], root_id);
    assert_eq!(second["in_room"], true);
    assert_eq!(second["client_id"], "r1");

    // Room history: top-level messages and replies also sent to the room.
    let history = history_ids(&app, &bob, "global").await;
    assert!(history.contains(&root_id));
    assert!(history.contains(&id_of(&second)));
    assert!(!history.contains(&id_of(&first)), "{history:?}");
    let over_socket = ids(&b.call("history", json!({})).await["messages"]);
    assert!(over_socket.contains(&id_of(&second)));
    assert!(!over_socket.contains(&id_of(&first)));

    // The thread, asked by its root or by any reply, over REST and socket.
    for asked in [root_id, id_of(&first), id_of(&second)] {
        let (status, body) = thread(&app, &bob, asked, "").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["root"]["id"], root_id);
        assert_eq!(body["root"]["thread"]["reply_count"], 2);
        let participants: Vec<&Value> = body["root"]["thread"]["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| &p["username"])
            .collect();
        assert_eq!(participants, [&json!(alice.name), &json!(bob.name)]);
        assert_eq!(ids(&body["messages"]), [id_of(&first), id_of(&second)]);
    }
    let ack = b.call("thread", json!({"id": root_id, "limit": 1})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["root"]["id"], root_id);
    assert_eq!(ids(&ack["messages"]), [id_of(&second)]);
    let ack = b
        .call("thread", json!({"id": root_id, "before": id_of(&second)}))
        .await;
    assert_eq!(ids(&ack["messages"]), [id_of(&first)]);
    let ack = b
        .call("thread", json!({"id": root_id, "after": id_of(&first)}))
        .await;
    assert_eq!(ids(&ack["messages"]), [id_of(&second)]);

    // A top-level message without replies is a thread with none yet.
    let lonely = send(&mut a, "global", "anyone?").await;
    let (status, body) = thread(&app, &bob, id_of(&lonely), "").await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], json!([]));
    assert_eq!(body["root"]["thread"], Value::Null);
}

#[tokio::test]
async fn threads_of_conversations_one_cannot_read_are_404() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let eve = user(&app, "eve").await;
    let dm = open_dm(&app, &alice, &bob.name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    create_room(&app, &alice, "secret-plans").await;
    let mut a = connect(&app, &alice).await;
    let private = send(&mut a, &dm, "just us").await;
    let in_room = send(&mut a, "secret-plans", "members only").await;
    let public = send(&mut a, "global", "everyone").await;
    let mut e = connect(&app, &eve).await;

    for id in [id_of(&private), id_of(&in_room), 999_999] {
        let what = format!("message {id}");
        assert_error(&thread(&app, &eve, id, "").await, 404, "not_found", &what);
        for method in [Method::PUT, Method::DELETE] {
            let answer = api(
                &app,
                &eve,
                method,
                &format!("/api/v1/messages/{id}/thread/follow"),
                None,
            )
            .await;
            assert_error(&answer, 404, "not_found", &what);
        }
        let answer = api(
            &app,
            &eve,
            Method::PUT,
            &format!("/api/v1/messages/{id}/thread/read"),
            Some(json!({"last_read_id": 1})),
        )
        .await;
        assert_error(&answer, 404, "not_found", &what);
        assert_ack_error(
            &e.call("thread", json!({"id": id})).await,
            "not_found",
            &what,
        );
        assert_ack_error(
            &e.call("thread_read", json!({"id": id, "last_read_id": 1}))
                .await,
            "not_found",
            &what,
        );
        // Replying from a conversation one can write does not reach it.
        assert_error(
            &reply(&app, &eve, "global", id, "hi", false).await,
            404,
            "not_found",
            &what,
        );
        let ack = e
            .call("message", json!({"text": "hi", "reply_to": id}))
            .await;
        assert_ack_error(&ack, "not_found", &what);
    }
    // A readable message of another conversation is no reply target either.
    assert_error(
        &reply(&app, &alice, &dm, id_of(&public), "cross", false).await,
        404,
        "not_found",
        "reply across conversations",
    );
    // Bad ids and values are 4xx, never 5xx.
    for path in [
        "/api/v1/messages/abc/thread",
        "/api/v1/messages/%FF/thread",
        "/api/v1/messages/-1/thread",
        "/api/v1/messages/99999999999999999999/thread",
        "/api/v1/messages/1%00/thread",
    ] {
        let (status, body) = get(&app, &eve, path).await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    for bad in [json!(-1), json!("x"), json!(1.5), json!([1])] {
        let (status, body) = post(
            &app,
            &eve,
            "/api/v1/rooms/global/messages",
            json!({"text": "x", "reply_to": bad}),
        )
        .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"]["fields"]["reply_to"].is_string(), "{body}");
        let ack = e
            .call("message", json!({"text": "x", "reply_to": bad}))
            .await;
        assert_ack_error(&ack, "validation_failed", &bad.to_string());
    }
    for bad in [json!(-1), json!("x"), json!(null)] {
        let answer = api(
            &app,
            &eve,
            Method::PUT,
            &format!("/api/v1/messages/{}/thread/read", id_of(&public)),
            Some(json!({"last_read_id": bad})),
        )
        .await;
        assert_error(&answer, 422, "validation_failed", &bad.to_string());
    }
    for bad in [
        json!({}),
        json!({"id": "x"}),
        json!({"id": 1, "limit": 0}),
        json!([1]),
    ] {
        assert_ack_error(
            &e.call("thread", bad.clone()).await,
            "validation_failed",
            &bad.to_string(),
        );
    }
    // Leaving the room: its threads are out of reach again.
    join(&app, &eve, "secret-plans").await;
    assert_eq!(thread(&app, &eve, id_of(&in_room), "").await.0, 200);
    leave(&app, &eve, "secret-plans").await;
    assert_eq!(thread(&app, &eve, id_of(&in_room), "").await.0, 404);
}

#[tokio::test]
async fn following_unread_and_the_thread_marker() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let dave = user(&app, "dave").await;
    create_room(&app, &alice, "design").await;
    for who in [&bob, &carol, &dave] {
        join(&app, who, "design").await;
    }
    let mut a = connect(&app, &alice).await;
    let root = send(&mut a, "design", "new logo?").await;
    let root_id = id_of(&root);
    // Nothing to follow before the first reply.
    assert!(my_threads(&app, &alice).await.is_empty());

    let r1 = replied(
        &app,
        &bob,
        "design",
        root_id,
        &format!("ask @{}", carol.name),
    )
    .await;
    // The root's author, the replier and the mentioned person follow it.
    let threads = my_threads(&app, &alice).await;
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0]["root"]["id"], root_id);
    assert_eq!(threads[0]["root"]["thread"]["reply_count"], 1);
    assert_eq!(threads[0]["unread"], 1);
    assert_eq!(threads[0]["last_reply_at"], r1["created_at"]);
    assert_eq!(
        my_threads(&app, &bob).await[0]["unread"],
        0,
        "own reply is read"
    );
    assert_eq!(my_threads(&app, &carol).await[0]["unread"], 1);
    assert!(
        my_threads(&app, &dave).await.is_empty(),
        "dave did not take part"
    );

    // Thread-only replies do not count as unread in the room.
    let design = my_room(&app, &dave, "design").await.unwrap();
    assert_eq!(design["unread"], 1, "only the root: {design}");

    let r2 = replied(&app, &carol, "design", root_id, "blue").await;
    assert_eq!(my_threads(&app, &alice).await[0]["unread"], 2);

    // The marker moves forward only, never past the newest reply, and
    // tells the person's other sockets.
    let read_path = format!("/api/v1/messages/{}/thread/read", id_of(&r1));
    let mut elsewhere = connect(&app, &alice).await;
    let answer = api(
        &app,
        &alice,
        Method::PUT,
        &read_path,
        Some(json!({"last_read_id": id_of(&r1)})),
    )
    .await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    let told = elsewhere.next("thread_read").await;
    assert_eq!(
        told,
        json!({"root_id": root_id, "last_read_id": id_of(&r1)})
    );
    assert_eq!(my_threads(&app, &alice).await[0]["unread"], 1);
    api(
        &app,
        &alice,
        Method::PUT,
        &read_path,
        Some(json!({"last_read_id": 0})),
    )
    .await;
    assert_eq!(my_threads(&app, &alice).await[0]["unread"], 1, "never back");
    let ack = elsewhere
        .call(
            "thread_read",
            json!({"id": root_id, "last_read_id": id_of(&r2) + 1000}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        ack["last_read_id"],
        id_of(&r2),
        "capped at the newest reply"
    );
    assert_eq!(my_threads(&app, &alice).await[0]["unread"], 0);

    // Unfollow, then follow again by replying; dave follows by choice.
    let follow = format!("/api/v1/messages/{root_id}/thread/follow");
    assert_eq!(delete(&app, &carol, &follow).await.0, 204);
    assert_eq!(delete(&app, &carol, &follow).await.0, 204, "idempotent");
    assert!(my_threads(&app, &carol).await.is_empty());
    replied(&app, &carol, "design", root_id, "back again").await;
    assert_eq!(my_threads(&app, &carol).await.len(), 1);
    assert_eq!(put(&app, &dave, &follow).await.0, 204);
    assert_eq!(put(&app, &dave, &follow).await.0, 204, "idempotent");
    let threads = my_threads(&app, &dave).await;
    assert_eq!(threads[0]["unread"], 3, "{threads:?}");

    // Newest reply first across threads.
    let other = send(&mut a, "design", "and the font?").await;
    let late = replied(&app, &dave, "design", id_of(&other), "serif").await;
    let threads = my_threads(&app, &dave).await;
    assert_eq!(
        ids(&json!(threads
            .iter()
            .map(|t| t["root"].clone())
            .collect::<Vec<_>>())),
        [id_of(&other), root_id]
    );
    assert_eq!(threads[0]["last_reply_at"], late["created_at"]);

    // Leaving the room drops its threads from the list.
    leave(&app, &dave, "design").await;
    assert!(my_threads(&app, &dave).await.is_empty());
}

#[tokio::test]
async fn deleting_keeps_threads_readable_and_summaries_true() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let root = send(&mut a, "global", "root to be deleted").await;
    let root_id = id_of(&root);
    let r1 = replied(&app, &bob, "global", root_id, "first").await;
    let r2 = replied(&app, &alice, "global", root_id, "second").await;
    let _ = common::rooms::drain(&a, "message_updated", Duration::from_millis(300)).await;

    // Deleting a reply: the root's summary is sent again, one fewer.
    let (status, _) = delete(&app, &alice, &format!("/api/v1/messages/{}", id_of(&r2))).await;
    assert_eq!(status, 200);
    let updates = common::rooms::drain(&a, "message_updated", Duration::from_millis(500)).await;
    let root_update = updates
        .iter()
        .find(|m| m["id"] == root_id)
        .expect("the root's new summary");
    assert_eq!(root_update["thread"]["reply_count"], 1);
    assert_eq!(
        root_update["thread"]["participants"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Deleting the root: a placeholder, the thread stays, replies still go in.
    let (status, body) = delete(&app, &alice, &format!("/api/v1/messages/{root_id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["deleted"], true);
    assert_eq!(body["message"]["html"], "");
    let (status, body) = thread(&app, &bob, id_of(&r1), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["root"]["deleted"], true);
    assert_eq!(body["root"]["text"], "");
    assert_eq!(ids(&body["messages"]), [id_of(&r1), id_of(&r2)]);
    assert_eq!(body["messages"][1]["deleted"], true);
    let late = replied(&app, &bob, "global", root_id, "still here").await;
    assert_eq!(late["reply_to"], root_id);

    // Edits and reactions work on replies.
    let (status, body) = patch(
        &app,
        &bob,
        &format!("/api/v1/messages/{}", id_of(&r1)),
        json!({"text": "first, *edited*"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["html"], "<p>first, <em>edited</em></p>\n");
    assert_eq!(body["message"]["reply_to"], root_id);
    let (status, _) = put(
        &app,
        &alice,
        &format!("/api/v1/messages/{}/reactions/%F0%9F%91%8D", id_of(&r1)),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn messages_carry_sanitized_html_and_search_matches_the_words() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let hostile = [
        "[x](javascript:alert(1)) <img src=x onerror=alert(1)> <script>alert(2)</script>",
        "```\n<b>code</b>\n```",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        &format!("{}boom{}", "*_".repeat(400), "_*".repeat(400)),
        &"x".repeat(2000),
    ];
    for text in hostile {
        let sent = send(&mut a, "global", text).await;
        let html = sent["html"].as_str().unwrap();
        assert_eq!(sent["text"], text.trim());
        for tag in html.split('<').skip(1) {
            let name = tag
                .trim_start_matches('/')
                .split([' ', '>'])
                .next()
                .unwrap_or_default();
            assert!(ALLOWED.contains(&name), "<{name}> from {text}: {html}");
        }
        assert!(
            !html.contains("href=\"javascript") && !html.contains("href=\"data"),
            "{html}"
        );
    }
    let sent = send(
        &mut a,
        "global",
        "**release** notes at https://example.com/notes",
    )
    .await;
    assert_eq!(
        sent["html"],
        "<p><strong>release</strong> notes at <a href=\"https://example.com/notes\" rel=\"noopener noreferrer nofollow\">https://example.com/notes</a></p>\n"
    );
    // History carries the same rendering.
    let ack = a.call("history", json!({"limit": 1})).await;
    assert_eq!(ack["messages"][0]["html"], sent["html"]);
    // Search finds the words people see.
    let (status, body) = get(&app, &alice, "/api/v1/search?q=release").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["id"], sent["id"]);
}

#[tokio::test]
async fn a_summary_names_the_ten_newest_participants_and_root_mentions_follow() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut repliers = Vec::new();
    for n in 0..12 {
        repliers.push(user(&app, &format!("p{n}")).await);
    }
    let watcher = user(&app, "watcher").await;
    let mentioned = &watcher;
    let mut a = connect(&app, &alice).await;
    let root = send(&mut a, "global", &format!("who is in? @{}", mentioned.name)).await;
    let root_id = id_of(&root);
    for (n, who) in repliers.iter().enumerate() {
        replied(&app, who, "global", root_id, &format!("me, {n}")).await;
    }
    // The first replier again: now the newest participant.
    let last = replied(&app, &repliers[0], "global", root_id, "me again").await;
    let (_, body) = thread(&app, &alice, root_id, "?limit=2").await;
    let summary = &body["root"]["thread"];
    assert_eq!(summary["reply_count"], 13);
    assert_eq!(summary["last_reply_at"], last["created_at"]);
    let names: Vec<String> = summary["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec![repliers[0].name.clone()];
    expected.extend((2..12).rev().map(|n| repliers[n].name.clone()).take(9));
    assert_eq!(names, expected);
    assert_eq!(ids(&body["messages"]).len(), 2, "limit");
    // Mentioned in the root: following once it has replies.
    let threads = my_threads(&app, mentioned).await;
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0]["root"]["id"], root_id);
}
