//! Missed-message mail (docs/threads.md): direct messages and mentions left
//! unread past `CHATROOM_MISSED_MAIL_DELAY` are mailed — once, gathered,
//! only to people away with a verified address who want it — and the
//! one-click unsubscribe link each mail carries; over a real SMTP server.

mod common;

use std::time::Duration;

use common::rooms::{self, api, connect, dm_id, get, open_dm, post, User};
use common::smtp::{link_in, token_of, SmtpSink};
use common::{spawn_with, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// The delay of most tests, in seconds.
const DELAY: u64 = 1;
/// How long a mail that should come may take.
const WAIT: Duration = Duration::from_secs(15);
/// After a mail that was due at the same time arrived: how long to keep
/// looking for one that must not come (several worker ticks).
const GRACE: Duration = Duration::from_millis(1500);

async fn app_with_mail(delay: u64) -> Option<(TestApp, SmtpSink)> {
    let smtp = SmtpSink::start()?;
    let app = spawn_with(|c| {
        c.smtp_url = Some(smtp.url().parse().unwrap());
        c.missed_mail_delay = delay;
    })
    .await;
    Some((app, smtp))
}

fn address(user: &User) -> String {
    format!("{}@example.com", user.name.to_lowercase())
}

/// Asks for `user`'s address to become `address` and returns the
/// verification token mailed to it.
async fn ask_for_address(app: &TestApp, smtp: &SmtpSink, user: &User, address: &str) -> String {
    let (status, body) = api(
        app,
        user,
        Method::PUT,
        "/api/v1/me/email",
        Some(json!({"email": address, "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let mails = smtp.wait_for(address, 1, WAIT).await;
    let link = link_in(&mails[0], &format!("{}/verify-email?token=", app.base))
        .expect("verification link");
    token_of(&link)
}

/// A fresh user whose address (`<name>@example.com`) is verified.
async fn verified(app: &TestApp, smtp: &SmtpSink, prefix: &str) -> User {
    let user = rooms::user(app, prefix).await;
    let token = ask_for_address(app, smtp, &user, &address(&user)).await;
    let answer = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({ "token": token }),
        )
        .await;
    assert_eq!(answer.status(), 204);
    user
}

/// Missed-message mails received by `user` (not the verification mail).
fn missed(smtp: &SmtpSink, user: &User) -> Vec<String> {
    smtp.mails_to(&address(user))
        .into_iter()
        .filter(|m| m.contains("List-Unsubscribe-Post:"))
        .collect()
}

/// Waits for `count` missed-message mails to `user`; returns them all.
async fn wait_missed(smtp: &SmtpSink, user: &User, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mails = missed(smtp, user);
        if mails.len() >= count {
            return mails;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} missed-message mail(s) to {}, got {}",
            user.name,
            mails.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts `text` to `room` as `user` over REST; returns the message.
async fn say(app: &TestApp, user: &User, room: &str, text: &str) -> Value {
    let answer = post(
        app,
        user,
        &format!("/api/v1/rooms/{room}/messages"),
        json!({ "text": text }),
    )
    .await;
    assert_eq!(answer.0, 201, "post to {room}: {}", answer.1);
    answer.1["message"].clone()
}

/// Opens the DM between `from` and `to` and sends `text` in it.
async fn dm(app: &TestApp, from: &User, to: &User, text: &str) -> Value {
    open_dm(app, from, &to.name).await;
    say(app, from, &dm_id(from.id, to.id), text).await
}

/// The unsubscribe URL a mail carries in its `List-Unsubscribe` header.
fn unsubscribe_url(mail: &str) -> String {
    let line = mail
        .lines()
        .find(|l| l.starts_with("List-Unsubscribe: "))
        .unwrap_or_else(|| panic!("no List-Unsubscribe header in {mail}"));
    let url = line["List-Unsubscribe: ".len()..].trim();
    url.trim_start_matches('<').trim_end_matches('>').to_owned()
}

/// Proves that `absent` got no missed-message mail: `control`, whose
/// message was due at the same time, got theirs, and some ticks passed.
async fn assert_none_while_control_is_mailed(smtp: &SmtpSink, absent: &User, control: &User) {
    wait_missed(smtp, control, 1).await;
    tokio::time::sleep(GRACE).await;
    assert!(
        missed(smtp, absent).is_empty(),
        "{} must get no missed-message mail",
        absent.name
    );
}

async fn me(app: &TestApp, user: &User) -> Value {
    let (status, body) = get(app, user, "/api/v1/me").await;
    assert_eq!(status, 200, "{body}");
    body["user"].clone()
}

#[tokio::test]
async fn an_unread_direct_message_is_mailed_once_with_the_unsubscribe_headers() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmalice").await;
    let bob = verified(&app, &smtp, "mmbob").await;
    assert_eq!(me(&app, &bob).await["notify_email"], "dms_and_mentions");
    dm(&app, &alice, &bob, "are you there? <b>bold</b> & co").await;

    let mails = wait_missed(&smtp, &bob, 1).await;
    let mail = &mails[0];
    assert!(mail.contains(&format!("To: {}", address(&bob))), "{mail}");
    assert!(
        mail.contains("Subject: A message you missed on chatroom"),
        "{mail}"
    );
    assert!(
        mail.contains("are you there? <b>bold</b> & co"),
        "text part: {mail}"
    );
    assert!(
        mail.contains("are you there? &lt;b&gt;bold&lt;/b&gt; &amp; co"),
        "HTML part, escaped: {mail}"
    );
    assert!(mail.contains(&alice.name), "{mail}");
    let url = unsubscribe_url(mail);
    assert!(
        url.starts_with(&format!("{}/unsubscribe/", app.base)),
        "{url}"
    );
    assert!(
        mail.contains("\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
        "{mail}"
    );
    assert!(mail.contains(&url), "the body links to the same URL");

    // Nothing more: a message is mailed once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(missed(&smtp, &bob).len(), 1);
    assert!(missed(&smtp, &alice).is_empty());
}

#[tokio::test]
async fn a_burst_of_fifty_direct_messages_makes_one_mail() {
    let Some((app, smtp)) = app_with_mail(3).await else {
        return;
    };
    let alice = rooms::user(&app, "mmburst").await;
    let bob = verified(&app, &smtp, "mmburstee").await;
    open_dm(&app, &alice, &bob.name).await;
    let room = dm_id(alice.id, bob.id);
    for i in 1..=50 {
        say(&app, &alice, &room, &format!("burst number {i:02}")).await;
    }
    let mail = wait_missed(&smtp, &bob, 1).await.remove(0);
    assert!(
        mail.contains("Subject: 50 messages you missed on chatroom"),
        "{mail}"
    );
    assert!(mail.contains("burst number 01") && mail.contains("burst number 20"));
    assert!(!mail.contains("burst number 21"), "at most 20 quoted");
    assert!(mail.contains("and 30 more messages"), "{mail}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(missed(&smtp, &bob).len(), 1, "one mail for the burst");
}

#[tokio::test]
async fn mentions_in_the_global_room_and_a_public_room_are_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let carol = rooms::user(&app, "mmcarol").await;
    let globe = verified(&app, &smtp, "mmglobe").await;
    let member = verified(&app, &smtp, "mmmember").await;
    let room = rooms::create_room(&app, &carol, "mailroom").await;
    let room = room["id"].as_str().unwrap().to_owned();
    rooms::join(&app, &member, &room).await;

    say(
        &app,
        &carol,
        "global",
        &format!("hello @{} in the big room", globe.name),
    )
    .await;
    say(&app, &carol, &room, "a message that mentions nobody").await;
    say(
        &app,
        &carol,
        &room,
        &format!("@{} look at this", member.name),
    )
    .await;

    let global_mail = wait_missed(&smtp, &globe, 1).await.remove(0);
    assert!(global_mail.contains("in the big room"), "{global_mail}");
    assert!(global_mail.contains("the global room"), "{global_mail}");
    let room_mail = wait_missed(&smtp, &member, 1).await.remove(0);
    assert!(room_mail.contains("look at this"), "{room_mail}");
    assert!(room_mail.contains("#mailroom"), "{room_mail}");
    assert!(
        !room_mail.contains("mentions nobody"),
        "only mentions of a room are mailed"
    );
}

#[tokio::test]
async fn a_mention_in_a_room_left_since_is_not_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let carol = rooms::user(&app, "mmleavec").await;
    let gone = verified(&app, &smtp, "mmleaver").await;
    let control = verified(&app, &smtp, "mmleavectl").await;
    let room = rooms::create_room(&app, &carol, "leftroom").await;
    let room = room["id"].as_str().unwrap().to_owned();
    rooms::join(&app, &gone, &room).await;
    say(
        &app,
        &carol,
        &room,
        &format!("@{} are you still here?", gone.name),
    )
    .await;
    rooms::leave(&app, &gone, &room).await;
    dm(&app, &carol, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &gone, &control).await;
}

#[tokio::test]
async fn a_message_read_on_another_device_is_not_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmreada").await;
    let bob = verified(&app, &smtp, "mmreadb").await;
    let control = verified(&app, &smtp, "mmreadc").await;
    let message = dm(&app, &alice, &bob, "read me elsewhere").await;
    let (status, body) = api(
        &app,
        &bob,
        Method::PUT,
        &format!("/api/v1/rooms/{}/read", dm_id(alice.id, bob.id)),
        Some(json!({ "last_read_id": message["id"] })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    dm(&app, &alice, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;
}

#[tokio::test]
async fn nobody_with_an_open_socket_is_mailed_until_it_closes() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmsocka").await;
    let bob = verified(&app, &smtp, "mmsockb").await;
    let control = verified(&app, &smtp, "mmsockc").await;
    let socket = connect(&app, &bob).await;
    socket.next("presence").await;
    dm(&app, &alice, &bob, "you are online").await;
    dm(&app, &alice, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;

    // Still unread once the socket is gone: then it is mailed.
    socket.close();
    let mail = wait_missed(&smtp, &bob, 1).await.remove(0);
    assert!(mail.contains("you are online"), "{mail}");
}

#[tokio::test]
async fn a_suspended_account_is_not_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    // The first account is the admin.
    let admin = rooms::user(&app, "mmadmin").await;
    let bob = verified(&app, &smtp, "mmsusp").await;
    let control = verified(&app, &smtp, "mmsuspc").await;
    dm(&app, &admin, &bob, "a message before the suspension").await;
    let (status, body) = api(
        &app,
        &admin,
        Method::PUT,
        &format!("/api/v1/admin/users/{}/suspension", bob.name),
        None,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    dm(&app, &admin, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;
}

#[tokio::test]
async fn a_deleted_account_is_not_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmdela").await;
    let bob = verified(&app, &smtp, "mmdelb").await;
    let control = verified(&app, &smtp, "mmdelc").await;
    dm(&app, &alice, &bob, "are you leaving?").await;
    let (status, body) = api(
        &app,
        &bob,
        Method::DELETE,
        "/api/v1/me",
        Some(json!({ "current_password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    dm(&app, &alice, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;
}

#[tokio::test]
async fn an_unverified_address_is_not_mailed() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmunva").await;
    let bob = rooms::user(&app, "mmunvb").await;
    let control = verified(&app, &smtp, "mmunvc").await;
    // The link is mailed but never opened.
    ask_for_address(&app, &smtp, &bob, &address(&bob)).await;
    assert_eq!(me(&app, &bob).await["email_verified"], false);
    dm(&app, &alice, &bob, "to an unverified address").await;
    dm(&app, &alice, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;
}

#[tokio::test]
async fn notify_email_off_means_no_mail() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmoffa").await;
    let bob = verified(&app, &smtp, "mmoffb").await;
    let control = verified(&app, &smtp, "mmoffc").await;
    let (status, body) = api(
        &app,
        &bob,
        Method::PUT,
        "/api/v1/me/notifications",
        Some(json!({ "email": "off" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["notify_email"], "off");
    dm(&app, &alice, &bob, "while mail is off").await;
    dm(&app, &alice, &control, "control").await;
    assert_none_while_control_is_mailed(&smtp, &bob, &control).await;

    // Turned back on: what came meanwhile is not mailed, what comes next is.
    let (status, body) = api(
        &app,
        &bob,
        Method::PUT,
        "/api/v1/me/notifications",
        Some(json!({ "email": "dms_and_mentions" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["notify_email"], "dms_and_mentions");
    dm(&app, &alice, &bob, "after mail is back on").await;
    let mail = wait_missed(&smtp, &bob, 1).await.remove(0);
    assert!(mail.contains("after mail is back on"), "{mail}");
    assert!(!mail.contains("while mail is off"), "{mail}");
}

#[tokio::test]
async fn a_second_window_mails_only_the_new_messages() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmwina").await;
    let bob = verified(&app, &smtp, "mmwinb").await;
    dm(&app, &alice, &bob, "the first message").await;
    let first = wait_missed(&smtp, &bob, 1).await.remove(0);
    assert!(first.contains("the first message"));

    say(&app, &alice, &dm_id(alice.id, bob.id), "the second message").await;
    let mails = wait_missed(&smtp, &bob, 2).await;
    let second = &mails[1];
    assert!(second.contains("the second message"), "{second}");
    assert!(!second.contains("the first message"), "{second}");
    assert_ne!(
        unsubscribe_url(&first),
        unsubscribe_url(second),
        "a token per mail"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(missed(&smtp, &bob).len(), 2);
}

#[tokio::test]
async fn the_unsubscribe_link_turns_mail_off_without_cookies_and_changes_nothing_else() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmunsa").await;
    let bob = verified(&app, &smtp, "mmunsb").await;
    dm(&app, &alice, &bob, "please unsubscribe").await;
    let url = unsubscribe_url(&wait_missed(&smtp, &bob, 1).await[0]);
    let before = me(&app, &bob).await;

    // A link scanner's GET changes nothing: a page with one button.
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    let path = url.strip_prefix(&app.base).unwrap();
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");
    assert!(html.contains(">Unsubscribe</button>"), "{html}");
    assert_eq!(me(&app, &bob).await["notify_email"], "dms_and_mentions");

    // The mail client's one-click POST: no cookies, RFC 8058's body.
    let plain = reqwest::Client::new();
    let answer = plain
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert!(answer.headers().get("set-cookie").is_none());
    let after = me(&app, &bob).await;
    assert_eq!(after["notify_email"], "off");
    let mut unchanged = after.clone();
    unchanged["notify_email"] = before["notify_email"].clone();
    assert_eq!(unchanged, before, "only notify_email changed");

    // Again, from a mail client's own origin, or with nothing: still 204.
    for origin in [Some("https://mail.example.net"), None] {
        let mut request = plain.post(&url);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        assert_eq!(request.send().await.unwrap().status(), 204);
    }

    // No more mail.
    let control = verified(&app, &smtp, "mmunsc").await;
    dm(&app, &alice, &bob, "after unsubscribing").await;
    dm(&app, &alice, &control, "control").await;
    wait_missed(&smtp, &control, 1).await;
    tokio::time::sleep(GRACE).await;
    assert_eq!(missed(&smtp, &bob).len(), 1, "nothing after unsubscribing");

    // The page's own button, as a browser sends it: a page says it is done.
    let answer = plain
        .post(&url)
        .header("origin", &app.base)
        .form(&[("from", "page")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("You are unsubscribed"));
}

#[tokio::test]
async fn unknown_or_malformed_unsubscribe_tokens_are_404() {
    let app = spawn_with(|_| {}).await;
    let plain = reqwest::Client::new();
    let random = "A".repeat(43);
    let long = "A".repeat(5000);
    for token in [
        random.as_str(),
        "short",
        "%FF",
        "%00",
        "abc%00def",
        "..%2F..%2Fetc",
        long.as_str(),
        "%E2%82%AC",
    ] {
        let url = app.url(&format!("/unsubscribe/{token}"));
        for method in [Method::POST, Method::GET] {
            let answer = plain.request(method.clone(), &url).send().await.unwrap();
            assert_eq!(answer.status(), 404, "{method} {token}");
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["code"], "not_found", "{method} {token}");
        }
        // A person following a bad link gets a page.
        let answer = plain
            .get(&url)
            .header("accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404);
        assert!(answer
            .text()
            .await
            .unwrap()
            .contains("This link does not work"));
    }
}

#[tokio::test]
async fn the_notification_setting_is_validated() {
    let app = spawn_with(|_| {}).await;
    let bob = rooms::user(&app, "mmset").await;
    let put = |body: Option<Value>| {
        let bob = &bob;
        let app = &app;
        async move { api(app, bob, Method::PUT, "/api/v1/me/notifications", body).await }
    };
    for bad in [
        json!({ "email": "on" }),
        json!({ "email": "OFF" }),
        json!({ "email": 1 }),
        json!({ "email": null }),
        json!({ "email": ["off"] }),
        json!({ "email": "off\u{0}" }),
        json!({}),
    ] {
        let answer = put(Some(bad.clone())).await;
        rooms::assert_error(&answer, 422, "validation_failed", &bad.to_string());
        assert!(
            answer.1["error"]["fields"]["email"].is_string(),
            "{bad}: {}",
            answer.1
        );
    }
    assert_eq!(me(&app, &bob).await["notify_email"], "dms_and_mentions");

    let answer = put(Some(json!({ "email": "off" }))).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["user"]["id"], bob.id);
    assert_eq!(answer.1["user"]["notify_email"], "off");
    assert_eq!(me(&app, &bob).await["notify_email"], "off");

    // Not JSON, signed out, another site.
    let raw = bob
        .http
        .put(app.url("/api/v1/me/notifications"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let signed_out = app
        .client()
        .put(app.url("/api/v1/me/notifications"))
        .json(&json!({ "email": "off" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 401);
    let cross_site = bob
        .http
        .put(app.url("/api/v1/me/notifications"))
        .header("origin", "https://evil.example")
        .json(&json!({ "email": "dms_and_mentions" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(me(&app, &bob).await["notify_email"], "off");

    // The OpenAPI document describes it.
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operation = &doc["paths"]["/api/v1/me/notifications"]["put"];
    assert!(operation.is_object(), "documented");
    assert!(operation["responses"]["422"].is_object());
}

#[tokio::test]
async fn the_profile_page_sets_the_choice_without_javascript() {
    let app = spawn_with(|_| {}).await;
    let bob = rooms::user(&app, "mmpage").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |client: &reqwest::Client| {
        client
            .get(app.url("/profile"))
            .header("cookie", &bob.cookie)
            .send()
    };
    let html = page(&client).await.unwrap().text().await.unwrap();
    assert!(html.contains("Email me about direct messages and mentions I miss"));
    assert!(
        html.contains("value=\"dms_and_mentions\" checked"),
        "{html}"
    );
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let token = html[start..].split('"').next().unwrap().to_owned();

    let submit = |choice: &'static str, token: String| {
        client
            .post(app.url("/profile/notifications"))
            .header("cookie", &bob.cookie)
            .header("origin", &app.base)
            .form(&[("csrf_token", token), ("notify_email", choice.to_owned())])
            .send()
    };
    let answer = submit("off", token.clone()).await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(me(&app, &bob).await["notify_email"], "off");
    let html = page(&client).await.unwrap().text().await.unwrap();
    assert!(html.contains("value=\"off\" checked"), "{html}");

    let answer = submit("sometimes", token.clone()).await.unwrap();
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(html.contains("id=\"notify_email-error\""), "{html}");
    assert_eq!(me(&app, &bob).await["notify_email"], "off");

    let answer = submit("dms_and_mentions", "wrong".into()).await.unwrap();
    assert_eq!(answer.status(), 403, "a form without its token");
    assert_eq!(me(&app, &bob).await["notify_email"], "off");

    let answer = submit("dms_and_mentions", token).await.unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(me(&app, &bob).await["notify_email"], "dms_and_mentions");
}

#[tokio::test]
async fn the_file_outbox_carries_the_unsubscribe_headers() {
    let app = spawn_with(|c| c.missed_mail_delay = DELAY).await;
    // Next to the SQLite file, or ./data on PostgreSQL (shared: mails are
    // told apart by their unique address and text).
    let outbox = app.state.config.data_dir().join("outbox");
    let mails = || -> Vec<String> {
        std::fs::read_dir(&outbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .map(|raw| common::smtp::decode_quoted_printable(&raw))
                    .collect()
            })
            .unwrap_or_default()
    };
    let wait_for = |to: String, what: String| {
        let mails = &mails;
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let found = mails()
                    .into_iter()
                    .find(|m| m.contains(&format!("To: {to}")) && m.contains(&what));
                if let Some(mail) = found {
                    return mail;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no mail to {to} with {what}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let alice = rooms::user(&app, "mmfilea").await;
    let bob = rooms::user(&app, "mmfileb").await;
    let (status, _) = api(
        &app,
        &bob,
        Method::PUT,
        "/api/v1/me/email",
        Some(json!({"email": address(&bob), "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 202);
    // This server's links carry its own port: older mails in a shared
    // outbox do not match.
    let verify = format!("{}/verify-email?token=", app.base);
    let verification = wait_for(address(&bob), verify.clone()).await;
    let link = link_in(&verification, &verify).expect("verification link");
    let answer = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({ "token": token_of(&link) }),
        )
        .await;
    assert_eq!(answer.status(), 204);

    dm(&app, &alice, &bob, "written to a file").await;
    let mail = wait_for(
        address(&bob),
        format!("List-Unsubscribe: <{}/unsubscribe/", app.base),
    )
    .await;
    assert!(
        mail.contains("\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
        "{mail}"
    );
    assert!(mail.contains("written to a file"), "{mail}");
    assert!(
        unsubscribe_url(&mail).starts_with(&format!("{}/unsubscribe/", app.base)),
        "{mail}"
    );
}

#[test]
fn the_delay_is_a_setting_with_a_floor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chatroom.toml"), "missed_mail_delay = 7\n").unwrap();
    let check = |envs: &[(&str, &str)], args: &[&str]| {
        let mut command = common::process::command(dir.path());
        command
            .envs(envs.iter().copied())
            .args(args)
            .arg("check-config");
        command.output().unwrap()
    };
    let shown =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();

    let output = check(&[], &[]);
    assert!(output.status.success());
    assert!(shown(&output)
        .lines()
        .any(|l| l == "CHATROOM_MISSED_MAIL_DELAY=600"));
    let output = check(&[("CHATROOM_CONFIG", "chatroom.toml")], &[]);
    assert!(shown(&output)
        .lines()
        .any(|l| l == "CHATROOM_MISSED_MAIL_DELAY=7"));
    let output = check(
        &[
            ("CHATROOM_CONFIG", "chatroom.toml"),
            ("CHATROOM_MISSED_MAIL_DELAY", "30"),
        ],
        &[],
    );
    assert!(shown(&output)
        .lines()
        .any(|l| l == "CHATROOM_MISSED_MAIL_DELAY=30"));
    let output = check(&[], &["--missed-mail-delay", "45"]);
    assert!(shown(&output)
        .lines()
        .any(|l| l == "CHATROOM_MISSED_MAIL_DELAY=45"));
    for bad in ["0", "-1", "soon", "99999999999"] {
        let output = check(&[("CHATROOM_MISSED_MAIL_DELAY", bad)], &[]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("missed-mail-delay"),
            "{bad}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A private redis-server on a free port, for the two-instance test.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = common::smtp::free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            common::skip_or_fail("redis-server (apt-get install redis-server)");
            return None;
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Redis { child, port })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_instances_on_one_database_send_each_mail_once() {
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        common::skip_or_fail("PostgreSQL for the two-instance mail test");
        return;
    }
    let Some(redis) = Redis::start() else { return };
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let (schema, db_url) = common::fresh_postgres_schema().await;
    let settings = |c: &mut chatroom::config::Config| {
        c.database_url = db_url.clone();
        c.redis_url = Some(format!("redis://127.0.0.1:{}", redis.port).parse().unwrap());
        c.smtp_url = Some(smtp.url().parse().unwrap());
        c.missed_mail_delay = DELAY;
    };
    let a = spawn_with(settings).await;
    let b = spawn_with(settings).await;

    let alice = rooms::user(&a, "mmclustera").await;
    let mut away = Vec::new();
    for i in 0..16 {
        away.push(verified(&a, &smtp, &format!("mmaway{i}x")).await);
    }
    // Online on instance a only: instance b must know it too.
    let online = verified(&a, &smtp, "mmonline").await;
    let socket = connect(&a, &online).await;
    socket.next("presence").await;

    for (i, person) in away.iter().chain([&online]).enumerate() {
        let app = if i % 2 == 0 { &a } else { &b };
        dm(
            app,
            &alice,
            person,
            &format!("to {} through one of two", person.name),
        )
        .await;
    }
    for person in &away {
        wait_missed(&smtp, person, 1).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for person in &away {
        assert_eq!(
            missed(&smtp, person).len(),
            1,
            "one mail for {}",
            person.name
        );
    }
    assert!(
        missed(&smtp, &online).is_empty(),
        "online on the other instance"
    );
    drop((a, b, socket));
    common::drop_schema(schema);
}

#[tokio::test]
async fn an_upgraded_database_mails_nothing_left_unread_before_the_upgrade() {
    if common::on_postgres() {
        return; // the upgrade path checked here is SQLite's file
    }
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let mut before_mail = sqlx::migrate!("migrations/sqlite");
    before_mail.migrations = std::borrow::Cow::Owned(
        before_mail
            .migrations
            .iter()
            .filter(|m| m.version < 5)
            .cloned()
            .collect(),
    );
    before_mail.run(&pool).await.unwrap();
    let now = chatroom::db::now_ms();
    let token = "missed-mail-upgrade-session";
    for sql in [
        "INSERT INTO users (id, username, username_key, password_hash, created_at, email, email_key, email_verified) \
         VALUES (1, 'sender', 'sender', 'x', 1, NULL, NULL, 0)",
        "INSERT INTO users (id, username, username_key, password_hash, created_at, email, email_key, email_verified) \
         VALUES (2, 'later', 'later', 'x', 2, 'later@example.com', 'later@example.com', 1)",
        "INSERT INTO rooms (id, kind, name, topic, created_by, created_at) VALUES ('dm:1:2', 'dm', '', '', 1, 3)",
        "INSERT INTO room_members (room, user_id, joined_at) VALUES ('dm:1:2', 1, 3), ('dm:1:2', 2, 3)",
        "INSERT INTO messages (id, room, author_id, text, created_at) VALUES (1, 'dm:1:2', 1, 'an old direct message', 4)",
        "INSERT INTO messages (id, room, author_id, text, created_at) VALUES (2, 'global', 1, '@later an old mention', 5)",
        "INSERT INTO mentions (user_id, message_id, room) VALUES (2, 2, 'global')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) \
         VALUES ($1, 1, 'csrf', $2, $2)",
    )
    .bind(chatroom::auth::secret::hash_token(token))
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let app = spawn_with(|c| {
        c.database_url = url.clone();
        c.smtp_url = Some(smtp.url().parse().unwrap());
        c.missed_mail_delay = DELAY;
    })
    .await;
    let posted = reqwest::Client::new()
        .post(app.url("/api/v1/rooms/dm:1:2/messages"))
        .header("cookie", format!("chatroom_session={token}"))
        .json(&json!({ "text": "a new direct message" }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let mails = smtp.wait_for("later@example.com", 1, WAIT).await;
    assert!(mails[0].contains("a new direct message"), "{}", mails[0]);
    assert!(!mails[0].contains("an old direct message"), "{}", mails[0]);
    assert!(!mails[0].contains("an old mention"), "{}", mails[0]);
}

#[tokio::test]
async fn a_thread_reply_is_read_by_the_thread_marker_not_the_room_marker() {
    let Some((app, smtp)) = app_with_mail(DELAY).await else {
        return;
    };
    let alice = rooms::user(&app, "mmthra").await;
    let bob = verified(&app, &smtp, "mmthrb").await;
    let carol = verified(&app, &smtp, "mmthrc").await;
    let room_bob = dm_id(alice.id, bob.id);
    let room_carol = dm_id(alice.id, carol.id);
    let root_bob = dm(&app, &alice, &bob, "root for bob").await;
    let root_carol = dm(&app, &alice, &carol, "root for carol").await;
    let reply = |room: String, root: &Value, text: &str| {
        let body = json!({ "text": text, "reply_to": root["id"] });
        let path = format!("/api/v1/rooms/{room}/messages");
        let (app, alice) = (&app, &alice);
        async move {
            let answer = post(app, alice, &path, body).await;
            assert_eq!(answer.0, 201, "{}", answer.1);
            answer.1["message"].clone()
        }
    };
    let reply_bob = reply(room_bob.clone(), &root_bob, "in the thread, bob").await;
    let reply_carol = reply(room_carol.clone(), &root_carol, "in the thread, carol").await;
    // Both read their DM past the reply's id (the room marker passes it)…
    let later_bob = say(&app, &alice, &room_bob, "later, bob").await;
    let later_carol = say(&app, &alice, &room_carol, "later, carol").await;
    for (who, room, last) in [
        (&bob, &room_bob, &later_bob),
        (&carol, &room_carol, &later_carol),
    ] {
        let (status, body) = api(
            &app,
            who,
            Method::PUT,
            &format!("/api/v1/rooms/{room}/read"),
            Some(json!({ "last_read_id": last["id"] })),
        )
        .await;
        assert_eq!(status, 204, "{body}");
    }
    // …but only bob opens the thread: carol still missed the reply.
    let (status, body) = api(
        &app,
        &bob,
        Method::PUT,
        &format!("/api/v1/messages/{}/thread/read", root_bob["id"]),
        Some(json!({ "last_read_id": reply_bob["id"] })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let mails = wait_missed(&smtp, &carol, 1).await;
    assert!(mails[0].contains("in the thread, carol"), "{}", mails[0]);
    assert!(
        !mails[0].contains("later, carol"),
        "read in the room: {}",
        mails[0]
    );
    let _ = reply_carol;
    tokio::time::sleep(GRACE).await;
    assert!(missed(&smtp, &bob).is_empty(), "bob read both markers");
}
