//! Limits hold under concurrency: each attempt is counted before the
//! password hash is computed, so requests already in flight cannot all
//! pass (login per address and per account, registration, current-password
//! checks, room creation, recovery).

mod common;

use std::net::IpAddr;

use common::{spawn_with, unique_name, TestApp, PASSWORD};
use futures_util::future::join_all;
use serde_json::{json, Value};

fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

async fn status_of(response: reqwest::Response) -> u16 {
    response.status().as_u16()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn wrong_login(app: &TestApp, client: &reqwest::Client, name: &str) -> u16 {
    status_of(
        app.post_json(
            client,
            "/api/v1/auth/login",
            json!({"username": name, "password": "a wrong guess here"}),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn sixty_concurrent_wrong_logins_from_one_address_get_twenty_answers() {
    let app = spawn_with(|_| {}).await;
    let name = unique_name("burst");
    app.register(&name).await;
    let client = client_from([127, 0, 3, 1]);
    let statuses = join_all((0..60).map(|_| wrong_login(&app, &client, &name))).await;
    assert_eq!(count(&statuses, 401), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 40, "{statuses:?}");
}

#[tokio::test]
async fn concurrent_wrong_logins_from_three_addresses_share_the_account_limit() {
    let app = spawn_with(|_| {}).await;
    let name = unique_name("spread");
    app.register(&name).await;
    let clients: Vec<reqwest::Client> = (1..=3).map(|i| client_from([127, 0, 4, i])).collect();
    let statuses = join_all((0..60).map(|i| wrong_login(&app, &clients[i % 3], &name))).await;
    assert_eq!(count(&statuses, 401), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 40, "{statuses:?}");
    // The right password is refused too while the account is throttled.
    let fresh = client_from([127, 0, 4, 9]);
    let response = app
        .post_json(
            &fresh,
            "/api/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn a_successful_login_does_not_count_as_a_failure() {
    let app = spawn_with(|_| {}).await;
    let name = unique_name("regular");
    app.register(&name).await;
    let client = client_from([127, 0, 5, 1]);
    for _ in 0..30 {
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/login",
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(wrong_login(&app, &client, &name).await, 401);
}

#[tokio::test]
async fn forty_concurrent_registrations_pass_a_limit_of_twenty_twenty_times() {
    let app = spawn_with(|c| c.register_limit = 20).await;
    let client = client_from([127, 0, 6, 1]);
    let statuses = join_all((0..40).map(|_| {
        let client = client.clone();
        let app = &app;
        async move {
            status_of(
                app.post_json(
                    &client,
                    "/api/v1/auth/register",
                    json!({"username": unique_name("crowd"), "password": PASSWORD}),
                )
                .await,
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&statuses, 201), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
}

#[tokio::test]
async fn a_refused_registration_does_not_use_up_the_limit() {
    let app = spawn_with(|c| c.register_limit = 2).await;
    let client = client_from([127, 0, 6, 2]);
    let taken = unique_name("taken");
    app.register(&taken).await;
    for _ in 0..5 {
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/register",
                json!({"username": taken, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 409);
    }
    for _ in 0..2 {
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/register",
                json!({"username": unique_name("fresh"), "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
}

#[tokio::test]
async fn concurrent_wrong_current_passwords_are_limited_like_logins() {
    let app = spawn_with(|_| {}).await;
    let (client, _) = app.register(&unique_name("profile")).await;
    let statuses = join_all((0..60).map(|_| {
        let client = client.clone();
        let app = &app;
        async move {
            status_of(
                client
                    .put(app.url("/api/v1/me/password"))
                    .json(&json!({
                        "current_password": "a wrong guess here",
                        "new_password": "seven lanterns over quiet water"
                    }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&statuses, 422), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 40, "{statuses:?}");
    let response = client
        .delete(app.url("/api/v1/me"))
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "deletion needs the same check");
}

#[tokio::test]
async fn concurrent_room_creations_pass_the_hourly_limit_exactly() {
    let app = spawn_with(|_| {}).await;
    let (client, _) = app.register(&unique_name("builder")).await;
    let statuses = join_all((0..60).map(|i| {
        let client = client.clone();
        let app = &app;
        async move {
            let name = format!("r{}x{i}", unique_name("").trim_start_matches('_'));
            status_of(
                client
                    .post(app.url("/api/v1/rooms"))
                    .json(&json!({ "name": name }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&statuses, 201), 30, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 30, "{statuses:?}");
}

#[tokio::test]
async fn concurrent_recovery_requests_pass_the_per_address_limit_exactly() {
    let app = spawn_with(|_| {}).await;
    let client = client_from([127, 0, 7, 1]);
    let statuses = join_all((0..60).map(|i| {
        let client = client.clone();
        let app = &app;
        async move {
            let body: Value = json!({ "email": format!("someone{i}@example.net") });
            status_of(
                app.post_json(&client, "/api/v1/auth/forgot-password", body)
                    .await,
            )
            .await
        }
    }))
    .await;
    assert_eq!(count(&statuses, 202), 10, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 50, "{statuses:?}");
}
