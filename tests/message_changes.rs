//! Changes to messages and what follows from them (docs/rooms.md): edits,
//! deletes, reactions, `message_updated`, mentions, search and moderation.

mod common;

use std::time::Duration;

use common::rooms::{
    api, assert_ack_error, assert_error, connect, create_room, delete, drain, encode, get, id_of,
    join, leave, message_ids, messages_until, my_room, open_dm, patch, post, put, reaction,
    reaction_user_ids, send, user, User, EMOJIS, HEART, QUIET, THUMBS,
};
use common::sio::{self, ConnectError};
use common::{spawn_app, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

fn message_path(id: i64) -> String {
    format!("/api/v1/messages/{id}")
}

fn reaction_path(id: i64, emoji: &str) -> String {
    format!("/api/v1/messages/{id}/reactions/{}", encode(emoji))
}

/// The whole history of a room, as seen by `user`.
async fn history(app: &TestApp, user: &User, room: &str) -> Vec<Value> {
    let (status, body) = get(app, user, &format!("/api/v1/rooms/{room}/messages")).await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().unwrap().clone()
}

async fn search(app: &TestApp, user: &User, params: &[(&str, &str)]) -> (u16, Value) {
    let url = url::Url::parse_with_params(&app.url("/api/v1/search"), params).expect("url");
    let response = user.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Ids found by a search that must succeed.
async fn found(app: &TestApp, user: &User, params: &[(&str, &str)]) -> Vec<i64> {
    let (status, body) = search(app, user, params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    message_ids(&body)
}

async fn login(app: &TestApp, name: &str) -> reqwest::Response {
    app.post_json(
        &app.client(),
        "/api/v1/auth/login",
        json!({"username": name, "password": PASSWORD}),
    )
    .await
}

// ---------------------------------------------------------------- edits

#[tokio::test]
async fn authors_edit_their_messages_and_members_see_the_update_live() {
    let app = spawn_app().await;
    let _admin = user(&app, "admin").await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    create_room(&app, &alice, "edits").await;
    join(&app, &bob, "edits").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let c = connect(&app, &carol).await;
    let original = send(&mut a, "edits", "first draft").await;
    let id = id_of(&original);
    assert_eq!(original["edited_at"], Value::Null);

    let (status, body) = patch(
        &app,
        &alice,
        &message_path(id),
        json!({"text": "  second draft  "}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let edited = body["message"].clone();
    assert_eq!(edited["id"], id);
    assert_eq!(edited["room"], "edits");
    assert_eq!(edited["text"], "second draft", "trimmed like a new message");
    assert_eq!(edited["created_at"], original["created_at"]);
    assert_eq!(edited["author"], original["author"]);
    assert_eq!(edited["deleted"], false);
    assert!(
        edited["edited_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{edited}"
    );
    assert_eq!(b.next("message_updated").await, edited, "the whole message");
    assert_eq!(a.next("message_updated").await, edited);

    // Over the socket too.
    let ack = a.call("edit", json!({"id": id, "text": "final"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["text"], "final");
    assert_eq!(b.next("message_updated").await, ack["message"]);
    assert_eq!(
        history(&app, &bob, "edits").await,
        vec![ack["message"].clone()]
    );

    // Others may not.
    assert_error(
        &patch(&app, &bob, &message_path(id), json!({"text": "bob's now"})).await,
        403,
        "forbidden",
        "editing someone else's message",
    );
    let ack = b.call("edit", json!({"id": id, "text": "bob's now"})).await;
    assert_ack_error(&ack, "forbidden", "socket edit of someone else's message");
    assert_eq!(history(&app, &alice, "edits").await[0]["text"], "final");

    // Carol is not in the room: none of it reached her.
    send(&mut b, "global", "sentinel").await;
    assert_eq!(messages_until(&c, "sentinel").await.len(), 1);
    assert!(drain(&c, "message_updated", QUIET).await.is_empty());
}

#[tokio::test]
async fn edits_follow_the_rules_of_new_messages() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let id = id_of(&send(&mut a, "global", "keep me").await);
    let bad = [
        json!({"text": ""}),
        json!({"text": "   \n  "}),
        json!({"text": "x".repeat(2001)}),
        json!({"text": "bell\u{7}"}),
        json!({"text": 42}),
        json!({}),
    ];
    for body in bad {
        assert_error(
            &patch(&app, &alice, &message_path(id), body.clone()).await,
            422,
            "validation_failed",
            &body.to_string(),
        );
        let mut payload = body.clone();
        payload["id"] = json!(id);
        let ack = a.call("edit", payload.clone()).await;
        assert_ack_error(&ack, "validation_failed", &payload.to_string());
    }
    let ack = a.call("edit", json!({"text": "no id"})).await;
    assert_ack_error(&ack, "validation_failed", "edit without an id");
    let seen = history(&app, &alice, "global").await;
    assert_eq!(seen[0]["text"], "keep me");
    assert_eq!(seen[0]["edited_at"], Value::Null, "nothing was edited");

    let longest = "\u{e9}".repeat(2000);
    let (status, body) = patch(&app, &alice, &message_path(id), json!({ "text": longest })).await;
    assert_eq!(status, 200, "2000 characters are fine");
    assert_eq!(body["message"]["text"], longest.as_str());

    assert_error(
        &patch(&app, &alice, &message_path(id + 1000), json!({"text": "x"})).await,
        404,
        "not_found",
        "editing a message that does not exist",
    );
    let ack = a.call("edit", json!({"id": id + 1000, "text": "x"})).await;
    assert_ack_error(&ack, "not_found", "socket edit of a missing message");
}

// ---------------------------------------------------------------- deletes

#[tokio::test]
async fn deleting_leaves_a_placeholder_and_blocks_edits_and_reactions() {
    let app = spawn_app().await;
    let _admin = user(&app, "admin").await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let before = send(&mut a, "global", "before").await;
    let doomed = send(&mut a, "global", "regrettable").await;
    let after = send(&mut a, "global", "after").await;
    let id = id_of(&doomed);
    let ack = b.call("react", json!({"id": id, "emoji": THUMBS})).await;
    assert_eq!(ack["ok"], true, "{ack}");

    // Not bob's to delete.
    assert_error(
        &delete(&app, &bob, &message_path(id)).await,
        403,
        "forbidden",
        "deleting someone else's message",
    );
    let ack = b.call("delete", json!({ "id": id })).await;
    assert_ack_error(&ack, "forbidden", "socket delete of someone else's message");
    b.clear("message_updated");

    let (status, body) = delete(&app, &alice, &message_path(id)).await;
    assert_eq!(status, 200, "{body}");
    let placeholder = body["message"].clone();
    assert_eq!(placeholder["id"], id);
    assert_eq!(placeholder["room"], "global");
    assert_eq!(placeholder["deleted"], true);
    assert_eq!(placeholder["text"], "");
    assert_eq!(placeholder["reactions"], json!([]));
    assert_eq!(b.next("message_updated").await, placeholder);

    let seen = history(&app, &bob, "global").await;
    assert_eq!(
        seen,
        vec![before.clone(), placeholder.clone(), after.clone()],
        "a placeholder in its place"
    );

    assert_error(
        &patch(&app, &alice, &message_path(id), json!({"text": "undo"})).await,
        409,
        "message_deleted",
        "editing a deleted message",
    );
    let ack = a.call("edit", json!({"id": id, "text": "undo"})).await;
    assert_ack_error(&ack, "message_deleted", "socket edit of a deleted message");
    assert_error(
        &put(&app, &bob, &reaction_path(id, HEART)).await,
        409,
        "message_deleted",
        "reacting to a deleted message",
    );
    let ack = b.call("react", json!({"id": id, "emoji": HEART})).await;
    assert_ack_error(&ack, "message_deleted", "socket react to a deleted message");
    assert_eq!(
        history(&app, &alice, "global").await[1],
        placeholder,
        "still the placeholder"
    );

    // Over the socket.
    let ack = a.call("delete", json!({"id": id_of(&after)})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["deleted"], true);
    assert_eq!(ack["message"]["text"], "");
    assert_error(
        &delete(&app, &alice, &message_path(id_of(&after) + 1000)).await,
        404,
        "not_found",
        "deleting a message that does not exist",
    );
}

// ---------------------------------------------------------------- reactions

#[tokio::test]
async fn reactions_take_the_six_emojis_once_per_user_with_counts_and_users() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let id = id_of(&send(&mut a, "global", "react to me").await);

    for (n, emoji) in EMOJIS.iter().enumerate() {
        let (status, body) = put(&app, &alice, &reaction_path(id, emoji)).await;
        assert_eq!(status, 200, "{emoji}: {body}");
        let last = body["message"].clone();
        let entry = reaction(&last, emoji).unwrap_or_else(|| panic!("{emoji} in {last}"));
        assert_eq!(entry["count"], 1);
        assert_eq!(
            entry["users"],
            json!([{"id": alice.id, "username": alice.name}])
        );
        assert_eq!(last["reactions"].as_array().unwrap().len(), n + 1);
    }
    // The percent-encoded forms the contract names.
    let (status, body) = put(
        &app,
        &bob,
        &format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let thumbs = reaction(&body["message"], THUMBS).unwrap().clone();
    assert_eq!(thumbs["count"], 2);
    assert_eq!(reaction_user_ids(&thumbs), {
        let mut v = vec![alice.id, bob.id];
        v.sort_unstable();
        v
    });
    let (status, body) = put(
        &app,
        &bob,
        &format!("/api/v1/messages/{id}/reactions/%E2%9D%A4%EF%B8%8F"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(reaction(&body["message"], HEART).unwrap()["count"], 2);

    // Adding twice counts once.
    let (status, body) = put(&app, &alice, &reaction_path(id, THUMBS)).await;
    assert_eq!(status, 200);
    assert_eq!(reaction(&body["message"], THUMBS).unwrap()["count"], 2);

    // Removing, twice, is fine.
    for _ in 0..2 {
        let (status, body) = delete(&app, &alice, &reaction_path(id, THUMBS)).await;
        assert_eq!(status, 200, "{body}");
        let entry = reaction(&body["message"], THUMBS).unwrap();
        assert_eq!(entry["count"], 1);
        assert_eq!(
            entry["users"],
            json!([{"id": bob.id, "username": bob.name}])
        );
    }
    let (status, body) = delete(&app, &bob, &reaction_path(id, THUMBS)).await;
    assert_eq!(status, 200);
    assert!(
        reaction(&body["message"], THUMBS).is_none(),
        "no one left: {}",
        body["message"]
    );
    assert_eq!(reaction(&body["message"], HEART).unwrap()["count"], 2);

    // Over the socket; everyone in the room sees each change.
    a.clear("message_updated");
    let ack = b
        .call("react", json!({"id": id, "emoji": "\u{1F389}"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let party = reaction(&ack["message"], "\u{1F389}").unwrap().clone();
    assert_eq!(party["count"], 2);
    assert_eq!(a.next("message_updated").await, ack["message"]);
    let ack = b
        .call("unreact", json!({"id": id, "emoji": "\u{1F389}"}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(reaction(&ack["message"], "\u{1F389}").unwrap()["count"], 1);
    let update = a.next("message_updated").await;
    assert_eq!(update, ack["message"]);

    // History returns the current state.
    let seen = history(&app, &alice, "global").await;
    assert_eq!(seen, vec![update]);
}

#[tokio::test]
async fn unknown_emojis_are_refused() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let id = id_of(&send(&mut a, "global", "picky").await);
    // Any single emoji is a reaction (tests/reactions.rs); these are not.
    for emoji in [
        "\u{1F3FD}",
        "\u{2764}",
        "\u{1F44D}\u{1F44D}",
        "heart",
        "\u{1F44D} ",
        "\u{FE0F}",
    ] {
        for method in [Method::PUT, Method::DELETE] {
            let answer = api(
                &app,
                &alice,
                method.clone(),
                &reaction_path(id, emoji),
                None,
            )
            .await;
            assert_error(
                &answer,
                422,
                "validation_failed",
                &format!("{method} {emoji:?}"),
            );
        }
        for event in ["react", "unreact"] {
            let ack = a.call(event, json!({"id": id, "emoji": emoji})).await;
            assert_ack_error(&ack, "validation_failed", &format!("{event} {emoji:?}"));
        }
    }
    for payload in [
        json!({"id": id}),
        json!({"emoji": THUMBS}),
        json!({"id": "x", "emoji": THUMBS}),
    ] {
        let ack = a.call("react", payload.clone()).await;
        assert_ack_error(&ack, "validation_failed", &payload.to_string());
    }
    assert_eq!(
        history(&app, &alice, "global").await[0]["reactions"],
        json!([]),
        "nothing was added"
    );
    assert_error(
        &put(&app, &alice, &reaction_path(id + 1000, THUMBS)).await,
        404,
        "not_found",
        "a reaction to a message that does not exist",
    );
    let ack = a
        .call("react", json!({"id": id + 1000, "emoji": THUMBS}))
        .await;
    assert_ack_error(&ack, "not_found", "socket react to a missing message");
}

// ---------------------------------------------------------------- mentions

#[tokio::test]
async fn mentions_reach_only_users_who_can_read_the_room_and_count_until_read() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    create_room(&app, &alice, "ops").await;
    join(&app, &bob, "ops").await;
    let mut a = connect(&app, &alice).await;
    let mut b1 = connect(&app, &bob).await;
    let b2 = connect(&app, &bob).await;
    let mut c = connect(&app, &carol).await;

    // A longer name that starts with bob's is not bob.
    send(&mut a, "ops", &format!("hi @{}x", bob.name)).await;
    let said = send(
        &mut a,
        "ops",
        &format!(
            "hi @{} and @{} and @nobody_here",
            bob.name.to_uppercase(),
            carol.name
        ),
    )
    .await;
    for socket in [&b1, &b2] {
        let mention = socket.next("mention").await;
        assert_eq!(mention, json!({ "message": said }), "every socket of bob's");
    }
    let ops = my_room(&app, &bob, "ops").await.unwrap();
    assert_eq!(ops["mentions"], 1, "{ops}");
    assert_eq!(ops["unread"], 2);

    // Carol cannot read the room: no event, nothing counted.
    send(&mut b1, "global", "sentinel").await;
    messages_until(&c, "sentinel").await;
    assert!(drain(&c, "mention", QUIET).await.is_empty());
    assert!(my_room(&app, &carol, "ops").await.is_none());
    assert!(
        drain(&a, "mention", Duration::ZERO).await.is_empty(),
        "the author was not mentioned"
    );

    // In global she can.
    let hey = send(&mut a, "global", &format!("hey @{}", carol.name)).await;
    let mention = c.next("mention").await;
    assert_eq!(mention["message"], hey);
    assert_eq!(
        my_room(&app, &carol, "global").await.unwrap()["mentions"],
        1
    );
    let ack = c
        .call("read", json!({"room": "global", "id": id_of(&hey)}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        my_room(&app, &carol, "global").await.unwrap()["mentions"],
        0
    );

    // Bob reads up to the mention.
    let ack = b1
        .call("read", json!({"room": "ops", "id": id_of(&said)}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let ops = my_room(&app, &bob, "ops").await.unwrap();
    assert_eq!(ops["mentions"], 0);
    assert_eq!(ops["unread"], 0);

    // Joining later marks the old mention read.
    join(&app, &carol, "ops").await;
    let ops = my_room(&app, &carol, "ops").await.unwrap();
    assert_eq!(ops["mentions"], 0, "{ops}");
    assert_eq!(ops["unread"], 0, "{ops}");

    // A deleted mention no longer counts.
    let again = send(&mut a, "ops", &format!("@{} once more", carol.name)).await;
    assert_eq!(c.next("mention").await["message"]["id"], id_of(&again));
    assert_eq!(my_room(&app, &carol, "ops").await.unwrap()["mentions"], 1);
    let (status, _) = delete(&app, &alice, &message_path(id_of(&again))).await;
    assert_eq!(status, 200);
    assert_eq!(my_room(&app, &carol, "ops").await.unwrap()["mentions"], 0);
}

#[tokio::test]
async fn mentions_in_a_dm_reach_the_peer_only() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut a = connect(&app, &alice).await;
    let b = connect(&app, &bob).await;
    let c = connect(&app, &carol).await;
    let dm = open_dm(&app, &alice, &bob.name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let said = send(&mut a, &dm, &format!("@{} @{}", bob.name, carol.name)).await;
    assert_eq!(b.next("mention").await["message"], said);
    assert_eq!(my_room(&app, &bob, &dm).await.unwrap()["mentions"], 1);
    send(&mut a, "global", "sentinel").await;
    messages_until(&c, "sentinel").await;
    assert!(drain(&c, "mention", QUIET).await.is_empty());
}

// ---------------------------------------------------------------- search

#[tokio::test]
async fn search_finds_words_and_a_last_word_prefix_in_readable_rooms_newest_first() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    create_room(&app, &alice, "plans").await;
    join(&app, &bob, "plans").await;
    create_room(&app, &carol, "hideout").await;
    let dm = open_dm(&app, &alice, &bob.name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut a = connect(&app, &alice).await;
    let mut c = connect(&app, &carol).await;
    let m1 = id_of(&send(&mut a, "global", "The quick brown fox").await);
    let m2 = id_of(&send(&mut a, "global", "quick thinking").await);
    let m3 = id_of(&send(&mut a, "global", "slow BROWN dog").await);
    let m4 = id_of(&send(&mut a, "plans", "quick secret plans").await);
    let m5 = id_of(&send(&mut a, &dm, "a quick note").await);
    let m6 = id_of(&send(&mut c, "hideout", "quick hideout").await);
    let m7 = id_of(&send(&mut a, "global", "quick regret").await);
    let (status, _) = delete(&app, &alice, &message_path(m7)).await;
    assert_eq!(status, 200);

    assert_eq!(
        found(&app, &bob, &[("q", "quick")]).await,
        vec![m5, m4, m2, m1],
        "bob: global, plans and his DM; not carol's room, not deleted; newest first"
    );
    assert_eq!(
        found(&app, &carol, &[("q", "quick")]).await,
        vec![m6, m2, m1]
    );
    assert_eq!(
        found(&app, &bob, &[("q", "QUICK")]).await,
        vec![m5, m4, m2, m1]
    );
    assert_eq!(found(&app, &bob, &[("q", "brown fox")]).await, vec![m1]);
    assert_eq!(
        found(&app, &bob, &[("q", "fox quick")]).await,
        vec![m1],
        "any order"
    );
    assert_eq!(found(&app, &bob, &[("q", "brown")]).await, vec![m3, m1]);
    assert_eq!(
        found(&app, &bob, &[("q", "qui")]).await,
        vec![m5, m4, m2, m1],
        "prefix"
    );
    assert_eq!(found(&app, &bob, &[("q", "brown qu")]).await, vec![m1]);
    assert_eq!(
        found(&app, &bob, &[("q", "qu brown")]).await,
        Vec::<i64>::new(),
        "only the last word is a prefix"
    );
    assert_eq!(
        found(&app, &bob, &[("q", "row")]).await,
        Vec::<i64>::new(),
        "words, not substrings"
    );
    assert_eq!(
        found(&app, &bob, &[("q", "regret")]).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        found(&app, &bob, &[("q", "quick"), ("limit", "2")]).await,
        vec![m5, m4]
    );

    // Results are whole message objects.
    let (_, body) = search(&app, &bob, &[("q", "secret")]).await;
    let plans = history(&app, &bob, "plans").await;
    assert_eq!(body["messages"], json!([plans[0]]));

    // Narrowed to one conversation.
    assert_eq!(
        found(&app, &bob, &[("q", "quick"), ("room", "global")]).await,
        vec![m2, m1]
    );
    assert_eq!(
        found(&app, &bob, &[("q", "quick"), ("room", "plans")]).await,
        vec![m4]
    );
    assert_eq!(
        found(&app, &bob, &[("q", "quick"), ("room", dm.as_str())]).await,
        vec![m5]
    );
    let (status, body) = search(&app, &bob, &[("q", "quick"), ("room", "hideout")]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = search(&app, &carol, &[("q", "quick"), ("room", dm.as_str())]).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = search(&app, &bob, &[("q", "quick"), ("room", "no-such-room")]).await;
    assert_eq!(status, 404);

    // What you can read now: after leaving, the room's messages are gone.
    leave(&app, &bob, "plans").await;
    assert_eq!(found(&app, &bob, &[("q", "quick")]).await, vec![m5, m2, m1]);

    // Edits are searched as they are now.
    let (status, _) = patch(
        &app,
        &alice,
        &message_path(m2),
        json!({"text": "rapid thinking"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found(&app, &bob, &[("q", "quick")]).await, vec![m5, m1]);
    assert_eq!(found(&app, &bob, &[("q", "rapid")]).await, vec![m2]);
}

#[tokio::test]
async fn search_limits_and_bad_queries() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    let mut sent = Vec::new();
    for i in 0..25 {
        sent.push(id_of(
            &send(&mut a, "global", &format!("needle number {i}")).await,
        ));
    }
    let newest_first: Vec<i64> = sent.iter().rev().copied().collect();
    assert_eq!(
        found(&app, &alice, &[("q", "needle")]).await,
        newest_first[..20].to_vec(),
        "20 by default"
    );
    assert_eq!(
        found(&app, &alice, &[("q", "needle"), ("limit", "50")]).await,
        newest_first
    );
    assert_eq!(
        found(&app, &alice, &[("q", "needle"), ("limit", "3")]).await,
        newest_first[..3].to_vec()
    );
    assert_eq!(
        found(&app, &alice, &[("q", "number 7")]).await,
        vec![sent[7]],
        "a digit is a word"
    );

    for params in [
        vec![],
        vec![("q", "")],
        vec![("q", "   ")],
        vec![("q", "!!!")],
        vec![("q", "-* \"")],
        vec![("q", "needle"), ("limit", "abc")],
    ] {
        let (status, body) = search(&app, &alice, &params).await;
        assert_eq!(status, 422, "{params:?}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed", "{params:?}");
    }
    // Query syntax of the search engines is just text.
    for q in [
        "\"needle",
        "needle*",
        "NEAR(needle number)",
        "needle OR fox",
        "needle AND",
        "text:needle",
        "^needle",
        "needle & !number",
        "(needle",
        "needle'); DROP TABLE messages; --",
        "nee:dle",
    ] {
        let (status, body) = search(&app, &alice, &[("q", q)]).await;
        assert_eq!(status, 200, "{q}: {body}");
        assert!(body["messages"].is_array(), "{q}: {body}");
    }
    assert_eq!(
        found(&app, &alice, &[("q", "\"needle")]).await.len(),
        20,
        "punctuation is not syntax"
    );
    let anonymous = app
        .client()
        .get(app.url("/api/v1/search?q=needle"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

// ---------------------------------------------------------------- moderation

#[tokio::test]
async fn the_first_account_is_an_admin_and_later_ones_are_not() {
    let app = spawn_app().await;
    let first = user(&app, "first").await;
    let second = user(&app, "second").await;
    let (status, me) = get(&app, &first, "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["is_admin"], true, "{me}");
    let (_, me) = get(&app, &second, "/api/v1/me").await;
    assert_eq!(me["user"]["is_admin"], false, "{me}");

    // Even once the first account is gone, a new one is not an admin.
    let gone = api(
        &app,
        &first,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({"current_password": PASSWORD})),
    )
    .await;
    assert_eq!(gone.0, 204, "{}", gone.1);
    let third = user(&app, "third").await;
    let (_, me) = get(&app, &third, "/api/v1/me").await;
    assert_eq!(me["user"]["is_admin"], false, "{me}");
}

/// Signed out, a profile shows its public fields and nothing of roles; no
/// answer tells anyone whether an account is suspended.
#[tokio::test]
async fn roles_and_suspensions_are_not_revealed_to_strangers() {
    let app = spawn_app().await;
    let admin = user(&app, "admin").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let stranger = reqwest::Client::new();
    for name in [&admin.name, &bob.name] {
        let body: Value = stranger
            .get(app.url(&format!("/api/v1/users/{name}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut keys: Vec<&str> = body["user"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["avatar_url", "created_at", "id", "username"],
            "{body}"
        );
    }
    let (_, seen) = get(&app, &bob, &format!("/api/v1/users/{}", admin.name)).await;
    assert_eq!(
        seen["user"]["is_admin"], true,
        "signed-in people see who moderates"
    );

    // Carol is suspended: looking her up and opening a DM with her answer
    // exactly as for anyone else.
    let path = format!("/api/v1/admin/users/{}/suspension", carol.name);
    assert_eq!(put(&app, &admin, &path).await.0, 204);
    let (status, profile) = get(&app, &bob, &format!("/api/v1/users/{}", carol.name)).await;
    assert_eq!(status, 200);
    assert_eq!(profile["user"]["username"], carol.name.as_str());
    assert!(profile["user"].get("suspended").is_none(), "{profile}");
    let (status, dm) = post(&app, &bob, "/api/v1/dms", json!({"username": carol.name})).await;
    assert_eq!(status, 200, "{dm}");
    assert_eq!(dm["room"]["kind"], "dm");
    assert_eq!(dm["room"]["peer"]["username"], carol.name.as_str());
    // The message waits for her.
    let dm_id = dm["room"]["id"].as_str().unwrap().to_owned();
    let mut b = connect(&app, &bob).await;
    send(&mut b, &dm_id, "when you are back").await;
    assert_eq!(delete(&app, &admin, &path).await.0, 204);
    let response = login(&app, &carol.name).await;
    let cookie = common::cookie_from(&response).unwrap();
    let history: Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/rooms/{dm_id}/messages")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["messages"][0]["text"], "when you are back");
}

/// On an empty database, registrations racing each other make exactly one
/// admin (PostgreSQL could make two: each saw the table empty).
#[tokio::test]
async fn racing_first_registrations_make_exactly_one_admin() {
    for _ in 0..5 {
        let app = spawn_app().await;
        let names: Vec<String> = (0..4).map(|_| common::unique_name("founder")).collect();
        let cookies = futures_util::future::join_all(names.iter().map(|name| {
            let app = &app;
            async move {
                let response = app
                    .post_json(
                        &app.client(),
                        "/api/v1/auth/register",
                        json!({"username": name, "password": PASSWORD}),
                    )
                    .await;
                assert_eq!(response.status(), 201);
                common::cookie_from(&response).unwrap()
            }
        }))
        .await;
        let mut admins = 0;
        for cookie in cookies {
            let me: Value = reqwest::Client::new()
                .get(app.url("/api/v1/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if me["user"]["is_admin"] == true {
                admins += 1;
            }
        }
        assert_eq!(admins, 1);
    }
}

#[tokio::test]
async fn only_admins_suspend_and_never_themselves() {
    let app = spawn_app().await;
    let admin = user(&app, "admin").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let path = |name: &str| format!("/api/v1/admin/users/{name}/suspension");

    for target in [&carol.name, &admin.name] {
        assert_error(
            &put(&app, &bob, &path(target)).await,
            403,
            "forbidden",
            "a non-admin suspends",
        );
        assert_error(
            &delete(&app, &bob, &path(target)).await,
            403,
            "forbidden",
            "a non-admin reinstates",
        );
    }
    assert_eq!(
        login(&app, &carol.name).await.status(),
        200,
        "carol is fine"
    );
    assert_eq!(get(&app, &carol, "/api/v1/me").await.0, 200);

    assert_error(
        &put(&app, &admin, &path(&admin.name)).await,
        422,
        "validation_failed",
        "an admin suspends themself",
    );
    assert_eq!(
        get(&app, &admin, "/api/v1/me").await.0,
        200,
        "still signed in"
    );
    assert_error(
        &put(&app, &admin, &path("nobody_here")).await,
        404,
        "not_found",
        "suspending nobody",
    );
    assert_error(
        &delete(&app, &admin, &path("nobody_here")).await,
        404,
        "not_found",
        "reinstating nobody",
    );
    let anonymous = app
        .client()
        .put(app.url(&path(&carol.name)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(login(&app, &carol.name).await.status(), 200);
}

#[tokio::test]
async fn suspension_ends_sessions_and_sockets_at_once_until_reinstated() {
    let app = spawn_app().await;
    let admin = user(&app, "admin").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut c1 = connect(&app, &carol).await;
    // A second session, as from another device.
    let other_session = app.session_cookie(&carol.name).await;
    let c2 = sio::connect(&app.base, Some(&other_session), None)
        .await
        .expect("connects");
    let mut b = connect(&app, &bob).await;
    let said = send(&mut c1, "global", "before suspension").await;
    let path = format!("/api/v1/admin/users/{}/suspension", carol.name);

    let answer = put(&app, &admin, &path).await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    for socket in [&c1, &c2] {
        assert!(
            socket.closed_within(Duration::from_secs(5)).await,
            "the suspended user's sockets are disconnected"
        );
    }
    assert_error(
        &get(&app, &carol, "/api/v1/me").await,
        401,
        "unauthenticated",
        "the suspended user's session",
    );
    let other_device = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &other_session)
        .send()
        .await
        .unwrap();
    assert_eq!(other_device.status(), 401, "every session ended");
    let response = login(&app, &carol.name).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "account_suspended", "{body}");
    assert!(matches!(
        sio::connect(&app.base, Some(&carol.cookie), None).await,
        Err(ConnectError::Refused(_))
    ));

    // The login page says the same.
    let browser = app.browser();
    let html = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a csrf token") + marker.len();
    let token = html[start..].split('"').next().unwrap().to_owned();
    let page = browser
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", carol.name.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403, "the login page refuses too");

    // Everyone else carries on; carol's messages stay.
    assert!(!b.closed_within(Duration::from_millis(300)).await);
    send(&mut b, "global", "still here").await;
    let seen = history(&app, &bob, "global").await;
    assert_eq!(seen[0]["id"], said["id"]);
    assert_eq!(get(&app, &admin, "/api/v1/me").await.0, 200);

    let answer = delete(&app, &admin, &path).await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    let response = login(&app, &carol.name).await;
    assert_eq!(response.status(), 200, "reinstated");
    let cookie = common::cookie_from(&response).unwrap();
    let mut back = sio::connect(&app.base, Some(&cookie), None)
        .await
        .expect("connects again");
    let ack = back.call("message", json!({"text": "I'm back"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

#[tokio::test]
async fn admins_delete_any_message_but_edit_only_their_own() {
    let app = spawn_app().await;
    let admin = user(&app, "admin").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut ad = connect(&app, &admin).await;
    let mut b = connect(&app, &bob).await;
    let mut c = connect(&app, &carol).await;
    create_room(&app, &carol, "carols").await;
    join(&app, &admin, "carols").await;
    join(&app, &bob, "carols").await;

    let bobs = send(&mut b, "global", "bob's words").await;
    let admins = send(&mut ad, "global", "admin's words").await;
    assert_error(
        &patch(
            &app,
            &admin,
            &message_path(id_of(&bobs)),
            json!({"text": "moderated"}),
        )
        .await,
        403,
        "forbidden",
        "an admin edits someone else's message",
    );
    assert_error(
        &delete(&app, &carol, &message_path(id_of(&admins))).await,
        403,
        "forbidden",
        "a non-admin deletes the admin's message",
    );
    b.clear("message_updated");
    let (status, body) = delete(&app, &admin, &message_path(id_of(&bobs))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["deleted"], true);
    assert_eq!(body["message"]["text"], "");
    assert_eq!(b.next("message_updated").await, body["message"]);

    let in_room = send(&mut c, "carols", "carol's words").await;
    let ack = ad.call("delete", json!({"id": id_of(&in_room)})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["deleted"], true);
    let seen = history(&app, &carol, "carols").await;
    assert_eq!(seen[0]["deleted"], true);
    assert_eq!(seen[0]["text"], "");
    assert_eq!(
        history(&app, &bob, "global").await[1]["text"],
        "admin's words",
        "nothing else changed"
    );

    // A reported DM message: the admin cannot read the DM but can delete
    // the message by id; the answer (204) shows nothing of it — not its
    // text, room, author or time — and both participants see the
    // placeholder live.
    let dm = open_dm(&app, &bob, &carol.name).await;
    let dm = dm["id"].as_str().unwrap().to_owned();
    let abuse = send(&mut b, &dm, "something abusive").await;
    let other = send(&mut b, &dm, "something else").await;
    assert_error(
        &get(&app, &admin, &format!("/api/v1/rooms/{dm}/messages")).await,
        404,
        "not_found",
        "the admin reads a DM",
    );
    c.clear("message_updated");
    let (status, body) = delete(&app, &admin, &message_path(id_of(&abuse))).await;
    assert_eq!((status, body), (204, Value::Null));
    let seen = c.next("message_updated").await;
    assert_eq!(seen["id"], id_of(&abuse));
    assert_eq!(seen["deleted"], true);
    assert_eq!(history(&app, &bob, &dm).await[0]["text"], "");
    // Deleting it again (walking ids) tells nothing either.
    let (status, body) = delete(&app, &admin, &message_path(id_of(&abuse))).await;
    assert_eq!((status, body), (204, Value::Null));
    let ack = ad.call("delete", json!({"id": id_of(&other)})).await;
    assert_eq!(ack, json!({"ok": true, "message": null}));
    let ack = ad.call("delete", json!({"id": id_of(&other)})).await;
    assert_eq!(ack, json!({"ok": true, "message": null}));
    assert_error(
        &delete(&app, &admin, &message_path(id_of(&other) + 1000)).await,
        404,
        "not_found",
        "no such message",
    );
}
