//! The chat page's addresses (docs/page.md#addresses): `/discover/{room}`
//! and `/discover/{room}/{message}` answer the page to those who may read
//! (or join) the conversation, the ordinary 404 page to everyone else, and
//! a signed-out visitor goes to the login page and comes back.

mod common;

use common::rooms::{self, create_room, dm_id, join, open_dm, post, user, User};
use common::{spawn_app, unique_name, TestApp, PASSWORD};
use serde_json::json;

/// Status, `Location` and body of a page as `user` sees it.
async fn page(app: &TestApp, user: &User, path: &str) -> (u16, String, String) {
    let response = user.http.get(app.url(path)).send().await.expect("request");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    (status, location, response.text().await.expect("body"))
}

/// What the page says it opens: `<meta name="chatroom-open" …>`.
fn opening(html: &str) -> String {
    let start = html
        .find("<meta name=\"chatroom-open\"")
        .expect("the chat page names where it opens");
    html[start..]
        .split('>')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn meta(room: &str, message: &str, thread: &str) -> String {
    format!(
        "<meta name=\"chatroom-open\" content=\"{room}\" data-message=\"{message}\" data-thread=\"{thread}\" data-preview=\"false\""
    )
}

/// The same for a public room not joined yet.
fn preview(room: &str, message: &str) -> String {
    meta(room, message, "").replace("\"false\"", "\"true\"")
}

async fn assert_not_found(app: &TestApp, user: &User, path: &str) {
    let (status, _, html) = page(app, user, path).await;
    assert_eq!(status, 404, "{path}");
    assert!(
        html.contains("Page not found"),
        "{path}: the ordinary 404 page"
    );
    assert!(!html.contains("chatroom-open"), "{path}: no chat page");
}

async fn post_message(app: &TestApp, user: &User, room: &str, body: serde_json::Value) -> i64 {
    let answer = post(app, user, &format!("/api/v1/rooms/{room}/messages"), body).await;
    assert_eq!(answer.0, 201, "post to {room}: {}", answer.1);
    answer.1["message"]["id"].as_i64().expect("message id")
}

#[tokio::test]
async fn readers_get_the_page_opened_at_the_conversation() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_a").await;
    let bob = user(&app, "addr_b").await;
    let room = unique_name("Addr");
    create_room(&app, &alice, &room).await;
    let id = room.to_ascii_lowercase();
    open_dm(&app, &alice, &bob.name).await;
    let dm = dm_id(alice.id, bob.id);

    let (status, _, html) = page(&app, &alice, "/discover").await;
    assert_eq!(status, 200);
    assert!(
        opening(&html).starts_with(&meta("global", "", "")),
        "{html}"
    );
    for (path, shown) in [
        ("/discover/global".to_owned(), "global".to_owned()),
        ("/discover/GLOBAL".to_owned(), "global".to_owned()),
        (format!("/discover/{id}"), id.clone()),
        (format!("/discover/{room}"), id.clone()),
        (format!("/discover/{}", id.to_ascii_uppercase()), id.clone()),
        (format!("/discover/{dm}"), dm.clone()),
        (format!("/discover/{}", dm.replace(':', "%3A")), dm.clone()),
    ] {
        let (status, _, html) = page(&app, &alice, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(opening(&html).starts_with(&meta(&shown, "", "")), "{path}");
        assert!(html.contains(">Message</label>"), "{path}");
    }
    // The DM is the same address for both of its people.
    let (status, _, _) = page(&app, &bob, &format!("/discover/{dm}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_public_room_not_joined_opens_for_joining_but_a_third_persons_dm_is_not_found() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_c").await;
    let bob = user(&app, "addr_d").await;
    let eve = user(&app, "addr_e").await;
    let room = unique_name("Open");
    create_room(&app, &alice, &room).await;
    let id = room.to_ascii_lowercase();
    open_dm(&app, &alice, &bob.name).await;
    let dm = dm_id(alice.id, bob.id);
    let secret = post_message(&app, &alice, &dm, json!({"text": "just us"})).await;
    let public = post_message(&app, &alice, &id, json!({"text": "hello room"})).await;

    // Anyone may join a public room: its address (and a message's) opens.
    let (status, _, html) = page(&app, &eve, &format!("/discover/{id}")).await;
    assert_eq!(status, 200);
    assert!(opening(&html).starts_with(&preview(&id, "")), "{html}");
    let (status, _, html) = page(&app, &eve, &format!("/discover/{id}/{public}")).await;
    assert_eq!(status, 200);
    assert!(opening(&html).starts_with(&preview(&id, &public.to_string())));

    // A DM of two other people: the same 404 as a room that does not exist.
    assert_not_found(&app, &eve, &format!("/discover/{dm}")).await;
    assert_not_found(&app, &eve, &format!("/discover/{dm}/{secret}")).await;
    assert_not_found(
        &app,
        &eve,
        &format!("/discover/dm:{}:{}", eve.id, alice.id + bob.id + eve.id),
    )
    .await;
    assert_not_found(&app, &eve, "/discover/no-such-room").await;
    // Eve's own DM with Alice, never opened, does not exist yet either.
    let never = dm_id(eve.id, alice.id);
    assert_not_found(&app, &eve, &format!("/discover/{never}")).await;
}

#[tokio::test]
async fn a_permalink_opens_at_its_message_and_a_reply_in_its_thread() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_f").await;
    let bob = user(&app, "addr_g").await;
    let room = unique_name("Perma");
    create_room(&app, &alice, &room).await;
    let id = room.to_ascii_lowercase();
    join(&app, &bob, &id).await;

    let root = post_message(&app, &alice, &id, json!({"text": "root"})).await;
    let reply = post_message(
        &app,
        &bob,
        &id,
        json!({"text": "in the thread", "reply_to": root}),
    )
    .await;
    let shared = post_message(
        &app,
        &bob,
        &id,
        json!({"text": "also here", "reply_to": root, "also_in_room": true}),
    )
    .await;

    let (status, _, html) = page(&app, &bob, &format!("/discover/{id}/{root}")).await;
    assert_eq!(status, 200);
    assert!(opening(&html).starts_with(&meta(&id, &root.to_string(), "")));
    // A reply that stays in its thread: the page opens the thread's root.
    let (status, _, html) = page(&app, &bob, &format!("/discover/{id}/{reply}")).await;
    assert_eq!(status, 200);
    assert!(opening(&html).starts_with(&meta(&id, &reply.to_string(), &root.to_string())));
    // A reply also sent to the room is a line of the room.
    let (status, _, html) = page(
        &app,
        &bob,
        &format!("/discover/{}/{shared}", room.to_ascii_uppercase()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(opening(&html).starts_with(&meta(&id, &shared.to_string(), "")));
}

#[tokio::test]
async fn message_addresses_that_name_nothing_readable_are_not_found() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_h").await;
    let room = unique_name("Gone");
    create_room(&app, &alice, &room).await;
    let id = room.to_ascii_lowercase();
    let here = post_message(&app, &alice, &id, json!({"text": "here"})).await;
    let elsewhere = post_message(&app, &alice, "global", json!({"text": "elsewhere"})).await;
    let deleted = post_message(&app, &alice, &id, json!({"text": "soon gone"})).await;
    let (status, _) = rooms::delete(&app, &alice, &format!("/api/v1/messages/{deleted}")).await;
    assert_eq!(status, 200);

    let (status, _, _) = page(&app, &alice, &format!("/discover/{id}/{here}")).await;
    assert_eq!(status, 200);
    let (status, _, _) = page(&app, &alice, &format!("/discover/global/{elsewhere}")).await;
    assert_eq!(status, 200);
    for path in [
        format!("/discover/{id}/{elsewhere}"),
        format!("/discover/global/{here}"),
        format!("/discover/{id}/{deleted}"),
        format!("/discover/{id}/{}", here + 1000),
        format!("/discover/{id}/0"),
        format!("/discover/{id}/-1"),
        format!("/discover/{id}/+{here}"),
        format!("/discover/{id}/0{here}"),
        format!("/discover/{id}/x{here}"),
        format!("/discover/{id}/99999999999999999999999"),
        format!("/discover/{id}/%FF"),
        format!("/discover/{id}/{here}%00"),
        format!("/discover/no-such-room/{here}"),
    ] {
        assert_not_found(&app, &alice, &path).await;
    }
}

#[tokio::test]
async fn ids_that_cannot_name_a_conversation_are_not_found() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_i").await;
    let long = "a".repeat(101);
    let name_too_long = "a".repeat(33);
    for path in [
        "/discover/%FF",
        "/discover/gen%00eral",
        "/discover/%00",
        "/discover/dm:9:3",
        "/discover/dm:03:9",
        "/discover/dm%3A1",
        "/discover/%20",
        "/discover/..%2F..%2Fetc",
        &format!("/discover/{long}"),
        &format!("/discover/{name_too_long}"),
        &format!("/discover/{long}/1"),
        "/discover/%FF/1",
    ] {
        assert_not_found(&app, &alice, path).await;
    }
}

#[tokio::test]
async fn signed_out_visitors_log_in_and_come_back_to_the_address() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_j").await;
    let room = unique_name("Back");
    create_room(&app, &alice, &room).await;
    let id = room.to_ascii_lowercase();
    let target = format!("/discover/{id}/12");

    let client = app.browser();
    let response = client.get(app.url(&target)).send().await.expect("request");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(location, format!("/login?next=%2Fdiscover%2F{id}%2F12"));
    // Nothing about the room is checked before signing in.
    let response = client
        .get(app.url("/discover/dm:1:2"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 303);

    let login = client
        .get(app.url(&location))
        .send()
        .await
        .expect("login page");
    assert_eq!(login.status(), 200);
    let html = login.text().await.expect("body");
    assert!(
        html.contains(&format!("name=\"next\" value=\"/discover/{id}/12\"")),
        "{html}"
    );
    let token = csrf_of(&html);
    let response = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", alice.name.as_str()),
            ("password", PASSWORD),
            ("next", target.as_str()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], target.as_str());
    // Signed in already: the login page sends on to `next` too.
    let response = client
        .get(app.url(&format!("/login?next=%2Fdiscover%2F{id}")))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.headers()["location"],
        format!("/discover/{id}").as_str()
    );
}

#[tokio::test]
async fn login_never_sends_anyone_to_another_site() {
    let app = spawn_app().await;
    let alice = user(&app, "addr_k").await;
    for next in [
        "//evil.example",
        "//evil.example/discover",
        "https://evil.example",
        "https://evil.example/discover",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ] {
        let client = app.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let login = client
            .get(app.url(&format!("/login?next={encoded}")))
            .send()
            .await
            .expect("login page");
        let html = login.text().await.expect("body");
        assert!(
            !html.contains("name=\"next\""),
            "{next}: not carried into the form"
        );
        let token = csrf_of(&html);
        let response = client
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", alice.name.as_str()),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(response.headers()["location"], "/discover", "{next}");
        // Signed in, the login page does not follow it either.
        let response = client
            .get(app.url(&format!("/login?next={encoded}")))
            .send()
            .await
            .expect("request");
        assert_eq!(response.headers()["location"], "/discover", "{next}");
    }
}

/// The hidden CSRF token of the first form on a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf token") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
