//! The binary itself: durability across SIGKILL, graceful shutdown, start-up
//! errors and running from any directory.

mod common;

use std::time::Duration;

use common::process::{command, start};
use common::{sio, unique_name, PASSWORD};
use serde_json::{json, Value};

async fn register(base: &str, name: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    common::cookie_from(&response).unwrap()
}

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (schema, db) = if common::on_postgres() {
        let (schema, url) = common::fresh_postgres_schema().await;
        (Some(schema), url)
    } else {
        (None, format!("sqlite://{}/chat.db", dir.path().display()))
    };
    let envs = [
        ("CHATROOM_DATABASE_URL", db.as_str()),
        ("CHATROOM_CHAT_RATE", "100000"),
    ];
    let mut server = start(dir.path(), &envs);
    let cookie = register(&server.base, &unique_name("durable")).await;
    let client = sio::connect(&server.base, Some(&cookie), None)
        .await
        .unwrap();

    // Fire messages concurrently from several sockets; kill the server while
    // many are still in flight.
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, String)>();
    let mut tasks = Vec::new();
    for s in 0..4 {
        let mut socket = sio::connect(&server.base, Some(&cookie), None)
            .await
            .unwrap();
        let tx = ack_tx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..400 {
                let text = format!("s{s}-{i}");
                match socket.try_call("message", json!({ "text": text })).await {
                    Some(ack) if ack["ok"] == true => {
                        let _ = tx.send((ack["message"]["id"].as_i64().unwrap(), text));
                    }
                    _ => break,
                }
            }
        }));
    }
    drop(ack_tx);
    let mut acked = Vec::new();
    while let Some(pair) = ack_rx.recv().await {
        acked.push(pair);
        if acked.len() == 300 {
            server.child.kill().unwrap();
            let _ = server.child.wait();
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    assert!(
        acked.len() >= 300,
        "the burst was under way ({})",
        acked.len()
    );
    client.close();

    let server = start(dir.path(), &envs);
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": acked_user(&server.base, &cookie).await, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = common::cookie_from(&login).unwrap();
    let mut stored = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!(
                "{}/api/v1/rooms/global/messages?after={after}&limit=100",
                server.base
            ))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let messages = page["messages"].as_array().unwrap().clone();
        if messages.is_empty() {
            break;
        }
        after = messages.last().unwrap()["id"].as_i64().unwrap();
        stored.extend(messages.into_iter().map(|m| {
            (
                m["id"].as_i64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        }));
    }
    let mut texts: Vec<&String> = stored.iter().map(|(_, t)| t).collect();
    texts.sort();
    let before = texts.len();
    texts.dedup();
    assert_eq!(before, texts.len(), "no message stored twice");
    for pair in &acked {
        assert!(
            stored.contains(pair),
            "acknowledged {pair:?} is in the history"
        );
    }
    drop(server);
    if let Some(schema) = schema {
        common::drop_schema(schema);
    }
}

/// The username behind a cookie (sessions survive restarts).
async fn acked_user(base: &str, cookie: &str) -> String {
    let me: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["user"]["username"]
        .as_str()
        .expect("session survived the restart")
        .to_owned()
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "exit status {exit:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn runs_from_any_directory_and_creates_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for path in ["/healthz", "/login", "/static/css/app.css"] {
            let response = reqwest::get(format!("{}{path}", server.base))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
    });
    assert!(
        dir.path().join("data/chatroom.db").exists(),
        "default sqlite://data/chatroom.db"
    );
    assert!(dir.path().join("data/outbox").is_dir());
}

#[test]
fn bad_settings_exit_2_with_a_one_line_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("CHATROOM_DATABASE_URL", "mysql://nope", "database"),
        (
            "CHATROOM_DATABASE_URL",
            "postgres://127.0.0.1:1/none?connect_timeout=2",
            "CHATROOM_DATABASE_URL",
        ),
        ("CHATROOM_PUBLIC_URL", "not a url", "public"),
        ("CHATROOM_BIND", "nowhere", "bind"),
        ("CHATROOM_SMTP_URL", "ftp://x", "smtp"),
        ("CHATROOM_CHAT_RATE", "-3", "rate"),
        ("CHATROOM_SOCKET_BUFFER", "4", "socket-buffer"),
        ("CHATROOM_SOCKET_BUFFER", "lots", "socket-buffer"),
    ];
    for (key, value, mention) in cases {
        let output = command(dir.path()).env(key, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.to_lowercase().contains(&mention.to_lowercase()),
            "{key}={value}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
    }
}

/// The peak resident memory of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Forty people upload a 5 MiB photo at once: the bodies are read a few at
/// a time, so memory stays bounded (it would grow by ~400 MiB otherwise).
#[tokio::test]
async fn many_simultaneous_photo_uploads_do_not_exhaust_memory() {
    if common::on_postgres() {
        return; // memory is the server's, whatever the database
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/photos.db", dir.path().display());
    let server = start(dir.path(), &[("CHATROOM_DATABASE_URL", db.as_str())]);
    let cookie = register(&server.base, &unique_name("uploader")).await;
    let before = peak_rss_kib(server.child.id());
    assert!(before > 0, "/proc is readable");
    // Not an image: refused after the whole body was read.
    let junk = vec![0x5a_u8; 5 * 1024 * 1024 - 4096];
    let uploads = (0..40).map(|_| {
        let form = reqwest::multipart::Form::new().part(
            "photo",
            reqwest::multipart::Part::bytes(junk.clone()).file_name("big.png"),
        );
        reqwest::Client::new()
            .put(format!("{}/api/v1/me/avatar", server.base))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
    });
    let answers = futures_util::future::join_all(uploads).await;
    for answer in answers {
        let status = answer.unwrap().status().as_u16();
        assert!(status == 415 || status == 503, "{status}");
    }
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    assert!(grown_mib < 100, "peak memory grew by {grown_mib} MiB");
}
