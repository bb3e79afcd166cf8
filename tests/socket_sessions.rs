//! A socket lives no longer than its session: cut at once when the session
//! ends, and — should that cut be missed (Redis away, a session that
//! expired, a logout racing the handshake) — by the session sweep within a
//! few seconds.

mod common;

use std::time::Duration;

use common::sio::{self, ConnectError};
use common::{spawn_app, unique_name};
use serde_json::json;

#[tokio::test]
async fn a_socket_whose_session_vanished_without_a_broadcast_is_cut_by_the_sweep() {
    let app = spawn_app().await;
    let (_, _, cookie) = app.user_with_cookie("swept").await;
    let (_, _, other_cookie) = app.user_with_cookie("stays").await;
    let mut socket = sio::connect(&app.base, Some(&cookie), None).await.unwrap();
    let mut other = sio::connect(&app.base, Some(&other_cookie), None)
        .await
        .unwrap();
    assert_eq!(
        socket.call("message", json!({"text": "hi"})).await["ok"],
        true
    );
    // The session ends behind the server's back: no disconnect is sent.
    let token = cookie.trim_start_matches("chatroom_session=");
    let hash = chatroom::auth::secret::hash_token(token);
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert!(
        socket.closed_within(Duration::from_secs(12)).await,
        "the sweep cut the socket"
    );
    assert!(!other.closed_within(Duration::from_millis(100)).await);
    assert_eq!(
        other.call("message", json!({"text": "still here"})).await["ok"],
        true
    );
    assert!(matches!(
        sio::connect(&app.base, Some(&cookie), None).await,
        Err(ConnectError::Refused(_))
    ));
}

#[tokio::test]
async fn a_socket_of_an_expired_session_is_cut_and_an_open_socket_keeps_its_session_fresh() {
    let app = spawn_app().await;
    let (_, _, expiring) = app.user_with_cookie("expiring").await;
    let (_, _, fresh) = app.user_with_cookie("fresh").await;
    let expiring_socket = sio::connect(&app.base, Some(&expiring), None)
        .await
        .unwrap();
    let fresh_socket = sio::connect(&app.base, Some(&fresh), None).await.unwrap();
    let day = 24 * 3600 * 1000_i64;
    let set_seen = |cookie: &str, ago: i64| {
        let hash =
            chatroom::auth::secret::hash_token(cookie.trim_start_matches("chatroom_session="));
        let pool = app.state.db.pool.clone();
        async move {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(chatroom::db::now_ms() - ago)
                .bind(hash)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    // One has been idle past 30 days; the other 29 days, but its socket is open.
    set_seen(&expiring, 31 * day).await;
    set_seen(&fresh, 29 * day).await;
    assert!(expiring_socket.closed_within(Duration::from_secs(12)).await);
    assert!(!fresh_socket.closed_within(Duration::from_millis(100)).await);
    let me = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        200,
        "an open socket is use: the session was refreshed"
    );
}

#[tokio::test]
async fn logging_out_while_sockets_connect_leaves_none_connected() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let name = unique_name("racer");
        app.register(&name).await;
        let cookie = app.session_cookie(&name).await;
        let connecting = (0..4).map(|_| sio::connect(&app.base, Some(&cookie), None));
        let logout = async {
            reqwest::Client::new()
                .post(app.url("/api/v1/auth/logout"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .status()
        };
        let (sockets, status) = tokio::join!(futures_util::future::join_all(connecting), logout);
        assert_eq!(status, 204);
        for socket in sockets.into_iter().flatten() {
            assert!(
                socket.closed_within(Duration::from_secs(12)).await,
                "a socket that raced the logout was cut"
            );
        }
    }
}
