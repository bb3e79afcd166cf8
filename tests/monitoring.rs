//! Metrics and readiness, against the real binary: `/metrics` on its own
//! listener passes `promtool check metrics` and its counters move with the
//! traffic; `/readyz` turns 503 while the server drains after SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{sio, unique_name, PASSWORD};
use serde_json::json;

/// The binary, started with `envs`; returns it with its base URL and the
/// metrics URL it logged.
fn start(
    dir: &std::path::Path,
    envs: &[(&str, &str)],
) -> (std::process::Child, String, Option<String>) {
    let mut command = common::process::command(dir);
    command.env("CHATROOM_BIND", "127.0.0.1:0");
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut metrics = None;
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(pos) = line.find("metrics on http://") {
                metrics = line[pos + "metrics on ".len()..]
                    .split_whitespace()
                    .next()
                    .map(str::to_owned);
            }
            if !sent {
                if let Some(pos) = line.find("listening on http://") {
                    let base = line[pos + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send((base, metrics.clone()));
                    sent = true;
                }
            }
        }
    });
    let (base, metrics) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("it listens");
    (child, base, metrics)
}

/// The value of one sample (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_what_happens() {
    let dir = tempfile::tempdir().unwrap();
    let db = if common::on_postgres() {
        common::fresh_postgres_schema().await.1
    } else {
        format!("sqlite://{}/m.db", dir.path().display())
    };
    let (mut child, base, metrics) = start(
        dir.path(),
        &[
            ("CHATROOM_DATABASE_URL", db.as_str()),
            ("CHATROOM_METRICS_BIND", "127.0.0.1:0"),
            ("CHATROOM_CHAT_RATE", "1"),
        ],
    );
    let metrics = metrics.expect("the metrics address is logged");
    assert_ne!(metrics, format!("{base}/metrics"), "a listener of its own");
    let main_port = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(main_port.status(), 404, "not on the public listener");

    let http = reqwest::Client::new();
    let name = unique_name("metered");
    let response = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = common::cookie_from(&response).unwrap();
    for password in [PASSWORD, "wrong wrong wrong"] {
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
    }
    let mut socket = sio::connect(&base, Some(&cookie), None).await.unwrap();
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..14 {
        let ack = socket
            .call("message", json!({ "text": format!("m{i}") }))
            .await;
        if ack["ok"] == true {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    let invalid = socket.call("message", json!({ "text": "   " })).await;
    assert_eq!(invalid["ok"], false);
    assert!(accepted >= 10 && refused >= 2, "{accepted} / {refused}");

    let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    assert_eq!(
        sample(&text, "chatroom_messages_accepted_total") as i64,
        accepted,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "chatroom_messages_refused_total{reason=\"rate_limited\"}"
        ) >= refused as f64 - 1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "chatroom_messages_refused_total{reason=\"validation_failed\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "chatroom_messages_delivered_total") as i64,
        accepted
    );
    assert_eq!(sample(&text, "chatroom_sockets_open"), 1.0);
    assert_eq!(
        sample(&text, "chatroom_logins_total{outcome=\"succeeded\"}"),
        1.0
    );
    assert_eq!(
        sample(&text, "chatroom_logins_total{outcome=\"failed\"}"),
        1.0
    );
    assert!(text.contains("chatroom_http_requests_total{method=\"POST\",route=\"/api/v1/auth/login\",status=\"401\"} 1"), "{text}");
    assert!(
        text.contains("chatroom_writer_commit_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("chatroom_delivery_lag_seconds_bucket"),
        "{text}"
    );

    // Prometheus' own checker accepts the output.
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            use std::io::Write;
            promtool
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = promtool.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(_) => common::skip_or_fail("promtool (Debian package prometheus)"),
    }
    socket.close();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    assert_eq!(sample(&text, "chatroom_sockets_open"), 0.0);
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn readyz_says_draining_while_the_server_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/r.db", dir.path().display());
    let (mut child, base, _) = start(
        dir.path(),
        &[
            ("CHATROOM_DATABASE_URL", db.as_str()),
            ("CHATROOM_DRAIN_SECONDS", "2"),
        ],
    );
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let draining = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(draining.status(), 503, "not ready while draining");
    let body: serde_json::Value = draining.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    let alive = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(alive.status(), 200, "still alive, still serving");
    // Then it stops, cleanly.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "it stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
