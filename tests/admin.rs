//! Operator subcommands: SQLite → PostgreSQL migration and the legacy import.

mod common;

use std::path::Path;
use std::process::Output;

use common::process::{command, start};
use common::{sio, unique_name, PASSWORD};
use serde_json::{json, Value};

fn run(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = command(cwd);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("binary runs")
}

async fn login(base: &str, name: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

/// 600 KiB that are not a picture: three chunks.
fn file_bytes() -> Vec<u8> {
    (0..600 * 1024_u32).map(|i| (i % 253) as u8).collect()
}

#[tokio::test]
async fn sqlite_database_moves_to_postgres_with_ids_kept() {
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        common::skip_or_fail("PostgreSQL for the migration test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/old.db", dir.path().display());
    let name = unique_name("mover");
    let mut ids = Vec::new();
    {
        let server = start(dir.path(), &[("CHATROOM_DATABASE_URL", sqlite.as_str())]);
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/register", server.base))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = common::cookie_from(&response).unwrap();
        let mut socket = sio::connect(&server.base, Some(&cookie), None)
            .await
            .unwrap();
        for i in 0..5 {
            let ack = socket
                .call("message", json!({"text": format!("old {i}")}))
                .await;
            ids.push(
                ack["message"]["id"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{ack}")),
            );
        }
        // A file of three chunks, sent with the last message.
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file_bytes())
                .file_name("moved.bin")
                .mime_str("application/zip")
                .unwrap(),
        );
        let uploaded: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/rooms/global/attachments", server.base))
            .header("cookie", &cookie)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ack = socket
            .call(
                "message",
                json!({"text": "old file", "attachments": [uploaded["attachment"]["id"]]}),
            )
            .await;
        ids.push(
            ack["message"]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{ack}")),
        );
    }
    let (schema, pg) = common::fresh_postgres_schema().await;
    let output = run(
        dir.path(),
        &["migrate-to-postgres", "--from", &sqlite, "--to", &pg],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("messages: 6 rows copied"), "{report}");
    assert!(report.contains("attachments: 1 rows copied"), "{report}");
    assert!(
        report.contains("attachment_chunks: 3 rows copied"),
        "{report}"
    );

    let again = run(
        dir.path(),
        &["migrate-to-postgres", "--from", &sqlite, "--to", &pg],
        &[],
    );
    assert_eq!(again.status.code(), Some(2), "refuses a non-empty target");

    let server = start(dir.path(), &[("CHATROOM_DATABASE_URL", pg.as_str())]);
    let response = login(&server.base, &name, PASSWORD).await;
    assert_eq!(response.status(), 200, "accounts and passwords moved");
    let cookie = common::cookie_from(&response).unwrap();
    let mut socket = sio::connect(&server.base, Some(&cookie), None)
        .await
        .unwrap();
    let history = socket.call("history", json!({})).await;
    let moved: Vec<i64> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(moved, ids);
    let url = history["messages"][5]["attachments"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{history}"))
        .to_owned();
    let moved_file = reqwest::Client::new()
        .get(format!("{}{url}", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        moved_file.as_ref() == file_bytes().as_slice(),
        "the file moved intact"
    );
    let ack = socket.call("message", json!({"text": "new"})).await;
    assert!(
        ack["message"]["id"].as_i64().unwrap() > *ids.last().unwrap(),
        "sequences moved past the old ids"
    );
    drop(server);
    common::drop_schema(schema);
}

#[tokio::test]
async fn legacy_users_are_imported_safely_and_idempotently() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy");
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("import.db");
    let db = format!("sqlite://{}", db_file.display());
    let envs = [("CHATROOM_DATABASE_URL", db.as_str())];
    let fixture_arg = fixture.to_string_lossy().into_owned();

    let first = run(dir.path(), &["import-legacy", &fixture_arg], &envs);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        report.contains("imported 3, already present 0, rejected 3"),
        "{report}"
    );
    for rejected in ["\"x\"", "\"../sneaky\"", "\"eve.hacker\""] {
        assert!(report.contains(rejected), "{rejected} reported: {report}");
    }
    assert!(report.contains("bob: email"), "{report}");
    assert!(report.contains("bob: photo"), "{report}");
    assert!(report.contains("carol_smith: photo"), "{report}");
    let logs = format!("{report}{}", String::from_utf8_lossy(&first.stderr));
    for secret in ["wonderland42", "hunter2", "s3cret-pass"] {
        assert!(!logs.contains(secret), "a password was printed");
    }

    let second = run(dir.path(), &["import-legacy", &fixture_arg], &envs);
    assert!(String::from_utf8_lossy(&second.stdout).contains("imported 0, already present 3"));

    // Plain-text passwords are nowhere in the database files.
    let server = start(dir.path(), &envs);
    for entry in std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
    {
        if entry.file_name().to_string_lossy().starts_with("import.db") {
            let bytes = std::fs::read(entry.path()).unwrap();
            for secret in ["wonderland42", "hunter2", "s3cret-pass"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} stored in clear"
                );
            }
        }
    }
    // Old passwords work; emails are unverified; the photo went through the pipeline.
    let response = login(&server.base, "alice", "wonderland42").await;
    assert_eq!(response.status(), 200);
    let cookie = common::cookie_from(&response).unwrap();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", server.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "alice@example.com");
    assert_eq!(me["user"]["email_verified"], false);
    let avatar = me["user"]["avatar_url"].as_str().unwrap();
    assert!(
        avatar.ends_with(".png") && !avatar.contains("default"),
        "{avatar}"
    );
    let photo = reqwest::get(format!("{}{avatar}", server.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let decoded = image::load_from_memory(&photo).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 256));
    assert_eq!(login(&server.base, "bob", "hunter2").await.status(), 200);
    assert_eq!(
        login(&server.base, "carol_smith", "s3cret-pass")
            .await
            .status(),
        200
    );
    assert_eq!(login(&server.base, "x", "tooShortName").await.status(), 401);
}

/// The files exactly as the old app wrote them: pandas' `to_csv` with its
/// index column, re-written on profile saves (`Unnamed: 0` columns), made
/// by `tests/fixtures/make_legacy_pandas.py` with pandas itself.
#[tokio::test]
async fn legacy_files_written_by_pandas_keep_their_photos_and_emails() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy-pandas");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/pandas.db", dir.path().display());
    let envs = [("CHATROOM_DATABASE_URL", db.as_str())];
    let output = run(
        dir.path(),
        &["import-legacy", &fixture.to_string_lossy()],
        &envs,
    );
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        report.contains("imported 4, already present 0, rejected 0"),
        "{report}"
    );
    // What could not be carried over is named, user by user.
    assert!(report.contains("gus: email"), "{report}");
    assert!(report.contains("gus: photo \"missing.png\""), "{report}");
    for fine in ["dora:", "emil:", "fay:"] {
        assert!(!report.contains(fine), "{fine} has no problem: {report}");
    }

    let server = start(dir.path(), &envs);
    let me = |name: &'static str, password: &'static str| {
        let base = server.base.clone();
        async move {
            let response = login(&base, name, password).await;
            assert_eq!(
                response.status(),
                200,
                "{name} logs in with the CSV password"
            );
            let cookie = common::cookie_from(&response).unwrap();
            let me: Value = reqwest::Client::new()
                .get(format!("{base}/api/v1/me"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            me["user"].clone()
        }
    };
    let dora = me("dora", "explorer-2024").await;
    assert_eq!(dora["email"], "dora@example.com");
    assert!(
        !dora["avatar_url"].as_str().unwrap().contains("default"),
        "{dora}"
    );
    // Saved twice: two `Unnamed` columns before the named ones.
    let emil = me("emil", "kaffee&kuchen").await;
    assert_eq!(emil["email"], "emil@example.net");
    assert!(emil["avatar_url"].as_str().unwrap().contains("default"));
    let fay = me("fay", "sunflower, seeds").await;
    assert!(fay["email"].is_null(), "{fay}");
    assert!(
        !fay["avatar_url"].as_str().unwrap().contains("default"),
        "{fay}"
    );
}

#[tokio::test]
async fn seed_users_creates_accounts_that_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/seed.db", dir.path().display());
    let envs = [("CHATROOM_DATABASE_URL", db.as_str())];
    let out = run(
        dir.path(),
        &[
            "seed-users",
            "--count",
            "5",
            "--prefix",
            "load",
            "--password",
            PASSWORD,
        ],
        &envs,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created 5 of 5"));
    let again = run(
        dir.path(),
        &[
            "seed-users",
            "--count",
            "6",
            "--prefix",
            "load",
            "--password",
            PASSWORD,
        ],
        &envs,
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("created 1 of 6"));
    let weak = run(
        dir.path(),
        &[
            "seed-users",
            "--count",
            "2",
            "--prefix",
            "weak",
            "--password",
            "123",
        ],
        &envs,
    );
    assert_eq!(weak.status.code(), Some(2));
    let cookies = dir.path().join("cookies.tsv");
    let cookies_arg = cookies.to_string_lossy().into_owned();
    let with_sessions = run(
        dir.path(),
        &[
            "seed-users",
            "--count",
            "3",
            "--prefix",
            "load",
            "--password",
            PASSWORD,
            "--sessions-out",
            &cookies_arg,
        ],
        &envs,
    );
    assert!(with_sessions.status.success());
    let server = start(dir.path(), &envs);
    assert_eq!(login(&server.base, "load4", PASSWORD).await.status(), 200);
    let lines = std::fs::read_to_string(&cookies).unwrap();
    assert_eq!(lines.lines().count(), 3);
    for line in lines.lines() {
        let (name, cookie) = line.split_once('\t').unwrap();
        let me: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/me", server.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            me["user"]["username"], name,
            "the seeded session signs {name} in"
        );
    }
    assert_eq!(login(&server.base, "weak0", "123").await.status(), 401);
}
