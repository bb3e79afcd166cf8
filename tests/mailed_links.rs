//! The lifecycle of mailed links (verification and reset), how addresses
//! are compared, and how often verification mail may be sent — over a real
//! SMTP server.

mod common;

use std::time::Duration;

use common::smtp::{link_in, token_of, SmtpSink};
use common::{spawn_with, unique_name, TestApp, PASSWORD};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "seven lanterns over quiet water";
const WAIT: Duration = Duration::from_secs(10);

async fn app_with_mail() -> Option<(TestApp, SmtpSink)> {
    let smtp = SmtpSink::start()?;
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    Some((app, smtp))
}

/// A signed-in user whose address `address` is verified.
async fn verified_user(app: &TestApp, smtp: &SmtpSink, address: &str) -> (String, reqwest::Client) {
    let name = unique_name("link");
    let client = app.client();
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD, "email": address}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mails = smtp.wait_for(address, 1, WAIT).await;
    assert_eq!(verify(app, &verification_token(app, &mails[0])).await, 204);
    (name, client)
}

fn verification_token(app: &TestApp, mail: &str) -> String {
    token_of(
        &link_in(mail, &format!("{}/verify-email?token=", app.base)).expect("verification link"),
    )
}

fn reset_token(app: &TestApp, mail: &str) -> String {
    token_of(&link_in(mail, &format!("{}/reset-password?token=", app.base)).expect("reset link"))
}

async fn verify(app: &TestApp, token: &str) -> u16 {
    app.post_json(
        &app.client(),
        "/api/v1/auth/verify-email",
        json!({"token": token}),
    )
    .await
    .status()
    .as_u16()
}

async fn change_email(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> u16 {
    client
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": email, "current_password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn me(app: &TestApp, client: &reqwest::Client) -> Value {
    let body: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["user"].clone()
}

/// Asks for a reset link for `address` and returns its token.
async fn forgot(app: &TestApp, smtp: &SmtpSink, address: &str, mails_before: usize) -> String {
    let asked = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": address}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(address, mails_before + 1, WAIT).await;
    reset_token(app, &mails[mails_before])
}

async fn reset(app: &TestApp, token: &str, password: &str) -> u16 {
    app.post_json(
        &app.client(),
        "/api/v1/auth/reset-password",
        json!({"token": token, "new_password": password}),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn a_password_change_ends_a_pending_address_change_and_reset_links() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let victim = format!("{}@example.net", unique_name("victim"));
    let (_, client) = verified_user(&app, &smtp, &victim).await;
    let reset_link = forgot(&app, &smtp, &victim, 1).await;
    // Someone with the session asks to move the account to their address…
    let attacker = format!("{}@example.org", unique_name("attacker"));
    assert_eq!(change_email(&app, &client, &attacker, PASSWORD).await, 202);
    let stolen = verification_token(&app, &smtp.wait_for(&attacker, 1, WAIT).await[0]);
    // …and the owner changes the password.
    let changed = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);

    assert_eq!(verify(&app, &stolen).await, 422, "the pending link is dead");
    assert_eq!(
        reset(&app, &reset_link, "another long passphrase here").await,
        422
    );
    let user = me(&app, &client).await;
    assert_eq!(user["email"], victim.as_str());
    assert!(user["pending_email"].is_null(), "{user}");
}

#[tokio::test]
async fn a_password_reset_ends_a_pending_address_change() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let victim = format!("{}@example.net", unique_name("victim"));
    let (name, client) = verified_user(&app, &smtp, &victim).await;
    let attacker = format!("{}@example.org", unique_name("attacker"));
    assert_eq!(change_email(&app, &client, &attacker, PASSWORD).await, 202);
    let stolen = verification_token(&app, &smtp.wait_for(&attacker, 1, WAIT).await[0]);
    let first = forgot(&app, &smtp, &victim, 1).await;
    let second = forgot(&app, &smtp, &victim, 2).await;

    assert_eq!(reset(&app, &second, NEW_PASSWORD).await, 204);
    assert_eq!(verify(&app, &stolen).await, 422);
    assert_eq!(
        reset(&app, &first, "another long passphrase here").await,
        422,
        "a reset ends the other reset links too"
    );
    let login = app
        .post_json(
            &app.client(),
            "/api/v1/auth/login",
            json!({"username": victim, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        login.status(),
        200,
        "{name} still owns the verified address"
    );
}

#[tokio::test]
async fn a_newer_address_change_revokes_the_older_link() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let name = unique_name("twice");
    let (client, _) = app.register(&name).await;
    let first = format!("{name}-one@example.net");
    let second = format!("{name}-two@example.net");
    assert_eq!(change_email(&app, &client, &first, PASSWORD).await, 202);
    let old = verification_token(&app, &smtp.wait_for(&first, 1, WAIT).await[0]);
    assert_eq!(change_email(&app, &client, &second, PASSWORD).await, 202);
    let new = verification_token(&app, &smtp.wait_for(&second, 1, WAIT).await[0]);
    assert_eq!(me(&app, &client).await["pending_email"], second.as_str());

    assert_eq!(verify(&app, &old).await, 422);
    assert_eq!(verify(&app, &new).await, 204);
    let user = me(&app, &client).await;
    assert_eq!(user["email"], second.as_str());
    assert_eq!(user["email_verified"], true);
}

#[tokio::test]
async fn confirming_a_new_address_ends_reset_links_sent_to_the_old_one() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let old_address = format!("{}@example.net", unique_name("old"));
    let (_, client) = verified_user(&app, &smtp, &old_address).await;
    let reset_link = forgot(&app, &smtp, &old_address, 1).await;
    let new_address = format!("{}@example.org", unique_name("new"));
    assert_eq!(
        change_email(&app, &client, &new_address, PASSWORD).await,
        202
    );
    let token = verification_token(&app, &smtp.wait_for(&new_address, 1, WAIT).await[0]);
    assert_eq!(verify(&app, &token).await, 204);

    assert_eq!(reset(&app, &reset_link, NEW_PASSWORD).await, 422);
}

#[tokio::test]
async fn a_pending_address_can_be_cancelled_over_the_api_and_the_page() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let name = unique_name("cancel");
    let (client, _) = app.register(&name).await;
    let address = format!("{name}@example.net");
    assert_eq!(change_email(&app, &client, &address, PASSWORD).await, 202);
    let token = verification_token(&app, &smtp.wait_for(&address, 1, WAIT).await[0]);

    let cancelled = client
        .delete(app.url("/api/v1/me/pending-email"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 204);
    assert!(me(&app, &client).await["pending_email"].is_null());
    assert_eq!(verify(&app, &token).await, 422);
    let again = client
        .delete(app.url("/api/v1/me/pending-email"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let stranger = app
        .client()
        .delete(app.url("/api/v1/me/pending-email"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);

    // The profile page offers the same, without JavaScript.
    let browser = app.browser();
    let cookie = app.session_cookie(&name).await;
    let other = format!("{name}-page@example.net");
    assert_eq!(change_email(&app, &client, &other, PASSWORD).await, 202);
    let page_token = verification_token(&app, &smtp.wait_for(&other, 1, WAIT).await[0]);
    let page = browser
        .get(app.url("/profile"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Cancel this change"), "{page}");
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let posted = browser
        .post(app.url("/profile/email/cancel"))
        .header("cookie", &cookie)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(verify(&app, &page_token).await, 422);
}

#[tokio::test]
async fn a_reset_link_goes_only_to_the_stored_address_never_a_look_alike() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let local = unique_name("kate");
    let stored = format!("{local}@example.net");
    verified_user(&app, &smtp, &stored).await;
    // A Kelvin sign (U+212A) lower-cases to "k" in Unicode.
    let look_alike = stored.replacen('k', "\u{212a}", 1);
    let asked = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": look_alike}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    // The same address in other ASCII letter case is the same address: the
    // link goes to the address as stored.
    let upper = stored.to_ascii_uppercase();
    let asked = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": upper}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(&stored, 2, WAIT).await;
    assert!(mails[1].contains("/reset-password?token="));
    tokio::time::sleep(Duration::from_millis(500)).await;
    for mail in smtp.mails() {
        let to = mail.lines().next().unwrap_or_default();
        assert!(!to.contains('\u{212a}'), "mail to a look-alike: {to}");
        assert!(!to.contains(&upper), "mail to the address as typed: {to}");
    }
    assert_eq!(
        smtp.mails_to(&stored).len(),
        2,
        "one verification, one reset (none for the look-alike)"
    );
    // Nor can the look-alike log in as the account.
    let login = app
        .post_json(
            &app.client(),
            "/api/v1/auth/login",
            json!({"username": look_alike, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 401);
}

#[tokio::test]
async fn verification_mail_is_limited_per_account_and_per_recipient() {
    let Some((app, smtp)) = app_with_mail().await else {
        return;
    };
    let victim = format!("{}@example.net", unique_name("flooded"));
    // One account asks 30 times at once for the same address.
    let (client, _) = app.register(&unique_name("flooder")).await;
    let answers = futures_util::future::join_all(
        (0..30).map(|_| change_email(&app, &client, &victim, PASSWORD)),
    )
    .await;
    let accepted = answers.iter().filter(|s| **s == 202).count();
    let limited = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(accepted + limited, 30, "{answers:?}");
    assert!(
        accepted <= 3,
        "{accepted} mails to one address: {answers:?}"
    );
    // Other accounts cannot add more mails to that address either.
    let (other, _) = app.register(&unique_name("flooder")).await;
    assert_eq!(change_email(&app, &other, &victim, PASSWORD).await, 429);
    let registered = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": unique_name("flooder"), "password": PASSWORD, "email": victim}),
        )
        .await;
    assert_eq!(registered.status(), 429);
    assert!(registered.headers().contains_key("retry-after"));

    // One account cannot mail many addresses either.
    let (spammer, _) = app.register(&unique_name("spammer")).await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let address = format!("{}-{i}@example.org", unique_name("target"));
        statuses.push(change_email(&app, &spammer, &address, PASSWORD).await);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses[5..], [429, 429]);

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.mails_to(&victim).len() <= 3);
}
