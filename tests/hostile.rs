//! Attacks and faults: cross-site writes on every route, timing, slow
//! clients and a locked database.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app, unique_name, PASSWORD};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn every_state_changing_route_refuses_a_foreign_origin() {
    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("victim")).await;
    let doc: Value = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "get" {
                let concrete = path
                    .replace("{id}", "1")
                    .replace("{room}", "global")
                    .replace("{username}", "nobody_x")
                    .replace("{emoji}", "%F0%9F%91%8D");
                routes.push((method.clone(), concrete));
            }
        }
    }
    for page in [
        "/login",
        "/register",
        "/logout",
        "/forgot-password",
        "/reset-password",
        "/profile/password",
        "/profile/email",
        "/profile/delete",
        "/profile/avatar",
        "/profile/avatar/remove",
        "/profile/sessions/1/end",
    ] {
        routes.push(("post".into(), page.into()));
    }
    assert!(routes.len() > 20);
    for (method, path) in routes {
        let request = match method.as_str() {
            "post" => client.post(app.url(&path)),
            "put" => client.put(app.url(&path)),
            "delete" => client.delete(app.url(&path)),
            "patch" => client.patch(app.url(&path)),
            other => panic!("{other}"),
        };
        let response = request
            .header("origin", "https://evil.example")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "csrf_rejected", "{method} {path}");
    }
    // And the victim's session is untouched.
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn login_takes_as_long_for_unknown_users_as_for_wrong_passwords() {
    let app = spawn_app().await;
    let name = unique_name("timed");
    app.register(&name).await;
    let client = app.client();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..8 {
        for (user, samples) in [
            (name.clone(), &mut known),
            (format!("ghost{i}x"), &mut unknown),
        ] {
            let started = Instant::now();
            let r = app
                .post_json(
                    &client,
                    "/api/v1/auth/login",
                    json!({"username": user, "password": "not the password"}),
                )
                .await;
            assert_eq!(r.status(), 401);
            samples.push(started.elapsed());
        }
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[4].as_secs_f64(), unknown[4].as_secs_f64());
    let ratio = k / u;
    assert!(
        (0.5..2.0).contains(&ratio),
        "median known {k:.4}s vs unknown {u:.4}s"
    );
}

#[tokio::test]
async fn slow_clients_are_cut_off_without_blocking_others() {
    let app = spawn_app().await;
    let addr = app.addr;
    let trickle_headers = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if stream.write_all(b"X-Slow: a\r\n").await.is_err() {
                break;
            }
            let mut buf = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(10), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                _ => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "a trickling header was never cut off"
            );
        }
        started.elapsed()
    });
    let trickle_body = tokio::spawn(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            .await
            .unwrap();
        let started = Instant::now();
        let mut reply = Vec::new();
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = stream.write_all(b" ").await;
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(10), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => {
                    reply.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "a trickling body was never cut off"
            );
        }
        (
            started.elapsed(),
            String::from_utf8_lossy(&reply).into_owned(),
        )
    });
    // Meanwhile everyone else is served promptly.
    for _ in 0..5 {
        let started = Instant::now();
        let r = app.client().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let header_time = trickle_headers.await.unwrap();
    assert!(header_time <= Duration::from_secs(40), "{header_time:?}");
    let (body_time, reply) = trickle_body.await.unwrap();
    assert!(body_time <= Duration::from_secs(40), "{body_time:?}");
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
        "{reply}"
    );
}

#[tokio::test]
async fn a_locked_database_gives_503_then_recovers() {
    if common::on_postgres() {
        return; // SQLite locking; PostgreSQL waits for row locks instead.
    }
    let app = spawn_app().await;
    let name = unique_name("locked");
    app.register(&name).await;
    let url = format!("sqlite://{}", app.db_path().display());
    let mut blocker = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": unique_name("blocked"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);
    let response = app
        .post_json(
            &app.client(),
            "/api/v1/auth/register",
            json!({"username": unique_name("freed"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 201);
}

/// A tmpfs of a few MiB, unmounted (lazily) when dropped.
struct TinyDisk(tempfile::TempDir);

impl TinyDisk {
    fn mount() -> Option<TinyDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            common::skip_or_fail("mounting a small tmpfs (needs root)");
            return None;
        }
        Some(TinyDisk(dir))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

fn noise_png(side: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbaImage::from_fn(side, side, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        image::Rgba([seed as u8, (seed >> 8) as u8, (seed >> 16) as u8, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_full_disk_gives_a_clear_error_and_the_server_lives_on() {
    if common::on_postgres() {
        return; // The database's disk is SQLite's here.
    }
    let Some(disk) = TinyDisk::mount() else {
        return;
    };
    let db = format!("sqlite://{}/chatroom.db", disk.0.path().display());
    let app = common::spawn_with(|c| c.database_url = db.clone()).await;
    let (client, _) = app.register(&unique_name("full")).await;
    // Fill the disk.
    let filler = disk.0.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        while file.write_all(&chunk).is_ok() {}
    }
    let upload = |bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "photo",
            reqwest::multipart::Part::bytes(bytes).file_name("p.png"),
        );
        client
            .put(app.url("/api/v1/me/avatar"))
            .multipart(form)
            .send()
    };
    let response = upload(noise_png(600)).await.unwrap();
    assert_eq!(response.status(), 507);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_storage");
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "reads still work"
    );
    std::fs::remove_file(&filler).unwrap();
    let response = upload(noise_png(600)).await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "writes work again once space is back"
    );
    drop(app);
}
