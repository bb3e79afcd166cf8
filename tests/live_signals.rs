//! Live signals (docs/rooms.md "Live member counts", docs/realtime.md
//! "Signed out: why"): member counts pushed as `room_updated` to members and
//! directory watchers only; `signed_out` with its reason before every cut;
//! a DM that shows up for the other person only with its first message;
//! `read_only` on a DM whose other participant deleted their account.

mod common;

use std::time::Duration;

use common::rooms::{
    assert_ack_error, assert_error, connect, create_room, delete, drain, get, join, leave, my_room,
    open_dm, post, send, user, User, QUIET,
};
use common::sio::SioClient;
use common::{spawn_app, TestApp, PASSWORD};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::{json, Value};

/// Proves that nothing more of `event` reaches `socket`: a global message
/// sent after everything else arrives first, then nothing is queued.
async fn nothing_more(sender: &mut SioClient, socket: &SioClient, event: &str, what: &str) {
    let marker = format!("sentinel {what}");
    send(sender, "global", &marker).await;
    common::rooms::messages_until(socket, &marker).await;
    let got = drain(socket, event, QUIET).await;
    assert!(got.is_empty(), "{what}: got {event} {got:?}");
}

async fn watch(socket: &mut SioClient, on: bool) {
    let ack = socket.call("directory", json!({ "watch": on })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["watching"], on, "{ack}");
}

#[tokio::test]
async fn member_counts_reach_members_and_directory_watchers_and_nobody_else() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let eve = user(&app, "eve").await;
    let carol = user(&app, "carol").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let mut e = connect(&app, &eve).await;
    let c = connect(&app, &carol).await;

    create_room(&app, &alice, "lounge").await;
    a.next("room_joined").await;
    a.clear("room_updated");
    watch(&mut b, true).await;
    watch(&mut e, true).await;

    // Bob (watching the directory) joins over REST.
    join(&app, &bob, "lounge").await;
    let to_alice = a.next("room_updated").await;
    assert_eq!(to_alice["room"]["id"], "lounge");
    assert_eq!(to_alice["room"]["member_count"], 2);
    assert_eq!(to_alice["room"]["joined"], true);
    assert_eq!(to_alice["room"]["name"], "lounge");
    let to_bob = b.next("room_updated").await;
    assert_eq!(to_bob["room"]["member_count"], 2);
    assert_eq!(
        to_bob["room"]["joined"], true,
        "a member gets the members' copy"
    );
    let to_eve = e.next("room_updated").await;
    assert_eq!(to_eve["room"]["member_count"], 2);
    assert_eq!(
        to_eve["room"]["joined"], false,
        "a watcher who is not a member"
    );
    // The same object GET /api/v1/rooms/{room} answers.
    let (status, one) = get(&app, &eve, "/api/v1/rooms/lounge").await;
    assert_eq!(status, 200);
    assert_eq!(one["room"], to_eve["room"]);
    nothing_more(&mut a, &b, "room_updated", "bob got one copy").await;

    // Bob leaves: the count moves for Alice, and for Bob and Eve watching.
    leave(&app, &bob, "lounge").await;
    assert_eq!(a.next("room_updated").await["room"]["member_count"], 1);
    let to_bob = b.next("room_updated").await;
    assert_eq!(to_bob["room"]["member_count"], 1);
    assert_eq!(to_bob["room"]["joined"], false);
    assert_eq!(e.next("room_updated").await["room"]["member_count"], 1);

    // Eve stops watching: Bob joining again reaches Alice, not Eve.
    watch(&mut e, false).await;
    join(&app, &bob, "lounge").await;
    assert_eq!(a.next("room_updated").await["room"]["member_count"], 2);
    nothing_more(&mut a, &e, "room_updated", "eve stopped watching").await;
    // Carol neither watches nor belongs: she heard of none of it.
    nothing_more(&mut a, &c, "room_updated", "carol").await;
}

#[tokio::test]
async fn the_directory_event_takes_a_boolean() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let mut a = connect(&app, &alice).await;
    for bad in [json!({}), json!({ "watch": "yes" }), json!({ "watch": 1 })] {
        let ack = a.call("directory", bad.clone()).await;
        assert_ack_error(&ack, "validation_failed", &bad.to_string());
        assert!(ack["error"]["fields"]["watch"].is_string(), "{ack}");
    }
    let ack = a.call("directory", json!("watch")).await;
    assert_ack_error(&ack, "validation_failed", "not an object");
}

/// A second session of `who` (a new login), as a user with its own cookie.
async fn second_session(app: &TestApp, who: &User) -> User {
    let cookie = app.session_cookie(&who.name).await;
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    User {
        name: who.name.clone(),
        id: who.id,
        cookie,
        http: reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// Waits for the server to close `socket`, then checks that `signed_out`
/// with `reason` had arrived before the close.
async fn signed_out_then_closed(socket: &SioClient, reason: &str) {
    assert!(
        socket.closed_within(Duration::from_secs(12)).await,
        "{reason}: the socket was cut"
    );
    let event = socket
        .next_within("signed_out", Duration::ZERO)
        .await
        .unwrap_or_else(|| panic!("{reason}: no signed_out before the disconnect"));
    assert_eq!(event, json!({ "reason": reason }));
}

/// The id of a session of `who` other than the one asking.
async fn other_session_id(app: &TestApp, asking: &User) -> i64 {
    let (status, body) = get(app, asking, "/api/v1/me/sessions").await;
    assert_eq!(status, 200, "{body}");
    body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_i64())
        .expect("another session")
}

#[tokio::test]
async fn every_sign_out_says_why_before_the_disconnect() {
    let app = spawn_app().await;
    let admin = user(&app, "admin").await;
    let mut bystander = connect(&app, &admin).await;

    // logged_out: the session logs out (in another tab).
    let dora = user(&app, "dora").await;
    let socket = connect(&app, &dora).await;
    let (status, _) = post(&app, &dora, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(status, 204);
    signed_out_then_closed(&socket, "logged_out").await;

    // session_ended: ended from another device.
    let erin = user(&app, "erin").await;
    let phone = second_session(&app, &erin).await;
    let on_phone = connect(&app, &phone).await;
    let on_laptop = connect(&app, &erin).await;
    let id = other_session_id(&app, &erin).await;
    let (status, body) = delete(&app, &erin, &format!("/api/v1/me/sessions/{id}")).await;
    assert_eq!(status, 204, "{body}");
    signed_out_then_closed(&on_phone, "session_ended").await;
    assert!(!on_laptop.closed_within(Duration::from_millis(200)).await);

    // password_changed: the other session's socket goes, this one stays.
    let (status, body) = common::rooms::api(
        &app,
        &erin,
        Method::PUT,
        "/api/v1/me/password",
        Some(json!({ "current_password": PASSWORD, "new_password": "a different horse battery staple" })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let phone = second_session_with(&app, &erin, "a different horse battery staple").await;
    let on_phone = connect(&app, &phone).await;
    let (status, body) = common::rooms::api(
        &app,
        &phone,
        Method::PUT,
        "/api/v1/me/password",
        Some(json!({ "current_password": "a different horse battery staple", "new_password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    signed_out_then_closed(&on_laptop, "password_changed").await;
    assert!(!on_phone.closed_within(Duration::from_millis(200)).await);

    // account_suspended: by an admin.
    let fred = user(&app, "fred").await;
    let socket = connect(&app, &fred).await;
    let answer = common::rooms::put(
        &app,
        &admin,
        &format!("/api/v1/admin/users/{}/suspension", fred.name),
    )
    .await;
    assert_eq!(answer.0, 204, "{}", answer.1);
    signed_out_then_closed(&socket, "account_suspended").await;

    // account_deleted: deleted on another device.
    let gina = user(&app, "gina").await;
    let phone = second_session(&app, &gina).await;
    let socket = connect(&app, &phone).await;
    let (status, body) = common::rooms::api(
        &app,
        &gina,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({ "current_password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    signed_out_then_closed(&socket, "account_deleted").await;

    // session_expired: the session vanished without a broadcast; the sweep.
    let hank = user(&app, "hank").await;
    let socket = connect(&app, &hank).await;
    let token = hank.cookie.trim_start_matches("chatroom_session=");
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(chatroom::auth::secret::hash_token(token))
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    signed_out_then_closed(&socket, "session_expired").await;

    // The admin, watching all along, was told nothing and is still here.
    assert!(drain(&bystander, "signed_out", QUIET).await.is_empty());
    send(&mut bystander, "global", "still here").await;
}

async fn second_session_with(app: &TestApp, who: &User, password: &str) -> User {
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": who.name, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = common::cookie_from(&response).expect("cookie");
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
    User {
        name: who.name.clone(),
        id: who.id,
        cookie,
        http: reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

#[tokio::test]
async fn an_operator_ending_sessions_says_why() {
    let app = spawn_app().await;
    let ivy = user(&app, "ivy").await;
    let socket = connect(&app, &ivy).await;
    chatroom::accounts::sessions::end_all(
        &app.state,
        ivy.id,
        None,
        chatroom::auth::sign_out::SignOutReason::SessionEnded,
    )
    .await
    .unwrap();
    signed_out_then_closed(&socket, "session_ended").await;
}

#[tokio::test]
async fn the_login_page_says_why_from_a_fixed_list_only() {
    let app = spawn_app().await;
    let http = app.client();
    let page = |query: &'static str| {
        let http = http.clone();
        let url = app.url(&format!("/login{query}"));
        async move {
            let response = http.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    for (reason, sentence) in [
        ("logged_out", "You logged out in another tab or window."),
        (
            "session_ended",
            "You were signed out because this session was ended from another device.",
        ),
        (
            "password_changed",
            "You were signed out because your password was changed. Log in with the new one.",
        ),
        (
            "account_suspended",
            "You were signed out because an admin suspended your account.",
        ),
        (
            "account_deleted",
            "Your account was deleted, so you were signed out.",
        ),
        (
            "session_expired",
            "Your session ended. Log in again to continue.",
        ),
    ] {
        let url = app.url(&format!("/login?reason={reason}"));
        let html = http.get(url).send().await.unwrap().text().await.unwrap();
        assert!(
            html.contains(&format!(
                r#"<p class="notice notice-info" role="status">{sentence}</p>"#
            )),
            "{reason}: {html}"
        );
    }
    let plain = page("").await;
    assert!(!plain.contains(r#"class="notice"#));
    for query in [
        "?reason=%3Cb%3Ehacked%3C%2Fb%3E",
        "?reason=You%20were%20hacked",
        "?reason=",
    ] {
        let url = app.url(&format!("/login{query}"));
        let html = http.get(url).send().await.unwrap().text().await.unwrap();
        assert!(!html.contains(r#"class="notice"#), "{query}");
        assert!(!html.contains("hacked"), "{query}: never echoed");
    }
}

#[tokio::test]
async fn a_dm_appears_for_the_other_person_with_its_first_rest_message() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let mut a = connect(&app, &alice).await;
    let b = connect(&app, &bob).await;
    let mut c = connect(&app, &carol).await;

    let dm = open_dm(&app, &alice, &bob.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    assert_eq!(a.next("room_joined").await["room"]["id"], id.as_str());
    assert!(
        my_room(&app, &alice, &id).await.is_some(),
        "the opener sees it"
    );
    assert!(my_room(&app, &bob, &id).await.is_none(), "not yet for bob");
    nothing_more(&mut a, &b, "room_joined", "bob before the first message").await;
    // Nothing else changed for Bob: he may read it by id; Carol may not.
    let (status, one) = get(&app, &bob, &format!("/api/v1/rooms/{id}")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["room"]["peer"]["id"], alice.id);
    let (status, _) = get(&app, &bob, &format!("/api/v1/rooms/{id}/messages")).await;
    assert_eq!(status, 200);
    assert_error(
        &get(&app, &carol, &format!("/api/v1/rooms/{id}")).await,
        404,
        "not_found",
        "carol",
    );

    // The first message, over REST.
    let (status, posted) = post(
        &app,
        &alice,
        &format!("/api/v1/rooms/{id}/messages"),
        json!({ "text": "hi bob" }),
    )
    .await;
    assert_eq!(status, 201, "{posted}");
    let joined = b.next("room_joined").await;
    assert_eq!(joined["room"]["id"], id.as_str());
    assert_eq!(joined["room"]["name"], alice.name.as_str());
    assert_eq!(joined["room"]["peer"]["id"], alice.id);
    assert_eq!(b.next("message").await["text"], "hi bob");
    let listed = my_room(&app, &bob, &id).await.expect("listed for bob now");
    assert_eq!(listed["unread"], 1, "{listed}");

    // Later messages announce nothing more; Alice never got a second one.
    let (status, _) = post(
        &app,
        &alice,
        &format!("/api/v1/rooms/{id}/messages"),
        json!({ "text": "again" }),
    )
    .await;
    assert_eq!(status, 201);
    nothing_more(&mut a, &b, "room_joined", "bob after the second message").await;
    nothing_more(&mut c, &a, "room_joined", "alice").await;
    // Carol heard nothing of it.
    nothing_more(&mut a, &c, "room_joined", "carol").await;
    let got = drain(&c, "message", QUIET).await;
    assert!(got.iter().all(|m| m["room"] != id.as_str()), "{got:?}");
}

#[tokio::test]
async fn a_dm_appears_with_its_first_socket_message_by_either_side() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;

    let dm = open_dm(&app, &alice, &bob.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    a.next("room_joined").await;
    // Bob writes first, by id, over the socket: it is listed for him.
    let said = send(&mut b, &id, "you opened this?").await;
    assert_eq!(said["room"], id.as_str());
    let joined = b.next("room_joined").await;
    assert_eq!(joined["room"]["id"], id.as_str());
    assert!(my_room(&app, &bob, &id).await.is_some());
    assert_eq!(a.next("message").await["text"], "you opened this?");
    nothing_more(&mut b, &a, "room_joined", "alice had it already").await;

    // A DM Carol opens with Alice: her first socket message lists it for
    // Alice.
    let carol = user(&app, "carol").await;
    let mut c = connect(&app, &carol).await;
    let dm = open_dm(&app, &carol, &alice.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    c.next("room_joined").await;
    assert!(my_room(&app, &alice, &id).await.is_none());
    send(&mut c, &id, "hello alice").await;
    assert_eq!(a.next("room_joined").await["room"]["id"], id.as_str());
    assert!(my_room(&app, &alice, &id).await.is_some());
}

#[tokio::test]
async fn opening_a_dm_someone_else_opened_lists_it_for_you() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let mut b = connect(&app, &bob).await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    a.next("room_joined").await;
    assert!(my_room(&app, &bob, &id).await.is_none());

    let from_bob = open_dm(&app, &bob, &alice.name).await;
    assert_eq!(from_bob["id"], id.as_str());
    assert_eq!(b.next("room_joined").await["room"]["id"], id.as_str());
    assert!(my_room(&app, &bob, &id).await.is_some());
    nothing_more(&mut b, &a, "room_joined", "alice once").await;
    // Opening it again announces nothing.
    open_dm(&app, &bob, &alice.name).await;
    nothing_more(&mut a, &b, "room_joined", "bob once").await;
}

#[tokio::test]
async fn a_dm_with_a_deleted_account_is_read_only_up_front() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();
    assert_eq!(dm["read_only"], false);
    assert_eq!(dm["read_only_reason"], Value::Null);
    let (_, global) = get(&app, &alice, "/api/v1/rooms/global").await;
    assert_eq!(global["room"]["read_only"], false);
    let lounge = create_room(&app, &alice, "lounge").await;
    assert_eq!(lounge["read_only"], false);
    assert_eq!(lounge["read_only_reason"], Value::Null);

    let (status, _) = post(
        &app,
        &alice,
        &format!("/api/v1/rooms/{id}/messages"),
        json!({ "text": "bye" }),
    )
    .await;
    assert_eq!(status, 201);
    let mut a = connect(&app, &alice).await;
    let c = connect(&app, &carol).await;
    let (status, body) = common::rooms::api(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({ "current_password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    let sentence =
        "This account was deleted. You can still read this conversation, but not send to it.";
    // Alice's open pages learn it at once.
    let updated = a.next("room_updated").await;
    assert_eq!(updated["room"]["id"], id.as_str());
    assert_eq!(updated["room"]["name"], "Deleted user");
    assert_eq!(updated["room"]["peer"], Value::Null);
    assert_eq!(updated["room"]["read_only"], true);
    assert_eq!(updated["room"]["read_only_reason"], sentence);
    nothing_more(&mut a, &c, "room_updated", "carol").await;
    let (status, one) = get(&app, &alice, &format!("/api/v1/rooms/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["room"]["read_only"], true, "{one}");
    assert_eq!(one["room"]["read_only_reason"], sentence);
    let listed = my_room(&app, &alice, &id).await.expect("still listed");
    assert_eq!(listed["read_only"], true);
    assert_eq!(listed["read_only_reason"], sentence);
    // What it says is what a post is answered.
    let refused = post(
        &app,
        &alice,
        &format!("/api/v1/rooms/{id}/messages"),
        json!({ "text": "hello?" }),
    )
    .await;
    assert_error(&refused, 403, "forbidden", "a post to a deleted account");
    assert_eq!(refused.1["error"]["message"], sentence);
}

#[tokio::test]
async fn a_first_message_carrying_only_a_file_lists_the_dm_too() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let mut a = connect(&app, &alice).await;
    let b = connect(&app, &bob).await;
    let dm = open_dm(&app, &alice, &bob.name).await;
    let id = dm["id"].as_str().unwrap().to_owned();

    // An upload alone is not a message: still not listed for Bob.
    let part = reqwest::multipart::Part::bytes(b"minutes of the meeting".to_vec())
        .file_name("notes.txt")
        .mime_str("text/plain")
        .unwrap();
    let response = alice
        .http
        .post(app.url(&format!("/api/v1/rooms/{id}/attachments")))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let attachment: Value = response.json().await.unwrap();
    assert!(my_room(&app, &bob, &id).await.is_none());

    let ack = a
        .call(
            "message",
            json!({ "room": id, "text": "", "attachments": [attachment["attachment"]["id"]] }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(b.next("room_joined").await["room"]["id"], id.as_str());
    assert!(my_room(&app, &bob, &id).await.is_some());
}
