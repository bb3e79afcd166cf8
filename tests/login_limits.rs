//! Login limits with device cookies (SECURITY.md, "Login limits"): a
//! browser that signed in to an account before is judged by its own
//! failure limit, so failures by others behind the same address, or
//! against the account on purpose, do not lock it out; every other attempt
//! is still limited per address and per account.

mod common;

use std::net::IpAddr;

use common::{spawn_app, spawn_with, unique_name, TestApp, PASSWORD};
use futures_util::future::join_all;
use serde_json::{json, Value};

const WRONG: &str = "a wrong guess here";
const NEW_PASSWORD: &str = "seven lanterns over quiet water";

/// A client whose requests come from `ip` and that keeps no cookies: each
/// request carries exactly the cookies a test gives it.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

/// `name=value` of a cookie set by a response.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

async fn login_as(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    password: &str,
    device: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password}));
    if let Some(device) = device {
        request = request.header("cookie", device);
    }
    request.send().await.unwrap()
}

async fn status(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    password: &str,
    device: Option<&str>,
) -> u16 {
    login_as(app, client, name, password, device)
        .await
        .status()
        .as_u16()
}

/// Registers `name` from `client`; returns the user's id and the device
/// cookie registration set.
async fn register_from(app: &TestApp, client: &reqwest::Client, name: &str) -> (i64, String) {
    let response = app
        .post_json(
            client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let device = set_cookie(&response, "chatroom_device").expect("registration sets a device");
    let body: Value = response.json().await.unwrap();
    (body["user"]["id"].as_i64().unwrap(), device)
}

/// Signs in from `client` and returns the device cookie the login set.
async fn device_of(app: &TestApp, client: &reqwest::Client, name: &str) -> String {
    let response = login_as(app, client, name, PASSWORD, None).await;
    assert_eq!(response.status(), 200);
    set_cookie(&response, "chatroom_device").expect("login sets a device cookie")
}

/// Fails `n` logins for `name` from `client`, each answered 401.
async fn fail(app: &TestApp, client: &reqwest::Client, name: &str, n: usize) {
    for i in 0..n {
        assert_eq!(
            status(app, client, name, WRONG, None).await,
            401,
            "failure {i}"
        );
    }
}

async fn devices_of(app: &TestApp, user_id: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_devices WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    n
}

fn count(statuses: &[u16], wanted: u16) -> usize {
    statuses.iter().filter(|s| **s == wanted).count()
}

#[tokio::test]
async fn the_device_cookie_is_long_lived_http_only_and_secure_per_config() {
    let app = spawn_app().await;
    let name = unique_name("cookie");
    let office = client_from([127, 0, 20, 1]);
    register_from(&app, &office, &name).await;
    let response = login_as(&app, &office, &name, PASSWORD, None).await;
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chatroom_device="))
        .expect("device cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"] {
        assert!(header.contains(attribute), "{header} lacks {attribute}");
    }
    assert!(!header.contains("Secure"));
    assert!(
        set_cookie(&response, "chatroom_session").is_some(),
        "the session cookie is set as well"
    );

    let secure = spawn_with(|c| c.secure_cookies = Some(true)).await;
    let name = unique_name("secure");
    let response = secure
        .post_json(
            &office,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD}),
        )
        .await;
    let header = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chatroom_device="))
        .expect("device cookie")
        .to_owned();
    assert!(header.ends_with("; Secure"), "{header}");
}

/// One person failing for their account behind an office's address does
/// not lock out a colleague whose browser signed in before; everyone else
/// from that address is limited as before.
#[tokio::test]
async fn failures_for_one_account_do_not_lock_out_a_colleague_on_a_trusted_browser() {
    let app = spawn_app().await;
    let office = client_from([127, 0, 21, 1]);
    let (alice, bob) = (unique_name("alice"), unique_name("bob"));
    register_from(&app, &client_from([127, 0, 21, 100]), &alice).await;
    register_from(&app, &client_from([127, 0, 21, 101]), &bob).await;
    let bob_device = device_of(&app, &office, &bob).await;

    fail(&app, &office, &alice, 20).await;
    let refused = login_as(&app, &office, &alice, PASSWORD, None).await;
    assert_eq!(refused.status(), 429, "the address is limited");
    assert!(refused.headers().contains_key("retry-after"));

    assert_eq!(
        status(&app, &office, &bob, PASSWORD, None).await,
        429,
        "without the device cookie Bob is limited with the address"
    );
    let response = login_as(&app, &office, &bob, PASSWORD, Some(&bob_device)).await;
    assert_eq!(response.status(), 200, "Bob's browser signed in before");
    assert_eq!(
        set_cookie(&response, "chatroom_device").as_deref(),
        Some(bob_device.as_str()),
        "the same device stays trusted"
    );
}

/// An attacker failing on purpose against an account, from many addresses,
/// locks out new browsers only: its owner's own browsers still sign in.
#[tokio::test]
async fn failing_on_purpose_does_not_lock_a_victim_out_of_their_own_browser() {
    let app = spawn_app().await;
    let victim = unique_name("victim");
    let home = client_from([127, 0, 22, 1]);
    let (_, device) = register_from(&app, &home, &victim).await;

    for i in 1..=20u8 {
        let attacker = client_from([127, 0, 23, i]);
        assert_eq!(status(&app, &attacker, &victim, WRONG, None).await, 401);
    }
    let fresh = client_from([127, 0, 23, 200]);
    assert_eq!(
        status(&app, &fresh, &victim, PASSWORD, None).await,
        429,
        "the account is limited for untrusted browsers"
    );
    assert_eq!(
        status(&app, &home, &victim, PASSWORD, None).await,
        429,
        "the victim without their device cookie too"
    );
    assert_eq!(
        status(&app, &home, &victim, PASSWORD, Some(&device)).await,
        200,
        "the victim's browser signs in"
    );
    let travelling = client_from([127, 0, 22, 2]);
    assert_eq!(
        status(&app, &travelling, &victim, PASSWORD, Some(&device)).await,
        200,
        "from another address too: the device is what is trusted"
    );
}

#[tokio::test]
async fn a_device_cookie_of_one_account_does_not_help_another() {
    let app = spawn_app().await;
    let office = client_from([127, 0, 24, 1]);
    let (alice, bob) = (unique_name("alice"), unique_name("bob"));
    let (_, alice_device) = register_from(&app, &office, &alice).await;
    register_from(&app, &client_from([127, 0, 24, 100]), &bob).await;
    fail(&app, &office, &unique_name("nobody"), 20).await;

    assert_eq!(
        status(&app, &office, &bob, PASSWORD, Some(&alice_device)).await,
        429
    );
    assert_eq!(
        status(&app, &office, &alice, PASSWORD, Some(&alice_device)).await,
        200
    );
}

/// One browser may be trusted by several accounts (a shared computer): the
/// cookie keeps each account's token.
#[tokio::test]
async fn a_shared_browser_stays_trusted_by_each_account_that_signed_in() {
    let app = spawn_app().await;
    let office = client_from([127, 0, 25, 1]);
    let (alice, bob) = (unique_name("alice"), unique_name("bob"));
    let (_, alice_device) = register_from(&app, &client_from([127, 0, 25, 100]), &alice).await;
    register_from(&app, &client_from([127, 0, 25, 101]), &bob).await;
    let response = login_as(&app, &office, &bob, PASSWORD, Some(&alice_device)).await;
    assert_eq!(response.status(), 200);
    let both = set_cookie(&response, "chatroom_device").unwrap();
    assert!(both.ends_with(&format!(".{}", &alice_device["chatroom_device=".len()..])));

    fail(&app, &office, &unique_name("nobody"), 20).await;
    assert_eq!(
        status(&app, &office, &alice, PASSWORD, Some(&both)).await,
        200
    );
    assert_eq!(
        status(&app, &office, &bob, PASSWORD, Some(&both)).await,
        200
    );
}

/// A trusted browser's own failures are counted per device: they do not
/// use up its address's allowance, and past its own limit the device is
/// judged like any other browser.
#[tokio::test]
async fn a_trusted_browser_has_its_own_limit_then_is_judged_like_any_other() {
    let app = spawn_app().await;
    let office = client_from([127, 0, 26, 1]);
    let (bob, carol) = (unique_name("bob"), unique_name("carol"));
    let (_, bob_device) = register_from(&app, &office, &bob).await;
    register_from(&app, &client_from([127, 0, 26, 100]), &carol).await;
    for _ in 0..20 {
        assert_eq!(
            status(&app, &office, &bob, WRONG, Some(&bob_device)).await,
            401
        );
    }
    assert_eq!(
        status(&app, &office, &carol, PASSWORD, None).await,
        200,
        "Bob's typos did not count against the office address"
    );
    // Bob's device used its allowance: judged by the address and account
    // limits now, which Carol's success left untouched.
    assert_eq!(
        status(&app, &office, &bob, WRONG, Some(&bob_device)).await,
        401
    );
    fail(&app, &office, &bob, 19).await;
    assert_eq!(
        status(&app, &office, &bob, PASSWORD, Some(&bob_device)).await,
        429,
        "an exhausted device is not trusted"
    );
}

/// A password change, a reset and deletion forget every device of the
/// account.
#[tokio::test]
async fn password_changes_resets_and_deletion_revoke_the_devices() {
    let app = spawn_app().await;
    let office = client_from([127, 0, 27, 1]);
    let name = unique_name("changer");
    let (id, device) = register_from(&app, &office, &name).await;
    let response = login_as(&app, &office, &name, PASSWORD, Some(&device)).await;
    let session = set_cookie(&response, "chatroom_session").unwrap();
    assert_eq!(devices_of(&app, id).await, 1, "the device is reused");

    let changed = office
        .put(app.url("/api/v1/me/password"))
        .header("cookie", &session)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    assert_eq!(devices_of(&app, id).await, 0);
    fail(&app, &office, &unique_name("nobody"), 20).await;
    assert_eq!(
        status(&app, &office, &name, NEW_PASSWORD, Some(&device)).await,
        429,
        "the old device cookie no longer counts"
    );

    // A reset link revokes them too.
    let elsewhere = client_from([127, 0, 27, 2]);
    let device = {
        let response = login_as(&app, &elsewhere, &name, NEW_PASSWORD, None).await;
        assert_eq!(response.status(), 200);
        set_cookie(&response, "chatroom_device").unwrap()
    };
    assert_eq!(devices_of(&app, id).await, 1);
    let user = chatroom::db::users::find_by_id(&app.state.db, id)
        .await
        .unwrap()
        .unwrap();
    let link = chatroom::accounts::recovery::issue_reset_link(&app.state, &user)
        .await
        .unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let reset = app
        .post_json(
            &elsewhere,
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(devices_of(&app, id).await, 0);
    fail(&app, &elsewhere, &unique_name("nobody"), 20).await;
    assert_eq!(
        status(&app, &elsewhere, &name, PASSWORD, Some(&device)).await,
        429
    );

    // Deleting the account removes its devices.
    let third = client_from([127, 0, 27, 3]);
    let response = login_as(&app, &third, &name, PASSWORD, None).await;
    let session = set_cookie(&response, "chatroom_session").unwrap();
    assert_eq!(devices_of(&app, id).await, 1);
    let deleted = third
        .delete(app.url("/api/v1/me"))
        .header("cookie", &session)
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(devices_of(&app, id).await, 0);
}

/// Sixty wrong passwords at once with one device cookie: the device's
/// allowance (20) is counted atomically, and the attempts past it are
/// judged by the address and account limits (20 more), never more.
#[tokio::test]
async fn sixty_concurrent_wrong_logins_with_a_device_cookie_pass_each_limit_exactly() {
    let app = spawn_app().await;
    let home = client_from([127, 0, 28, 1]);
    let name = unique_name("racer");
    let (_, device) = register_from(&app, &home, &name).await;
    let statuses =
        join_all((0..60).map(|_| status(&app, &home, &name, WRONG, Some(&device)))).await;
    assert_eq!(count(&statuses, 401), 40, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 20, "{statuses:?}");
    assert_eq!(
        status(&app, &home, &name, PASSWORD, Some(&device)).await,
        429
    );
}

#[tokio::test]
async fn sixty_concurrent_wrong_logins_on_a_locked_account_get_the_devices_twenty() {
    let app = spawn_app().await;
    let home = client_from([127, 0, 29, 1]);
    let name = unique_name("locked");
    let (_, device) = register_from(&app, &home, &name).await;
    for i in 1..=20u8 {
        let attacker = client_from([127, 0, 30, i]);
        assert_eq!(status(&app, &attacker, &name, WRONG, None).await, 401);
    }
    let statuses =
        join_all((0..60).map(|_| status(&app, &home, &name, WRONG, Some(&device)))).await;
    assert_eq!(count(&statuses, 401), 20, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 40, "{statuses:?}");
}

/// Someone failing logins against an account on purpose cannot block its
/// signed-in owner from changing the password (or email, or deleting the
/// account): current-password checks are limited per session.
#[tokio::test]
async fn failing_on_purpose_does_not_block_the_owners_password_change() {
    let app = spawn_app().await;
    let owner = unique_name("owner");
    let home = client_from([127, 0, 26, 1]);
    let response = app
        .post_json(
            &home,
            "/api/v1/auth/register",
            json!({"username": owner, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let session = set_cookie(&response, "chatroom_session").expect("signed in");

    for i in 1..=20u8 {
        let attacker = client_from([127, 0, 27, i]);
        assert_eq!(status(&app, &attacker, &owner, WRONG, None).await, 401);
    }
    let attacker = client_from([127, 0, 27, 200]);
    assert_eq!(
        status(&app, &attacker, &owner, PASSWORD, None).await,
        429,
        "untrusted logins to the account are limited"
    );

    let change = |current: &'static str| {
        home.put(app.url("/api/v1/me/password"))
            .header("cookie", &session)
            .json(&json!({"current_password": current, "new_password": "seven lanterns over quiet water"}))
            .send()
    };
    assert_eq!(
        change(WRONG).await.unwrap().status(),
        422,
        "the owner's own check is not refused for the attacker's failures"
    );
    assert_eq!(change(PASSWORD).await.unwrap().status(), 204);
}
