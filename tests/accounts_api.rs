//! Registration, login, logout, sessions and the error contract of the JSON API.

mod common;

use common::{cookie_from, spawn_app, spawn_with, unique_name, PASSWORD};
use serde_json::{json, Value};

#[tokio::test]
async fn register_creates_user_and_signs_in() {
    let app = spawn_app().await;
    let client = app.client();
    let name = unique_name("Alice");
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("chatroom_session="));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain http must not set Secure");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], name.as_str());
    assert!(body["user"]["id"].is_i64());
    assert!(body["user"]["avatar_url"]
        .as_str()
        .unwrap()
        .starts_with("/avatars/"));
    assert!(body["user"]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        body["user"].get("email").is_none(),
        "only /me shows the email"
    );

    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["username"], name.as_str());
    assert_eq!(me["user"]["email"], Value::Null);
    assert_eq!(me["user"]["email_verified"], false);
}

#[tokio::test]
async fn secure_cookies_follow_an_https_public_url() {
    let app =
        spawn_with(|c| c.public_url = Some("https://chat.example.com".parse().unwrap())).await;
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": unique_name("sec"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(response.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn registration_rules_are_enforced_per_field() {
    let app = spawn_app().await;
    let client = app.client();
    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (
            json!({"username": "bad name!", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "x".repeat(33), "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": unique_name("u"), "password": "short"}),
            "password",
        ),
        (
            json!({"username": unique_name("u"), "password": "password1234"}),
            "password",
        ),
        (
            json!({"username": "carol_smith", "password": "carol_smith_is_here_2024!"}),
            "password",
        ),
        (
            json!({"username": unique_name("u"), "password": "Zq9!".repeat(65)}),
            "password",
        ),
        (
            json!({"username": unique_name("u"), "password": PASSWORD, "email": "not-an-email"}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .post_json(&client, "/api/v1/auth/register", body.clone())
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "validation_failed");
        assert!(error["error"]["message"].is_string());
        assert!(
            error["error"]["fields"][field].is_string(),
            "{body} → {error}"
        );
    }
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case_but_shown_as_typed() {
    let app = spawn_app().await;
    let name = unique_name("MixedCase");
    app.register(&name).await;
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": name.to_lowercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "username_taken");

    let found: Value = app
        .client()
        .get(app.url(&format!("/api/v1/users/{}", name.to_uppercase())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["user"]["username"], name.as_str());
    assert!(found["user"].get("email").is_none());
}

#[tokio::test]
async fn unknown_user_is_404_json() {
    let app = spawn_app().await;
    let response = app
        .client()
        .get(app.url("/api/v1/users/nobody_here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_found");
}

#[tokio::test]
async fn login_and_logout_round_trip() {
    let app = spawn_app().await;
    let name = unique_name("bob");
    app.register(&name).await;
    let client = app.client();
    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let error: Value = me.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthenticated");

    let response = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": name.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], name.as_str());
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let response = client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let name = unique_name("carol");
    app.register(&name).await;
    let client = app.client();
    let wrong = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": name, "password": "wrong password here"}),
        )
        .await;
    let unknown = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": "no_such_user", "password": "wrong password here"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn login_rotates_the_session_id_and_kills_the_old_one() {
    let app = spawn_app().await;
    let name = unique_name("dave");
    let client = app.client();
    let registered = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    let first = cookie_from(&registered).unwrap();
    let login = app
        .post_json(
            &client,
            "/api/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    let second = cookie_from(&login).unwrap();
    assert_ne!(first, second, "a new id at login");
    let stale = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401, "the pre-login session is gone");
}

#[tokio::test]
async fn logged_out_cookie_is_dead_server_side() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("erin").await;
    let raw = reqwest::Client::new();
    let me = raw
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let out = raw
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let clear = out.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(clear.contains("Max-Age=0"));
    // Replaying the old cookie does not work.
    let me = raw
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn forged_or_garbage_session_cookies_are_unauthenticated() {
    let app = spawn_app().await;
    let raw = reqwest::Client::new();
    for cookie in [
        "chatroom_session=",
        "chatroom_session=abc",
        &format!("chatroom_session={}", "x".repeat(5000)),
    ] {
        let me = raw
            .get(app.url("/api/v1/me"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401, "{}", &cookie[..cookie.len().min(40)]);
    }
}

#[tokio::test]
async fn foreign_origin_writes_are_rejected() {
    let app = spawn_app().await;
    let client = app.client();
    let body = json!({"username": unique_name("xuser"), "password": PASSWORD});
    let foreign = client
        .post(app.url("/api/v1/auth/register"))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let error: Value = foreign.json().await.unwrap();
    assert_eq!(error["error"]["code"], "csrf_rejected");

    let cross_site = client
        .post(app.url("/api/v1/auth/login"))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    let foreign_referer = client
        .post(app.url("/api/v1/auth/logout"))
        .header("referer", "https://evil.example/page")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_referer.status(), 403);

    let null_origin = client
        .post(app.url("/api/v1/auth/logout"))
        .header("origin", "null")
        .send()
        .await
        .unwrap();
    assert_eq!(null_origin.status(), 403);

    // Our own origin, and clients that send no browser headers, pass.
    let own = app.browser();
    let ok = app.post_json(&own, "/api/v1/auth/register", body).await;
    assert_eq!(ok.status(), 201);
    let plain = client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 204);
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_with_retry_after() {
    let app = spawn_app().await;
    let name = unique_name("flood");
    app.register(&name).await;
    let client = app.client();
    for attempt in 0..20 {
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/login",
                json!({"username": format!("{name}{attempt}"), "password": "nope nope nope"}),
            )
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
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
    assert!(retry > 0 && retry <= 900);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_across_addresses() {
    let app = spawn_app().await;
    let name = unique_name("target");
    app.register(&name).await;
    // Twenty different loopback source addresses, one failure each.
    for i in 0..20u8 {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 1, i + 1]))
            .build()
            .unwrap();
        let response = app
            .post_json(
                &client,
                "/api/v1/auth/login",
                json!({"username": name, "password": "wrong guess number"}),
            )
            .await;
        assert_eq!(response.status(), 401);
    }
    let fresh = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 2, 1]))
        .build()
        .unwrap();
    let response = app
        .post_json(
            &fresh,
            "/api/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        response.status(),
        429,
        "the account is throttled from any address"
    );
    assert!(response.headers().contains_key("retry-after"));
    // Another account from that address is not affected.
    let other = unique_name("bystander");
    app.register(&other).await;
    let response = app
        .post_json(
            &fresh,
            "/api/v1/auth/login",
            json!({"username": other, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn registration_is_rate_limited_per_address() {
    let app = spawn_with(|c| c.register_limit = 2).await;
    for _ in 0..2 {
        app.register(&unique_name("reg")).await;
    }
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": unique_name("reg"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn malformed_bodies_get_clear_4xx_errors() {
    let app = spawn_app().await;
    let client = app.client();
    let url = app.url("/api/v1/auth/register");
    let send = |body: &'static str, content_type: &'static str| {
        client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let syntax = send("{\"username\": ", "application/json").await.unwrap();
    assert_eq!(syntax.status(), 400);
    let error: Value = syntax.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_json");

    let wrong_type = send("{\"username\": 5, \"password\": []}", "application/json")
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 422);
    let error: Value = wrong_type.json().await.unwrap();
    assert_eq!(error["error"]["code"], "validation_failed");
    assert!(error["error"]["fields"]["username"].is_string());

    let missing = send("{\"username\": \"someone\"}", "application/json")
        .await
        .unwrap();
    assert_eq!(missing.status(), 422);
    let error: Value = missing.json().await.unwrap();
    assert!(error["error"]["fields"]["password"].is_string(), "{error}");

    let not_object = send("[1,2,3]", "application/json").await.unwrap();
    assert_eq!(not_object.status(), 422);

    let wrong_media = send("username=x", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(wrong_media.status(), 415);
    let error: Value = wrong_media.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_media_type");

    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(200_000)
    );
    let too_large = client
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    let error: Value = too_large.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_large");

    let invalid_utf8 = client
        .post(&url)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_utf8.status(), 400);
}

#[tokio::test]
async fn unknown_api_routes_are_json_404() {
    let app = spawn_app().await;
    let response = app
        .client()
        .get(app.url("/api/v1/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    let page = app
        .client()
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/login",
        "/healthz",
        "/api/v1/me",
        "/static/css/app.css",
        "/nope",
    ] {
        let response = app.client().get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(csp.contains("script-src 'self'"), "{path}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test]
async fn healthz_answers_when_the_database_does() {
    let app = spawn_app().await;
    let response = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn connections_per_address_are_capped() {
    let app = spawn_with(|c| c.max_connections_per_ip = 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let refused = reqwest::Client::new().get(app.url("/healthz")).send().await;
    assert!(refused.is_err(), "the sixth connection is closed");
    // Another address is still served.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 3, 1]))
        .build()
        .unwrap();
    assert_eq!(
        other
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let again = reqwest::Client::new()
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "slots are released");
}
