//! What an operator does from the shell, against the real binary while it
//! serves: the settings file and `check-config`, the `user` commands (on
//! SQLite and PostgreSQL, taking effect on open sockets), and backups.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::process::{command, start, ServerProcess};
use common::{sio, unique_name, PASSWORD};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "seven lanterns over quiet water";

/// Runs `chatroom ARGS` with `stdin` on standard input.
fn run(dir: &Path, envs: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut cmd = command(dir);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().expect("binary runs");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("it ends")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
fn assert_fails(output: &Output, mentions: &str) {
    assert_eq!(output.status.code(), Some(2), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(mentions), "{stderr}");
}

async fn login(base: &str, name: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(base: &str, cookie: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A database for this test: a SQLite file in `dir`, or a fresh
/// PostgreSQL schema when the suite runs on PostgreSQL.
async fn database(dir: &Path) -> (String, Option<String>) {
    if common::on_postgres() {
        let (schema, url) = common::fresh_postgres_schema().await;
        (url, Some(schema))
    } else {
        (format!("sqlite://{}/ops.db", dir.display()), None)
    }
}

#[test]
fn a_settings_file_sits_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("chatroom.toml"),
        "bind = \"127.0.0.1:9901\"\nchat_rate = 5\nlogin_limit = 7\n\
         smtp_url = \"smtp://mailer:hunter22@mail.example:587\"\n\
         database_url = \"postgres://app:s3cr3t@db.example/chat\"\n",
    )
    .unwrap();
    let output = run(
        dir.path(),
        &[
            ("CHATROOM_CONFIG", "chatroom.toml"),
            ("CHATROOM_CHAT_RATE", "9"),
        ],
        &["--login-limit", "11", "check-config"],
        "",
    );
    assert!(output.status.success(), "{}", text(&output));
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    for line in [
        "CHATROOM_BIND=127.0.0.1:9901", // the file beats the default
        "CHATROOM_CHAT_RATE=9",         // the environment beats the file
        "CHATROOM_LOGIN_LIMIT=11",      // a flag beats the file
        "CHATROOM_REGISTER_LIMIT=20",   // the default
        "CHATROOM_SMTP_URL=smtp://mailer:***@mail.example:587",
        "CHATROOM_DATABASE_URL=postgres://app:***@db.example/chat",
    ] {
        assert!(shown.lines().any(|l| l == line), "{line} in:\n{shown}");
    }
    assert!(
        !shown.contains("hunter22") && !shown.contains("s3cr3t"),
        "secrets masked"
    );

    // The same with --config, and every kind of bad setting exits 2 naming it.
    let output = run(
        dir.path(),
        &[],
        &["--config", "chatroom.toml", "check-config"],
        "",
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("CHATROOM_CHAT_RATE=5"));
    std::fs::write(dir.path().join("typo.toml"), "chat_rat = 5\n").unwrap();
    assert_fails(
        &run(
            dir.path(),
            &[],
            &["--config", "typo.toml", "check-config"],
            "",
        ),
        "chat_rat",
    );
    std::fs::write(dir.path().join("bad.toml"), "chat_rate = \"fast\"\n").unwrap();
    let bad_value = run(
        dir.path(),
        &[],
        &["--config", "bad.toml", "check-config"],
        "",
    );
    assert_eq!(bad_value.status.code(), Some(2), "{}", text(&bad_value));
    assert!(
        text(&bad_value).contains("chat-rate"),
        "{}",
        text(&bad_value)
    );
    std::fs::write(dir.path().join("broken.toml"), "bind = \n").unwrap();
    assert_fails(
        &run(
            dir.path(),
            &[],
            &["--config", "broken.toml", "check-config"],
            "",
        ),
        "broken.toml",
    );
    assert_fails(
        &run(
            dir.path(),
            &[],
            &["--config", "missing.toml", "check-config"],
            "",
        ),
        "missing.toml",
    );
    assert_fails(
        &run(
            dir.path(),
            &[("CHATROOM_MAIL_FROM", "not an address <")],
            &["check-config"],
            "",
        ),
        "CHATROOM_MAIL_FROM",
    );
}

#[tokio::test]
async fn user_commands_work_while_the_server_runs_and_reach_open_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, schema) = database(dir.path()).await;
    let envs = [("CHATROOM_DATABASE_URL", db.as_str())];
    let server: ServerProcess = start(dir.path(), &envs);
    let name = unique_name("ops");

    // create: the password comes from standard input.
    let created = run(
        dir.path(),
        &envs,
        &["user", "create", &name],
        &format!("{PASSWORD}\n"),
    );
    assert!(created.status.success(), "{}", text(&created));
    let response = login(&server.base, &name, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = common::cookie_from(&response).unwrap();
    assert_fails(
        &run(
            dir.path(),
            &envs,
            &["user", "create", &name],
            &format!("{PASSWORD}\n"),
        ),
        "taken",
    );
    assert_fails(
        &run(
            dir.path(),
            &envs,
            &["user", "create", &unique_name("weak")],
            "password\n",
        ),
        "password",
    );

    // set-admin, and list.
    let other = unique_name("helper");
    run(
        dir.path(),
        &envs,
        &["user", "create", &other],
        &format!("{PASSWORD}\n"),
    );
    let made = run(
        dir.path(),
        &envs,
        &["user", "set-admin", &other, "true"],
        "",
    );
    assert!(made.status.success(), "{}", text(&made));
    let list = run(dir.path(), &envs, &["user", "list"], "");
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let row = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(other.as_str()))
        .unwrap();
    assert_eq!(row.split('\t').nth(2), Some("true"), "{listed}");
    let row = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(name.as_str()))
        .unwrap();
    assert_eq!(row.split('\t').nth(3), Some("false"), "{listed}");
    assert!(run(
        dir.path(),
        &envs,
        &["user", "set-admin", &other, "false"],
        ""
    )
    .status
    .success());

    // suspend: the open socket is cut, logging in is refused; reinstate.
    let socket = sio::connect(&server.base, Some(&cookie), None)
        .await
        .unwrap();
    let suspended = run(dir.path(), &envs, &["user", "suspend", &name], "");
    assert!(suspended.status.success(), "{}", text(&suspended));
    assert!(
        socket.closed_within(Duration::from_secs(10)).await,
        "the socket was cut"
    );
    assert_eq!(me(&server.base, &cookie).await.0, 401);
    assert_eq!(login(&server.base, &name, PASSWORD).await.status(), 403);
    assert!(run(dir.path(), &envs, &["user", "reinstate", &name], "")
        .status
        .success());
    let response = login(&server.base, &name, PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = common::cookie_from(&response).unwrap();

    // end-sessions.
    let socket = sio::connect(&server.base, Some(&cookie), None)
        .await
        .unwrap();
    let ended = run(dir.path(), &envs, &["user", "end-sessions", &name], "");
    assert!(ended.status.success(), "{}", text(&ended));
    assert!(socket.closed_within(Duration::from_secs(10)).await);
    assert_eq!(me(&server.base, &cookie).await.0, 401);

    // reset-password from standard input…
    let response = login(&server.base, &name, PASSWORD).await;
    let cookie = common::cookie_from(&response).unwrap();
    let reset = run(
        dir.path(),
        &envs,
        &["user", "reset-password", &name],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert!(reset.status.success(), "{}", text(&reset));
    assert_eq!(me(&server.base, &cookie).await.0, 401, "its sessions ended");
    assert_eq!(login(&server.base, &name, PASSWORD).await.status(), 401);
    assert_eq!(login(&server.base, &name, NEW_PASSWORD).await.status(), 200);
    // …or as a one-time link.
    let linked = run(
        dir.path(),
        &envs,
        &["user", "reset-password", &name, "--link"],
        "",
    );
    assert!(linked.status.success(), "{}", text(&linked));
    let printed = String::from_utf8_lossy(&linked.stdout).into_owned();
    let link = printed.lines().next().unwrap();
    let token = link.split("token=").nth(1).expect("a reset link");
    let body = json!({"token": token, "new_password": "eight quiet rivers under stone"});
    let use_link = |body: Value| {
        let base = server.base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/auth/reset-password"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(use_link(body.clone()).await, 204);
    assert_eq!(use_link(body).await, 422, "once only");

    // Unknown accounts: one line, exit 2, for every command.
    for args in [
        vec!["user", "suspend", "nobody_here"],
        vec!["user", "reinstate", "nobody_here"],
        vec!["user", "end-sessions", "nobody_here"],
        vec!["user", "set-admin", "nobody_here", "true"],
        vec!["user", "reset-password", "nobody_here", "--link"],
    ] {
        assert_fails(&run(dir.path(), &envs, &args, ""), "nobody_here");
    }
    drop(server);
    if let Some(schema) = schema {
        common::drop_schema(schema);
    }
}

/// Sends messages from `sockets` sockets as fast as acks come back; returns
/// every acknowledged id, with the time it was acknowledged.
async fn sender(
    base: String,
    cookie: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(i64, std::time::Instant)> {
    let mut socket = sio::connect(&base, Some(&cookie), None).await.unwrap();
    let mut acked = Vec::new();
    let mut n = 0;
    while !*stop.borrow() {
        n += 1;
        match socket
            .try_call("message", json!({ "text": format!("load {n}") }))
            .await
        {
            Some(ack) if ack["ok"] == true => {
                acked.push((
                    ack["message"]["id"].as_i64().unwrap(),
                    std::time::Instant::now(),
                ));
            }
            _ => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    acked
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_every_message_acknowledged_before_it() {
    if common::on_postgres() {
        return; // PostgreSQL: `backup` points to pg_dump (tested below)
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/live.db", dir.path().display());
    let envs = [
        ("CHATROOM_DATABASE_URL", db.as_str()),
        ("CHATROOM_CHAT_RATE", "1000"),
    ];
    let server = start(dir.path(), &envs);
    let name = unique_name("loaded");
    run(
        dir.path(),
        &envs,
        &["user", "create", &name],
        &format!("{PASSWORD}\n"),
    );
    let cookie = common::cookie_from(&login(&server.base, &name, PASSWORD).await).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // About 100 messages a second from one account.
    let load = tokio::spawn(sender(server.base.clone(), cookie.clone(), stopped));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let began = std::time::Instant::now();
    let backup = run(dir.path(), &envs, &["backup", "snapshot.db"], "");
    assert!(backup.status.success(), "{}", text(&backup));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).unwrap();
    let acked = load.await.unwrap();
    let before: Vec<i64> = acked
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        before.len() > 50,
        "the load ran ({} acked before the backup)",
        before.len()
    );
    assert!(acked.len() > before.len(), "and went on during it");
    assert_fails(
        &run(dir.path(), &envs, &["backup", "snapshot.db"], ""),
        "exists",
    );
    assert_fails(
        &run(dir.path(), &envs, &["restore", "snapshot.db"], ""),
        "running",
    );

    drop(server);
    let restored = run(dir.path(), &envs, &["restore", "snapshot.db"], "");
    assert!(restored.status.success(), "{}", text(&restored));
    let server = start(dir.path(), &envs);
    let cookie = common::cookie_from(&login(&server.base, &name, PASSWORD).await).unwrap();
    let mut stored = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let page: Value = reqwest::Client::new()
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
        let Some(last) = messages.last() else { break };
        after = last["id"].as_i64().unwrap();
        stored.extend(messages.iter().map(|m| m["id"].as_i64().unwrap()));
    }
    for id in &before {
        assert!(
            stored.contains(id),
            "message {id}, acknowledged before the backup, is back"
        );
    }

    // A file that is not a chatroom database is refused, and nothing changes.
    drop(server);
    std::fs::write(dir.path().join("junk.db"), b"not a database at all").unwrap();
    assert_fails(
        &run(dir.path(), &envs, &["restore", "junk.db"], ""),
        "junk.db",
    );
    assert_fails(
        &run(dir.path(), &envs, &["restore", "absent.db"], ""),
        "absent.db",
    );
    let server = start(dir.path(), &envs);
    assert_eq!(login(&server.base, &name, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn postgres_is_backed_up_with_pg_dump_and_served_from_the_copy() {
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        common::skip_or_fail("PostgreSQL for the pg_dump test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (schema, db) = common::fresh_postgres_schema().await;
    let envs = [("CHATROOM_DATABASE_URL", db.as_str())];
    // `chatroom backup` says what to use instead.
    assert_fails(&run(dir.path(), &envs, &["backup", "x.db"], ""), "pg_dump");
    let server = start(dir.path(), &envs);
    let name = unique_name("pg");
    run(
        dir.path(),
        &envs,
        &["user", "create", &name],
        &format!("{PASSWORD}\n"),
    );
    let cookie = common::cookie_from(&login(&server.base, &name, PASSWORD).await).unwrap();
    let mut socket = sio::connect(&server.base, Some(&cookie), None)
        .await
        .unwrap();
    let ack = socket
        .call("message", json!({"text": "kept by pg_dump"}))
        .await;
    assert_eq!(ack["ok"], true);

    // The documented procedure (docs/deploy.md): pg_dump -Fc, pg_restore
    // into a fresh database, point chatroom at it.
    let dump = dir.path().join("chatroom.dump");
    let dumped = std::process::Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Fc",
            "-n",
            &schema,
            "-f",
        ])
        .arg(&dump)
        .arg("test")
        .output()
        .expect("pg_dump runs");
    assert!(dumped.status.success(), "{dumped:?}");
    drop(server);
    let fresh = format!("restored_{schema}");
    let psql = |sql: String| {
        std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-qc", &sql, "postgres"])
            .output()
            .expect("psql runs")
    };
    assert!(psql(format!("CREATE DATABASE {fresh}")).status.success());
    let restored = std::process::Command::new("pg_restore")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &fresh])
        .arg(&dump)
        .output()
        .expect("pg_restore runs");
    assert!(restored.status.success(), "{restored:?}");
    let url =
        format!("postgres://postgres@127.0.0.1:5432/{fresh}?options=-c%20search_path%3D{schema}");
    let envs = [("CHATROOM_DATABASE_URL", url.as_str())];
    let server = start(dir.path(), &envs);
    let cookie = common::cookie_from(&login(&server.base, &name, PASSWORD).await).unwrap();
    let page: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/rooms/global/messages", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["messages"][0]["text"], "kept by pg_dump");
    drop(server);
    let _ = psql(format!("DROP DATABASE IF EXISTS {fresh}"));
    common::drop_schema(schema);
}
