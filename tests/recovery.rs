//! Password recovery by mail, over a real SMTP server.

mod common;

use std::time::Duration;

use common::smtp::{free_port, link_in, token_of, SmtpSink};
use common::{spawn_with, unique_name, TestApp, PASSWORD};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "seven lanterns over quiet water";

/// A user with a verified address; returns (username, address, client).
async fn verified_user(app: &TestApp, smtp: &SmtpSink) -> (String, String, reqwest::Client) {
    let name = unique_name("rec");
    let address = format!("{name}@example.net");
    let client = app.client();
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD, "email": address}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mails = smtp.wait_for(&address, 1, Duration::from_secs(10)).await;
    let token = token_of(&link_in(&mails[0], "http").unwrap());
    let ok = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(ok.status(), 204);
    (name, address, client)
}

#[tokio::test]
async fn forgot_password_answers_the_same_and_mails_only_real_accounts() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let (_, address, _) = verified_user(&app, &smtp).await;
    let unknown = "nobody-at-all@example.net";

    let known = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": address}),
        )
        .await;
    let missing = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": unknown}),
        )
        .await;
    assert_eq!(known.status(), 202);
    assert_eq!(missing.status(), 202);
    assert_eq!(known.text().await.unwrap(), missing.text().await.unwrap());

    let mails = smtp.wait_for(&address, 2, Duration::from_secs(10)).await;
    assert!(mails[1].contains("/reset-password?token="));
    assert!(!mails[1].contains(PASSWORD), "never a password in a mail");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        smtp.mails_to(unknown).is_empty(),
        "no mail for unknown addresses"
    );

    let page = |path: &str| {
        let url = app.url(path);
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(page("/forgot-password").await.status(), 200);
}

#[tokio::test]
async fn reset_link_works_once_and_ends_every_session() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let (name, address, client) = verified_user(&app, &smtp).await;
    let asked = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": address}),
        )
        .await;
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(&address, 2, Duration::from_secs(10)).await;
    let link =
        link_in(&mails[1], &format!("{}/reset-password?token=", app.base)).expect("reset link");
    let token = token_of(&link);

    // The link opens a form.
    let form = app.client().get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("name=\"new_password\""));

    let weak = app
        .post_json(
            &app.client(),
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "123"}),
        )
        .await;
    assert_eq!(
        weak.status(),
        422,
        "a weak password does not use up the token"
    );
    let reset = app
        .post_json(
            &app.client(),
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "sessions ended"
    );
    let replay = app
        .post_json(
            &app.client(),
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "another fine passphrase here"}),
        )
        .await;
    assert_eq!(replay.status(), 422);
    let body: Value = replay.json().await.unwrap();
    assert!(body["error"]["fields"]["token"].is_string());

    let login = app
        .post_json(
            &app.client(),
            "/api/v1/auth/login",
            json!({"username": name, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 200);
    let old = app
        .post_json(
            &app.client(),
            "/api/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 401);
}

#[tokio::test]
async fn expired_reset_tokens_are_refused() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let (_, address, _) = verified_user(&app, &smtp).await;
    app.post_json(
        &app.client(),
        "/api/v1/auth/forgot-password",
        json!({"email": address}),
    )
    .await;
    let mails = smtp.wait_for(&address, 2, Duration::from_secs(10)).await;
    let token =
        token_of(&link_in(&mails[1], &format!("{}/reset-password?token=", app.base)).unwrap());
    // Thirty-one minutes later…
    sqlx::query("UPDATE tokens SET expires_at = expires_at - 31 * 60 * 1000")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let reset = app
        .post_json(
            &app.client(),
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status(), 422);
}

#[tokio::test]
async fn forgot_password_is_rate_limited_per_address() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app
            .post_json(
                &app.client(),
                "/api/v1/auth/forgot-password",
                json!({"email": "same@example.net"}),
            )
            .await;
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[202, 202, 202]);
    assert_eq!(statuses[4], 429);
    let invalid = app
        .post_json(
            &app.client(),
            "/api/v1/auth/forgot-password",
            json!({"email": "not an email"}),
        )
        .await;
    assert_eq!(invalid.status(), 422);
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_is_delivered_when_it_returns() {
    let port = free_port();
    let app =
        spawn_with(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}").parse().unwrap()))
            .await;
    let name = unique_name("later");
    let address = format!("{name}@example.net");
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD, "email": address}),
        )
        .await;
    assert_eq!(
        response.status(),
        201,
        "registration does not wait for mail"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let Some(smtp) = SmtpSink::start_on(port) else {
        return;
    };
    let mails = smtp.wait_for(&address, 1, Duration::from_secs(20)).await;
    assert!(mails[0].contains("/verify-email?token="));
}
