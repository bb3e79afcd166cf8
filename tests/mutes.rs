//! Muting a conversation (docs/rooms.md, "Muting"): `PUT`/`DELETE
//! /api/v1/rooms/{room}/mute`, the `muted` field of `/me/rooms`, the
//! `muted`/`unmuted` events on the person's other sockets, 404 for anyone
//! who may not read the conversation, and what missed-message mail does
//! with muted conversations (docs/threads.md).

mod common;

use std::time::Duration;

use common::rooms::{
    self, api, assert_error, connect, create_room, delete, dm_id, drain, get, join, leave, my_room,
    open_dm, post, put, user, User, QUIET,
};
use common::smtp::{link_in, token_of, SmtpSink};
use common::{spawn_app, spawn_with, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

fn mute_path(room: &str) -> String {
    format!("/api/v1/rooms/{room}/mute")
}

async fn muted(app: &TestApp, who: &User, room: &str) -> Value {
    my_room(app, who, room)
        .await
        .unwrap_or_else(|| panic!("{room} is not among {}'s rooms", who.name))["muted"]
        .clone()
}

#[tokio::test]
async fn every_listed_room_says_whether_it_is_muted_and_muting_follows_the_person() {
    let app = spawn_app().await;
    let alice = user(&app, "mutealice").await;
    let bob = user(&app, "mutebob").await;
    let room = create_room(&app, &alice, "quiet-corner").await;
    let room = room["id"].as_str().unwrap().to_owned();
    open_dm(&app, &alice, &bob.name).await;
    // Listed for bob too (a DM shows up for the other side once used or
    // opened by them: docs/rooms.md).
    open_dm(&app, &bob, &alice.name).await;
    let dm = dm_id(alice.id, bob.id);

    for id in ["global", room.as_str(), dm.as_str()] {
        assert_eq!(muted(&app, &alice, id).await, false, "{id} starts unmuted");
    }

    // Two tabs of alice: muting in one reaches the other.
    let other_tab = connect(&app, &alice).await;
    let bobs_socket = connect(&app, &bob).await;
    for id in ["global", room.as_str(), dm.as_str()] {
        let (status, body) = put(&app, &alice, &mute_path(id)).await;
        assert_eq!(status, 204, "mute {id}: {body}");
        assert_eq!(body, Value::Null, "no body");
        let event = other_tab.next("muted").await;
        assert_eq!(event, json!({ "room": id }), "the other tab follows");
        assert_eq!(muted(&app, &alice, id).await, true, "{id} is muted");
    }
    // Idempotent, and told again (a tab that missed it catches up).
    let (status, _) = put(&app, &alice, &mute_path(&dm)).await;
    assert_eq!(status, 204);
    assert_eq!(other_tab.next("muted").await["room"], dm);
    // Ids are read as everywhere else.
    let (status, _) = put(&app, &alice, &mute_path("Quiet-Corner")).await;
    assert_eq!(status, 204);
    assert_eq!(other_tab.next("muted").await["room"], room);

    // Only for alice: bob's side of the DM is not muted, and his sockets hear nothing.
    assert_eq!(muted(&app, &bob, &dm).await, false);
    assert_eq!(muted(&app, &bob, "global").await, false);
    assert!(drain(&bobs_socket, "muted", QUIET).await.is_empty());

    let (status, _) = delete(&app, &alice, &mute_path(&dm)).await;
    assert_eq!(status, 204);
    assert_eq!(other_tab.next("unmuted").await, json!({ "room": dm }));
    assert_eq!(muted(&app, &alice, &dm).await, false);
    assert_eq!(
        muted(&app, &alice, &room).await,
        true,
        "the others stay muted"
    );
    let (status, _) = delete(&app, &alice, &mute_path(&dm)).await;
    assert_eq!(status, 204, "unmuting twice is fine");

    // A mute is kept when leaving and applies again on joining back.
    leave(&app, &alice, &room).await;
    join(&app, &alice, &room).await;
    assert_eq!(muted(&app, &alice, &room).await, true);
}

#[tokio::test]
async fn only_readers_may_mute_and_everyone_else_is_answered_404() {
    let app = spawn_app().await;
    let alice = user(&app, "mutereader").await;
    let bob = user(&app, "mutepeer").await;
    let carol = user(&app, "mutethird").await;
    open_dm(&app, &alice, &bob.name).await;
    let dm = dm_id(alice.id, bob.id);
    let room = create_room(&app, &alice, "members-only").await;
    let room = room["id"].as_str().unwrap().to_owned();
    let carols_socket = connect(&app, &carol).await;

    // A DM of others, a public room not joined, rooms that do not exist,
    // ids that cannot be any conversation's: all the same 404.
    for id in [
        dm.as_str(),
        room.as_str(),
        "no-such-room",
        "dm:1:999999",
        "dm:9:3",
        "%FF",
    ] {
        for method in [Method::PUT, Method::DELETE] {
            let answer = api(&app, &carol, method.clone(), &mute_path(id), None).await;
            assert_error(&answer, 404, "not_found", &format!("{method} mute {id}"));
        }
    }
    assert!(drain(&carols_socket, "muted", QUIET).await.is_empty());
    assert_eq!(muted(&app, &alice, &dm).await, false, "nothing changed");

    // Signed out: 401. From another site: refused as every API write.
    let response = app
        .client()
        .put(app.url(&mute_path("global")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = carol
        .http
        .put(app.url(&mute_path("global")))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(muted(&app, &carol, "global").await, false);

    // Joining makes it readable, and mutable.
    join(&app, &carol, &room).await;
    let (status, body) = put(&app, &carol, &mute_path(&room)).await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn unread_counts_of_a_muted_conversation_still_count() {
    // The server counts as before; what a muted room weighs is the page's
    // decision (docs/page.md), and it needs the counts to show them dimmed.
    let app = spawn_app().await;
    let alice = user(&app, "mutecount").await;
    let bob = user(&app, "mutecounter").await;
    open_dm(&app, &alice, &bob.name).await;
    let dm = dm_id(alice.id, bob.id);
    let (status, _) = put(&app, &alice, &mute_path(&dm)).await;
    assert_eq!(status, 204);
    let answer = post(
        &app,
        &bob,
        &format!("/api/v1/rooms/{dm}/messages"),
        json!({"text": format!("hey @{}", alice.name)}),
    )
    .await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    let listed = my_room(&app, &alice, &dm).await.unwrap();
    assert_eq!(listed["muted"], true);
    assert_eq!(listed["unread"], 1);
    assert_eq!(listed["mentions"], 1);
    let (status, one) = get(&app, &alice, &format!("/api/v1/rooms/{dm}")).await;
    assert_eq!(status, 200);
    assert!(
        one["room"].get("muted").is_none(),
        "only /me/rooms carries it: {one}"
    );
}

// ------------------------------------------------ missed-message mail

const WAIT: Duration = Duration::from_secs(15);
const GRACE: Duration = Duration::from_millis(1500);

async fn app_with_mail() -> Option<(TestApp, SmtpSink)> {
    let smtp = SmtpSink::start()?;
    let app = spawn_with(|c| {
        c.smtp_url = Some(smtp.url().parse().unwrap());
        c.missed_mail_delay = 1;
    })
    .await;
    Some((app, smtp))
}

fn address(user: &User) -> String {
    format!("{}@example.com", user.name.to_lowercase())
}

/// A fresh user whose address (`<name>@example.com`) is verified.
async fn verified(app: &TestApp, smtp: &SmtpSink, prefix: &str) -> User {
    let user = rooms::user(app, prefix).await;
    let (status, body) = api(
        app,
        &user,
        Method::PUT,
        "/api/v1/me/email",
        Some(json!({"email": address(&user), "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let mails = smtp.wait_for(&address(&user), 1, WAIT).await;
    let link = link_in(&mails[0], &format!("{}/verify-email?token=", app.base))
        .expect("verification link");
    let answer = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({ "token": token_of(&link) }),
        )
        .await;
    assert_eq!(answer.status(), 204);
    user
}

fn missed(smtp: &SmtpSink, user: &User) -> Vec<String> {
    smtp.mails_to(&address(user))
        .into_iter()
        .filter(|m| m.contains("List-Unsubscribe-Post:"))
        .collect()
}

async fn wait_missed(smtp: &SmtpSink, user: &User) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(mail) = missed(smtp, user).into_iter().next() {
            return mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected a missed-message mail to {}",
            user.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn say(app: &TestApp, from: &User, room: &str, text: &str) {
    let answer = post(
        app,
        from,
        &format!("/api/v1/rooms/{room}/messages"),
        json!({ "text": text }),
    )
    .await;
    assert_eq!(answer.0, 201, "post to {room}: {}", answer.1);
}

#[tokio::test]
async fn a_muted_direct_message_is_not_mailed_but_a_mention_in_it_is() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let alice = rooms::user(&app, "mmmuter").await;
    let quiet = verified(&app, &smtp, "mmquiet").await;
    let control = verified(&app, &smtp, "mmcontrol").await;
    for to in [&quiet, &control] {
        open_dm(&app, &alice, &to.name).await;
    }
    let (status, _) = put(&app, &quiet, &mute_path(&dm_id(alice.id, quiet.id))).await;
    assert_eq!(status, 204);

    say(&app, &alice, &dm_id(alice.id, quiet.id), "muted chatter").await;
    say(
        &app,
        &alice,
        &dm_id(alice.id, control.id),
        "unmuted chatter",
    )
    .await;
    wait_missed(&smtp, &control).await;
    tokio::time::sleep(GRACE).await;
    assert!(missed(&smtp, &quiet).is_empty(), "a muted DM is not mailed");

    // A message of the muted DM that mentions them still is (as it still
    // notifies on the page) — that one only.
    say(
        &app,
        &alice,
        &dm_id(alice.id, quiet.id),
        &format!("@{} this one matters", quiet.name),
    )
    .await;
    let mail = wait_missed(&smtp, &quiet).await;
    assert!(mail.contains("this one matters"), "{mail}");
    assert!(!mail.contains("muted chatter"), "{mail}");
}

#[tokio::test]
async fn a_mention_in_a_muted_room_is_still_mailed() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let carol = rooms::user(&app, "mmroomer").await;
    let member = verified(&app, &smtp, "mmmutedmember").await;
    let room = create_room(&app, &carol, "mutedmail").await;
    let room = room["id"].as_str().unwrap().to_owned();
    join(&app, &member, &room).await;
    let (status, _) = put(&app, &member, &mute_path(&room)).await;
    assert_eq!(status, 204);
    let (status, _) = put(&app, &member, &mute_path("global")).await;
    assert_eq!(status, 204);

    say(&app, &carol, &room, &format!("@{} look here", member.name)).await;
    say(
        &app,
        &carol,
        "global",
        &format!("@{} and here", member.name),
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut mails = missed(&smtp, &member);
    while mails.iter().all(|m| !m.contains("and here")) {
        assert!(tokio::time::Instant::now() < deadline, "{mails:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        mails = missed(&smtp, &member);
    }
    let all = mails.join("\n");
    assert!(
        all.contains("look here") && all.contains("and here"),
        "{all}"
    );
}
