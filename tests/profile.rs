//! The profile: photo, password, email, sessions and account deletion.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::smtp::{link_in, token_of, SmtpSink};
use common::{sio, spawn_app, spawn_with, unique_name, TestApp, PASSWORD};
use image::{ImageFormat, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "purple elephant dances quietly";

fn encode(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    encode_shade(format, width, height, 0)
}

/// Red middle third, blue sides; `shade` makes otherwise equal images differ.
fn encode_shade(format: ImageFormat, width: u32, height: u32, shade: u8) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 3 || x >= 2 * width / 3 {
            Rgba([0, 0, 255, 255])
        } else {
            Rgba([255, shade, 0, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(img)
            .to_rgb8()
            .write_to(&mut out, format)
            .unwrap(),
        _ => img.write_to(&mut out, format).unwrap(),
    }
    out.into_inner()
}

async fn upload(
    client: &reqwest::Client,
    app: &TestApp,
    bytes: Vec<u8>,
    file_name: &str,
) -> reqwest::Response {
    let form = Form::new().part(
        "photo",
        Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    client
        .put(app.url("/api/v1/me/avatar"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn photo_upload_accepts_each_format_and_serves_a_256px_png() {
    let app = spawn_app().await;
    let (client, user) = app.register(&unique_name("pic")).await;
    let default_url = user["avatar_url"].as_str().unwrap().to_owned();
    let mut previous = default_url.clone();
    for (shade, (format, name)) in [
        (ImageFormat::Png, "a.png"),
        (ImageFormat::Jpeg, "b.jpg"),
        (ImageFormat::Gif, "c.gif"),
        (ImageFormat::WebP, "d.webp"),
    ]
    .into_iter()
    .enumerate()
    {
        // Misleading file names do not matter: the bytes decide.
        let bytes = encode_shade(format, 300, 100, shade as u8 * 60);
        let response = upload(&client, &app, bytes, &format!("{name}.exe")).await;
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = response.json().await.unwrap();
        let url = body["user"]["avatar_url"].as_str().unwrap().to_owned();
        assert_ne!(url, previous, "{name}: a new photo gets a new URL");
        let served = client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(
            served.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let bytes = served.bytes().await.unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap().to_rgba8();
        assert_eq!(decoded.dimensions(), (256, 256), "{name}");
        // Centre-cropped: the red middle fills the square.
        let corner = decoded.get_pixel(5, 5);
        assert!(
            corner[0] > 200 && corner[2] < 60,
            "{name}: corner {corner:?} should be red"
        );
        previous = url;
    }
    // The old URL is stale now.
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["avatar_url"], previous.as_str());
    let removed = client
        .delete(app.url("/api/v1/me/avatar"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let body: Value = removed.json().await.unwrap();
    assert_eq!(body["user"]["avatar_url"], default_url.as_str());
    assert_eq!(
        client
            .get(app.url(&previous))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn exif_metadata_is_stripped() {
    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("exif")).await;
    let jpeg = encode(ImageFormat::Jpeg, 64, 64);
    let payload = b"Exif\0\0GPSSECRET-52.5200N-13.4050E";
    let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with_exif.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(payload);
    with_exif.extend_from_slice(&jpeg[2..]);
    let response = upload(&client, &app, with_exif, "gps.jpg").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let served = client
        .get(app.url(body["user"]["avatar_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let bytes = served.bytes().await.unwrap();
    assert!(
        !bytes.windows(9).any(|w| w == b"GPSSECRET"),
        "metadata survived"
    );
}

#[tokio::test]
async fn hostile_uploads_are_refused_and_the_server_stays_healthy() {
    let app = spawn_app().await;
    let (client, _) = app.register(&unique_name("evil")).await;
    // A PNG declaring 100000×100000 pixels.
    let mut bomb = encode(ImageFormat::Png, 1, 1);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let png = encode(ImageFormat::Png, 200, 200);
    let truncated = png[..png.len() / 2].to_vec();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (bomb, 422),
        (truncated, 422),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
            415,
        ),
        (b"GIF89a".to_vec(), 422),
        (b"just some text".to_vec(), 415),
        (vec![0u8; 6 * 1024 * 1024], 413),
    ];
    for (bytes, status) in cases {
        let head: Vec<u8> = bytes.iter().take(8).copied().collect();
        let response = upload(&client, &app, bytes, "x.png").await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "upload starting {head:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string());
    }
    let no_field = client
        .put(app.url("/api/v1/me/avatar"))
        .multipart(Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_field.status(), 422);
    let not_multipart = client
        .put(app.url("/api/v1/me/avatar"))
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), 415);
    assert_eq!(
        client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let anonymous = upload(&app.client(), &app, encode(ImageFormat::Png, 8, 8), "a.png").await;
    assert_eq!(anonymous.status(), 401);
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn default_avatar_is_generated_and_unknown_urls_are_404() {
    let app = spawn_app().await;
    let (client, user) = app.register(&unique_name("Zed")).await;
    let url = user["avatar_url"].as_str().unwrap();
    let response = client.get(app.url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(!svg.contains("<script"));
    for bad in [
        "/avatars/999/abcdef.png",
        "/avatars/x/y.png",
        "/avatars/1/../../etc.png",
        "/avatars/default/%3Cscript%3E.svg",
        "/avatars/default/ab.svg",
    ] {
        assert_eq!(
            client.get(app.url(bad)).send().await.unwrap().status(),
            404,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn password_change_ends_other_sessions_and_their_sockets() {
    let app = spawn_app().await;
    let name = unique_name("pw");
    let (client, _) = app.register(&name).await;
    let other = app.session_cookie(&name).await;
    let socket = sio::connect(&app.base, Some(&other), None).await.unwrap();

    let wrong = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": "not my password", "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let body: Value = wrong.json().await.unwrap();
    assert!(body["error"]["fields"]["current_password"].is_string());
    let weak = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 422);
    let body: Value = weak.json().await.unwrap();
    assert!(body["error"]["fields"]["new_password"].is_string());

    let ok = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "this session lives on"
    );
    let stale = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401, "the other session ended");
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "its socket was dropped"
    );

    let login = |password: &'static str| {
        let app_url = app.url("/api/v1/auth/login");
        let name = name.clone();
        async move {
            reqwest::Client::new()
                .post(app_url)
                .json(&json!({"username": name, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login(PASSWORD).await, 401);
    assert_eq!(login(NEW_PASSWORD).await, 200);
}

#[tokio::test]
async fn sessions_can_be_listed_and_ended() {
    let app = spawn_app().await;
    let name = unique_name("sess");
    let (client, _) = app.register(&name).await;
    let other = app.session_cookie(&name).await;
    let listed: Value = client
        .get(app.url("/api/v1/me/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for s in sessions {
        assert!(s["id"].is_i64() && s["user_agent"].is_string());
        assert!(s["created_at"].is_string() && s["last_seen_at"].is_string());
    }
    let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_i64()
        .unwrap();

    // Someone else cannot end it.
    let (intruder, _) = app.register(&unique_name("intr")).await;
    let denied = intruder
        .delete(app.url(&format!("/api/v1/me/sessions/{other_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 404);

    let ended = client
        .delete(app.url(&format!("/api/v1/me/sessions/{other_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let stale = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let again = client
        .delete(app.url(&format!("/api/v1/me/sessions/{other_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let garbage = client
        .delete(app.url("/api/v1/me/sessions/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 404);
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_keeps_messages_anonymous() {
    let app = spawn_app().await;
    let name = unique_name("gone");
    let (client, user) = app.register(&name).await;
    let cookie = app.session_cookie(&name).await;
    let mut socket = sio::connect(&app.base, Some(&cookie), None).await.unwrap();
    let ack = socket
        .call("message", json!({"text": "my last words"}))
        .await;
    assert_eq!(ack["ok"], true);
    let upload = upload(&client, &app, encode(ImageFormat::Png, 20, 20), "p.png").await;
    let photo_url = upload.json::<Value>().await.unwrap()["user"]["avatar_url"]
        .as_str()
        .unwrap()
        .to_owned();

    let wrong = client
        .delete(app.url("/api/v1/me"))
        .json(&json!({"current_password": "nope nope nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let deleted = client
        .delete(app.url("/api/v1/me"))
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(
        socket.closed_within(Duration::from_secs(5)).await,
        "live sockets end"
    );
    assert_eq!(
        client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let other = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401, "every session ended");
    assert_eq!(
        app.client()
            .get(app.url(&photo_url))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "photo removed"
    );
    let lookup = app
        .client()
        .get(app.url(&format!("/api/v1/users/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 404);

    let (reader, _) = app.register(&unique_name("reader")).await;
    let history: Value = reader
        .get(app.url("/api/v1/rooms/global/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = &history["messages"][0];
    assert_eq!(message["text"], "my last words");
    assert_eq!(message["author"], Value::Null);
    assert_eq!(message["id"], ack["message"]["id"]);

    // The name is free again, and the new owner is not the old author.
    let (_, reborn) = app.register(&name).await;
    assert_ne!(reborn["id"], user["id"]);
    let history: Value = reader
        .get(app.url("/api/v1/rooms/global/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["messages"][0]["author"], Value::Null);
}

#[tokio::test]
async fn email_change_is_verified_by_a_mailed_link() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let name = unique_name("mail");
    let (client, _) = app.register(&name).await;
    let address = format!("{name}@example.com");

    let wrong = client
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": address, "current_password": "wrong wrong wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let bad = client
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": "nope", "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    let asked = client
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": address, "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["user"]["email_verified"], false,
        "not before the link is opened"
    );

    let mails = smtp.wait_for(&address, 1, Duration::from_secs(10)).await;
    assert!(!mails[0].contains(PASSWORD));
    let link = link_in(&mails[0], &format!("{}/verify-email?token=", app.base))
        .expect("verification link");
    let token = token_of(&link);
    assert_eq!(token.len(), 43);

    let bogus = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({"token": "bogus"}),
        )
        .await;
    assert_eq!(bogus.status(), 422);
    let verified = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(verified.status(), 204);
    let replay = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(replay.status(), 422, "single use");

    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], address.as_str());
    assert_eq!(me["user"]["email_verified"], true);

    // The verified address logs in, and is taken for everyone else.
    let by_email = app
        .post_json(
            &app.client(),
            "/api/v1/auth/login",
            json!({"username": address.to_uppercase(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(by_email.status(), 200);
    let (other, _) = app.register(&unique_name("other")).await;
    let taken = other
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": address, "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
    assert_eq!(
        taken.json::<Value>().await.unwrap()["error"]["code"],
        "email_taken"
    );

    // Changing the password notifies the verified address.
    let changed = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let mails = smtp.wait_for(&address, 2, Duration::from_secs(10)).await;
    assert!(mails[1].contains("password was changed"), "{}", mails[1]);
    assert!(!mails[1].contains(NEW_PASSWORD));

    // A later change of address tells the old one.
    let newer = format!("{name}.new@example.com");
    let asked = client
        .put(app.url("/api/v1/me/email"))
        .json(&json!({"email": newer, "current_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 202);
    let mails = smtp.wait_for(&newer, 1, Duration::from_secs(10)).await;
    let token =
        token_of(&link_in(&mails[0], &format!("{}/verify-email?token=", app.base)).unwrap());
    let page = app
        .client()
        .get(app.url(&format!("/verify-email?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the link in the mail works in a browser"
    );
    assert!(page.text().await.unwrap().contains("confirmed"));
    let old = smtp.wait_for(&address, 3, Duration::from_secs(10)).await;
    assert!(old[2].contains("changed to"), "{}", old[2]);
}

#[tokio::test]
async fn registration_with_email_mails_a_verification_link() {
    let Some(smtp) = SmtpSink::start() else {
        return;
    };
    let app = spawn_with(|c| c.smtp_url = Some(smtp.url().parse().unwrap())).await;
    let name = unique_name("withmail");
    let address = format!("{name}@example.org");
    let client = app.client();
    let response = app
        .post_json(
            &client,
            "/api/v1/auth/register",
            json!({"username": name, "password": PASSWORD, "email": address}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mails = smtp.wait_for(&address, 1, Duration::from_secs(10)).await;
    let token =
        token_of(&link_in(&mails[0], &format!("{}/verify-email?token=", app.base)).unwrap());
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_verified"], false);
    let ok = app
        .post_json(
            &app.client(),
            "/api/v1/auth/verify-email",
            json!({"token": token}),
        )
        .await;
    assert_eq!(ok.status(), 204);
    let me: Value = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["user"]["email"], address.as_str());
}

/// Changing your picture or password from the chat page keeps that page's
/// socket (you stay online), and everyone sees the new picture at once.
#[tokio::test]
async fn profile_changes_keep_your_socket_and_show_the_new_picture_to_everyone() {
    let app = spawn_app().await;
    let (_, me, cookie) = app.user_with_cookie("pic").await;
    let (_, _, watcher_cookie) = app.user_with_cookie("watch").await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let mine = sio::connect(&app.base, Some(&cookie), None).await.unwrap();
    let watcher = sio::connect(&app.base, Some(&watcher_cookie), None)
        .await
        .unwrap();

    let photo = upload(&client, &app, encode(ImageFormat::Png, 300, 200), "me.png").await;
    assert_eq!(photo.status(), 200);
    let url = photo.json::<Value>().await.unwrap()["user"]["avatar_url"].clone();
    let seen = watcher.next("user_updated").await;
    assert_eq!(seen["user"]["id"], me);
    assert_eq!(
        seen["user"]["avatar_url"], url,
        "the new picture, to others"
    );
    assert_eq!(mine.next("user_updated").await["user"]["avatar_url"], url);

    let removed = client
        .delete(app.url("/api/v1/me/avatar"))
        .send()
        .await
        .unwrap();
    let default_url = removed.json::<Value>().await.unwrap()["user"]["avatar_url"].clone();
    assert_ne!(default_url, url);
    assert_eq!(
        watcher.next("user_updated").await["user"]["avatar_url"],
        default_url,
        "back to the generated picture, for others too"
    );

    let changed = client
        .put(app.url("/api/v1/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    assert!(
        !mine.closed_within(Duration::from_secs(2)).await,
        "the socket of the session that changed the password stays"
    );
    assert!(!watcher.closed_within(Duration::from_millis(100)).await);
}
