//! Every error a person can see reads as written for them: which field is
//! missing, sizes in human units, waits in minutes or seconds, no sentence
//! that repeats its own label.

mod common;

use std::net::IpAddr;

use common::{spawn_app, unique_name, TestApp, PASSWORD};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a csrf token") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login_form(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> (u16, String) {
    let html = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(app.url("/login"))
        .header("origin", &app.base)
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_empty_login_names_the_missing_fields_and_counts_no_attempt() {
    let app = spawn_app().await;
    let name = unique_name("forgetful");
    app.register(&name).await;
    let client = client_from([127, 0, 40, 1]);
    for _ in 0..25 {
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/login",
                json!({"username": " ", "password": ""}),
            )
            .await;
        assert_eq!(response.status(), 422);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["fields"]["username"],
            "Enter your username or email address."
        );
        assert_eq!(body["error"]["fields"]["password"], "Enter your password.");
    }
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": name, "password": ""}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["fields"].get("username").is_none(), "{body}");
    assert_eq!(body["error"]["fields"]["password"], "Enter your password.");

    let (status, html) = login_form(&app, &client, "", "").await;
    assert_eq!(status, 422);
    assert!(html.contains(
        "<p class=\"field-error\" id=\"username-error\">Enter your username or email address.</p>"
    ));
    assert!(
        html.contains("<p class=\"field-error\" id=\"password-error\">Enter your password.</p>")
    );
    assert!(!html.contains("Wrong username or password"));
    let (status, html) = login_form(&app, &client, &name, "").await;
    assert_eq!(status, 422);
    assert!(
        html.contains(&format!("value=\"{name}\"")),
        "the name is kept"
    );
    assert!(!html.contains("id=\"username-error\""));

    // None of those counted as failed logins.
    let (status, _) = login_form(&app, &client, &name, PASSWORD).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_wrong_current_password_says_so_once() {
    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("changer")).await;
    let response = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({
            "current_password": "not it at all",
            "new_password": "seven lanterns over quiet water"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["fields"]["current_password"],
        "That is not your current password."
    );

    let html = client
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(app.url("/profile/password"))
        .header("origin", &app.base)
        .form(&[
            ("csrf_token", csrf_of(&html).as_str()),
            ("current_password", "not it at all"),
            ("new_password", "seven lanterns over quiet water"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(">That is not your current password.</p>"),
        "{html}"
    );
    assert!(!html.contains("Current password is not"));
    assert!(!html.contains("Current password does not"));
}

#[tokio::test]
async fn waits_are_said_in_minutes_and_the_header_stays_in_seconds() {
    let app = spawn_app().await;
    let name = unique_name("guessed");
    app.register(&name).await;
    let client = client_from([127, 0, 41, 1]);
    for _ in 0..20 {
        let (status, _) = login_form(&app, &client, &name, "a wrong guess here").await;
        assert_eq!(status, 401);
    }
    let (status, html) = login_form(&app, &client, &name, PASSWORD).await;
    assert_eq!(status, 429);
    assert!(
        html.contains("Too many attempts. Try again in 15 minutes."),
        "{html}"
    );
    assert!(!html.contains("seconds"));
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 840 && retry <= 900, "{retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Too many attempts. Try again in 15 minutes."
    );
}

#[tokio::test]
async fn a_photo_too_large_names_the_limit() {
    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("big")).await;
    let form = Form::new().part(
        "photo",
        Part::bytes(vec![0u8; 6 * 1024 * 1024])
            .file_name("huge.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let response = client
        .put(app.url("/api/v1/me/avatar"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    assert_eq!(body["error"]["message"], "The photo is larger than 5 MiB.");
}

/// API error messages are sentences a person can read as they are.
#[tokio::test]
async fn api_error_messages_are_sentences() {
    let app = spawn_app().await;
    let anonymous = app.client();
    let response = anonymous.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Sign in first.");

    let (client, _) = app.register(&unique_name("reader")).await;
    let response = client
        .get(app.url("/api/v1/users/nobody_here_at_all"))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Not found.");

    let response = client
        .delete(app.url("/api/v1/rooms/global/membership"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Everyone is in the global room; it cannot be left."
    );
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": unique_name("x"), "password": PASSWORD, "email": "not an address"}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Some fields need another look.");
}
