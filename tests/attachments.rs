//! Pictures and files in messages (docs/attachments.md): uploading,
//! sending by id, who may download, how hostile files are served, limits,
//! quota, memory and the sweep of uploads never sent.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::rooms::{
    assert_ack_error, assert_error, connect, create_room, delete, get, join, leave, open_dm, post,
    user, User,
};
use common::{spawn_with, unique_name, TestApp};
use futures_util::future::join_all;
use image::{ImageFormat, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// Uploads `bytes` as the `file` field; the name is sent as is.
async fn upload_as(
    app: &TestApp,
    http: &reqwest::Client,
    room: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .expect("mime");
    let form = Form::new().percent_encode_noop().part("file", part);
    let response = http
        .post(app.url(&format!("/api/v1/rooms/{room}/attachments")))
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn upload(
    app: &TestApp,
    who: &User,
    room: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let (status, body, _) = upload_as(app, &who.http, room, name, content_type, bytes).await;
    (status, body)
}

/// Uploads and expects 201; returns the attachment.
async fn uploaded(
    app: &TestApp,
    who: &User,
    room: &str,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Value {
    let answer = upload(app, who, room, name, content_type, bytes).await;
    assert_eq!(answer.0, 201, "upload {name}: {}", answer.1);
    answer.1["attachment"].clone()
}

/// A GET of an attachment URL as `http`: status, headers, bytes.
async fn fetch(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let response = http.get(app.url(path)).send().await.expect("get");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("bytes").to_vec();
    (status, headers, bytes)
}

#[track_caller]
fn assert_not_found(answer: &(u16, reqwest::header::HeaderMap, Vec<u8>), what: &str) {
    assert_eq!(answer.0, 404, "{what}");
    let body: Value = serde_json::from_slice(&answer.2).unwrap_or(Value::Null);
    assert_eq!(body["error"]["code"], "not_found", "{what}: {body}");
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn id_of(attachment: &Value) -> i64 {
    attachment["id"].as_i64().expect("attachment id")
}

fn picture(width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x * 7) as u8, (y * 5) as u8, 90, 255])
    })
}

fn encode(image: &RgbaImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(image.clone())
            .into_rgb8()
            .write_to(&mut out, format),
        _ => image.write_to(&mut out, format),
    }
    .expect("encode");
    out.into_inner()
}

/// A JPEG carrying an EXIF block with a recognisable marker.
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let jpeg = encode(&picture(width, height), ImageFormat::Jpeg);
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0SECRET-GPS-49.1N".to_vec();
    exif.extend_from_slice(&[0; 8]);
    let length = (exif.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for byte in data {
        crc ^= u32::from(*byte);
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

/// A small PNG whose header claims `width`×`height` pixels.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = encode(&picture(4, 4), ImageFormat::Png);
    // Signature (8), length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A public room `alice` created and `bob` joined; `carol` is outside.
struct Setting {
    app: TestApp,
    alice: User,
    bob: User,
    carol: User,
    room: String,
}

async fn setting_with(adjust: impl FnOnce(&mut chatroom::config::Config)) -> Setting {
    let app = spawn_with(adjust).await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user(&app, "carol").await;
    let room = unique_name("files");
    let room = create_room(&app, &alice, &room).await["id"]
        .as_str()
        .expect("room id")
        .to_owned();
    join(&app, &bob, &room).await;
    Setting {
        app,
        alice,
        bob,
        carol,
        room,
    }
}

async fn setting() -> Setting {
    setting_with(|_| {}).await
}

/// Sends a message over REST; returns the answer.
async fn send_rest(app: &TestApp, who: &User, room: &str, body: Value) -> (u16, Value) {
    post(app, who, &format!("/api/v1/rooms/{room}/messages"), body).await
}

#[tokio::test]
async fn a_file_uploaded_and_sent_reaches_members_byte_for_byte() {
    let s = setting().await;
    let bytes: Vec<u8> = (0..700_000_u32).map(|i| (i * 31 % 251) as u8).collect();
    let attachment = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        "report.pdf",
        "application/pdf",
        bytes.clone(),
    )
    .await;
    assert_eq!(attachment["name"], "report.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["size"], bytes.len());
    assert!(attachment.get("width").is_none() && attachment.get("thumbnail_url").is_none());
    let url = attachment["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/attachments/") && url.len() == "/attachments/".len() + 32);

    // Not sent yet: its uploader only.
    assert_not_found(
        &fetch(&s.app, &s.bob.http, &url).await,
        "unsent, as a member",
    );
    let own = fetch(&s.app, &s.alice.http, &url).await;
    assert_eq!(own.0, 200);
    assert_eq!(own.2, bytes);

    let mut bob_socket = connect(&s.app, &s.bob).await;
    let _ = bob_socket.call("history", json!({ "room": s.room })).await;
    let mut alice_socket = connect(&s.app, &s.alice).await;
    let ack = alice_socket
        .call(
            "message",
            json!({ "room": s.room, "text": "", "attachments": [id_of(&attachment)] }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["text"], "");
    assert_eq!(ack["message"]["attachments"], json!([attachment.clone()]));
    let broadcast = bob_socket.next("message").await;
    assert_eq!(broadcast["attachments"], json!([attachment.clone()]));

    let (status, headers, body) = fetch(&s.app, &s.bob.http, &url).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes, "bytes identical");
    assert_eq!(header(&headers, "content-type"), "application/pdf");
    assert!(header(&headers, "content-disposition")
        .starts_with("attachment; filename*=UTF-8''report.pdf"));
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-security-policy").contains("sandbox"));
    assert!(header(&headers, "cache-control").contains("private"));

    // History carries it; messages without files carry [].
    let (_, plain) = send_rest(&s.app, &s.bob, &s.room, json!({ "text": "nice" })).await;
    assert_eq!(plain["message"]["attachments"], json!([]));
    let history = get(
        &s.app,
        &s.bob,
        &format!("/api/v1/rooms/{}/messages", s.room),
    )
    .await;
    let messages = history.1["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["attachments"], json!([attachment]));
    assert_eq!(messages[1]["attachments"], json!([]));

    // Outsiders and strangers learn nothing.
    assert_not_found(&fetch(&s.app, &s.carol.http, &url).await, "outsider");
    assert_not_found(
        &fetch(&s.app, &reqwest::Client::new(), &url).await,
        "signed out",
    );
    // After leaving the room: gone for them.
    leave(&s.app, &s.bob, &s.room).await;
    assert_not_found(&fetch(&s.app, &s.bob.http, &url).await, "after leaving");
    assert_eq!(fetch(&s.app, &s.alice.http, &url).await.0, 200);
}

/// Browsers ask for gzip: a stored file still comes as stored, whole, with
/// its length (it once came gzipped, and the connection was reset at its
/// end by a panic in the body stream).
#[tokio::test]
async fn files_come_as_stored_to_a_client_that_accepts_gzip() {
    let s = setting().await;
    let text = "a line of plain text that gzip would love to shrink\n".repeat(20_000);
    let attachment = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        "notes.txt",
        "text/plain",
        text.clone().into_bytes(),
    )
    .await;
    let url = attachment["url"].as_str().expect("url");
    let response = s
        .alice
        .http
        .get(s.app.url(url))
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(
        header(response.headers(), "content-length"),
        text.len().to_string()
    );
    let body = response.bytes().await.expect("the whole body");
    assert_eq!(body.as_ref(), text.as_bytes());
}

#[tokio::test]
async fn pictures_are_re_encoded_without_exif_and_have_a_thumbnail() {
    let s = setting().await;
    let jpeg = jpeg_with_exif(1000, 600);
    assert!(contains(&jpeg, b"SECRET-GPS"));
    let attachment = uploaded(&s.app, &s.alice, &s.room, "photo.jpg", "image/jpeg", jpeg).await;
    assert_eq!(attachment["content_type"], "image/jpeg");
    assert_eq!(attachment["width"], 1000);
    assert_eq!(attachment["height"], 600);
    let url = attachment["url"].as_str().expect("url").to_owned();
    assert_eq!(attachment["thumbnail_url"], format!("{url}/thumbnail"));
    let (_, sent) = send_rest(
        &s.app,
        &s.alice,
        &s.room,
        json!({ "attachments": [id_of(&attachment)] }),
    )
    .await;
    assert_eq!(sent["message"]["attachments"][0]["id"], attachment["id"]);

    let (status, headers, body) = fetch(&s.app, &s.bob.http, &url).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    assert!(header(&headers, "content-disposition").is_empty(), "inline");
    assert!(!contains(&body, b"SECRET-GPS"), "EXIF is gone");
    assert!(!contains(&body, b"Exif"), "EXIF is gone");
    assert_eq!(body.len() as i64, attachment["size"].as_i64().unwrap());
    let decoded = image::load_from_memory(&body).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (1000, 600));

    let (status, headers, thumb) = fetch(&s.app, &s.bob.http, &format!("{url}/thumbnail")).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    let thumb = image::load_from_memory(&thumb).expect("a thumbnail");
    assert_eq!((thumb.width(), thumb.height()), (480, 288));
    assert_not_found(
        &fetch(&s.app, &s.carol.http, &format!("{url}/thumbnail")).await,
        "outsider's thumbnail",
    );

    // PNG, GIF and WebP become PNG; a small one is its own thumbnail size.
    for format in [ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
        let bytes = encode(&picture(40, 30), format);
        let a = uploaded(&s.app, &s.alice, &s.room, "p", "application/pdf", bytes).await;
        assert_eq!(a["content_type"], "image/png", "{format:?}");
        assert_eq!(
            (a["width"].clone(), a["height"].clone()),
            (json!(40), json!(30))
        );
    }
}

#[tokio::test]
async fn hostile_files_are_served_as_inert_downloads() {
    let s = setting().await;
    let html = b"<html><body><script>alert(document.cookie)</script></body></html>".to_vec();
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    let cases = [
        ("page.html", "text/html", html.clone(), "text/html"),
        (
            "x.xhtml",
            "application/xhtml+xml",
            html.clone(),
            "application/xhtml+xml",
        ),
        (
            "logo.svg",
            "image/svg+xml",
            svg.clone(),
            "application/octet-stream",
        ),
        (
            "app.js",
            "text/javascript",
            b"alert(1)".to_vec(),
            "text/javascript",
        ),
        (
            "fake.png",
            "image/png",
            html.clone(),
            "application/octet-stream",
        ),
    ];
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    for (name, declared, bytes, stored_type) in cases {
        let a = uploaded(&s.app, &s.alice, &s.room, name, declared, bytes.clone()).await;
        assert_eq!(a["content_type"], stored_type, "{name}");
        assert!(a.get("thumbnail_url").is_none(), "{name}");
        ids.push(id_of(&a));
        expected.push((a["url"].as_str().unwrap().to_owned(), bytes, name));
    }
    let (status, _) = send_rest(&s.app, &s.alice, &s.room, json!({ "attachments": ids })).await;
    assert_eq!(status, 201);
    for (url, bytes, name) in expected {
        let (status, headers, body) = fetch(&s.app, &s.bob.http, &url).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body, bytes, "{name}: stored as sent");
        assert_eq!(
            header(&headers, "content-type"),
            "application/octet-stream",
            "{name}"
        );
        assert!(
            header(&headers, "content-disposition").starts_with("attachment; filename*=UTF-8''"),
            "{name}"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert!(header(&headers, "content-security-policy").contains("sandbox"));
    }

    // A GIF that is also an HTML page: only the clean picture is kept.
    let mut polyglot = encode(&picture(8, 8), ImageFormat::Gif);
    polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let a = uploaded(&s.app, &s.alice, &s.room, "x.html", "text/html", polyglot).await;
    assert_eq!(a["content_type"], "image/png");
    let (_, headers, body) = fetch(&s.app, &s.alice.http, a["url"].as_str().unwrap()).await;
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert!(!contains(&body, b"<script"));

    // Bombs, truncated pictures and empty files are refused, and kept nowhere.
    let bomb = upload(
        &s.app,
        &s.alice,
        &s.room,
        "b.png",
        "image/png",
        png_claiming(100_000, 100_000),
    )
    .await;
    assert_error(&bomb, 422, "validation_failed", "decompression bomb");
    assert!(bomb.1["error"]["fields"]["file"].is_string());
    let wide = upload(
        &s.app,
        &s.alice,
        &s.room,
        "w.png",
        "image/png",
        png_claiming(9000, 9000),
    )
    .await;
    assert_error(&wide, 422, "validation_failed", "too many pixels");
    let whole = encode(&picture(200, 200), ImageFormat::Png);
    let cut = whole[..whole.len() / 2].to_vec();
    let truncated = upload(&s.app, &s.alice, &s.room, "t.png", "image/png", cut).await;
    assert_error(&truncated, 422, "validation_failed", "truncated");
    let empty = upload(&s.app, &s.alice, &s.room, "e.txt", "text/plain", Vec::new()).await;
    assert_error(&empty, 422, "validation_failed", "empty");
    assert!(empty.1["error"]["fields"]["file"].is_string());
    let no_file = s
        .alice
        .http
        .post(s.app.url(&format!("/api/v1/rooms/{}/attachments", s.room)))
        .multipart(Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_file.status(), 422);
    let not_multipart = post(
        &s.app,
        &s.alice,
        &format!("/api/v1/rooms/{}/attachments", s.room),
        json!({}),
    )
    .await;
    assert_error(&not_multipart, 415, "unsupported_media_type", "json body");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (kept,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM attachments")
        .fetch_one(&s.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(kept, 6, "refused uploads leave nothing");
}

#[tokio::test]
async fn names_are_sanitized() {
    let s = setting().await;
    let cases = [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("tab\there.txt", "tabhere.txt"),
        ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
        ("   ", "file"),
        ("dir/..", "file"),
    ];
    for (raw, shown) in cases {
        let a = uploaded(&s.app, &s.alice, &s.room, raw, "text/plain", b"x".to_vec()).await;
        assert_eq!(a["name"], shown, "{raw:?}");
    }
    let long = "n".repeat(400);
    let a = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        &long,
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(a["name"].as_str().unwrap().chars().count(), 255);
}

#[tokio::test]
async fn who_may_upload_and_download_follows_the_conversation() {
    let s = setting().await;
    let file = || b"dm secret".to_vec();
    // Outsiders cannot upload to a room: 403 for a public room not joined, 404 otherwise.
    let refused = upload(&s.app, &s.carol, &s.room, "a", "text/plain", file()).await;
    assert_error(&refused, 403, "forbidden", "not joined");
    let nowhere = upload(&s.app, &s.carol, "no-such-room", "a", "text/plain", file()).await;
    assert_error(&nowhere, 404, "not_found", "no such room");
    let signed_out = reqwest::Client::new();
    let (status, _, _) = upload_as(&s.app, &signed_out, &s.room, "a", "text/plain", file()).await;
    assert_eq!(status, 401);

    // A DM between alice and bob: carol sees nothing, not even with the URL.
    let dm = open_dm(&s.app, &s.alice, &s.bob.name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = upload(&s.app, &s.carol, &dm, "a", "text/plain", file()).await;
    assert_error(&foreign, 404, "not_found", "someone else's DM");
    let a = uploaded(&s.app, &s.alice, &dm, "secret.txt", "text/plain", file()).await;
    let url = a["url"].as_str().unwrap().to_owned();
    let (status, sent) = send_rest(
        &s.app,
        &s.alice,
        &dm,
        json!({ "text": "see", "attachments": [id_of(&a)] }),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(fetch(&s.app, &s.bob.http, &url).await.2, file());
    assert_not_found(
        &fetch(&s.app, &s.carol.http, &url).await,
        "third person in a DM",
    );

    // Deleting the message deletes the file.
    let id = sent["message"]["id"].as_i64().unwrap();
    let (status, deleted) = delete(&s.app, &s.alice, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["message"]["attachments"], json!([]));
    assert_not_found(
        &fetch(&s.app, &s.alice.http, &url).await,
        "deleted, uploader",
    );
    assert_not_found(&fetch(&s.app, &s.bob.http, &url).await, "deleted, peer");
    let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM attachment_chunks")
        .fetch_one(&s.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the bytes went with the message");

    // Garbage tokens are 404 JSON, never 500.
    for path in [
        "/attachments/%FF".to_owned(),
        "/attachments/%00".to_owned(),
        format!("/attachments/{}", "a".repeat(5000)),
        "/attachments/0123456789abcdef0123456789abcdef".to_owned(),
        "/attachments/0123456789ABCDEF0123456789ABCDEF/thumbnail".to_owned(),
        format!("{url}%00"),
        format!("{url}/thumbnail"),
    ] {
        assert_not_found(&fetch(&s.app, &s.alice.http, &path).await, &path);
    }
}

#[tokio::test]
async fn only_unsent_uploads_of_the_sender_to_that_conversation_can_be_sent() {
    let s = setting().await;
    let other_room = create_room(&s.app, &s.alice, &unique_name("other")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = || b"data".to_vec();
    let bobs = uploaded(&s.app, &s.bob, &s.room, "b", "text/plain", file()).await;
    let elsewhere = uploaded(&s.app, &s.alice, &other_room, "o", "text/plain", file()).await;
    let mine = uploaded(&s.app, &s.alice, &s.room, "m", "text/plain", file()).await;
    let mut socket = connect(&s.app, &s.alice).await;
    let cases = [
        (json!([id_of(&bobs)]), "someone else's upload"),
        (json!([id_of(&elsewhere)]), "another conversation's upload"),
        (json!([999_999]), "an unknown id"),
        (json!([id_of(&mine), id_of(&mine)]), "listed twice"),
        (json!((1..=11).collect::<Vec<i64>>()), "more than ten"),
        (json!("everything"), "not a list"),
        (json!([-1]), "a negative id"),
    ];
    for (list, what) in cases {
        let answer = send_rest(
            &s.app,
            &s.alice,
            &s.room,
            json!({ "text": "x", "attachments": list }),
        )
        .await;
        assert_error(&answer, 422, "validation_failed", what);
        assert!(
            answer.1["error"]["fields"]["attachments"].is_string(),
            "{what}: {}",
            answer.1
        );
        let ack = socket
            .call(
                "message",
                json!({ "room": s.room, "text": "x", "attachments": list }),
            )
            .await;
        assert_ack_error(&ack, "validation_failed", what);
        assert!(
            ack["error"]["fields"]["attachments"].is_string(),
            "{what}: {ack}"
        );
    }
    // A refused list takes nothing: `mine` is still free, once.
    let mixed = send_rest(
        &s.app,
        &s.alice,
        &s.room,
        json!({ "attachments": [id_of(&mine), id_of(&bobs)] }),
    )
    .await;
    assert_error(
        &mixed,
        422,
        "validation_failed",
        "one foreign id among them",
    );
    let ack = socket
        .call(
            "message",
            json!({ "room": s.room, "attachments": [id_of(&mine)] }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["message"]["attachments"][0]["id"], mine["id"]);
    let again = send_rest(
        &s.app,
        &s.alice,
        &s.room,
        json!({ "attachments": [id_of(&mine)] }),
    )
    .await;
    assert_error(&again, 422, "validation_failed", "already sent");
    // Without attachments the text is still required, and always checked.
    let empty = send_rest(&s.app, &s.alice, &s.room, json!({ "text": "  " })).await;
    assert_error(&empty, 422, "validation_failed", "empty text");
    let fresh = uploaded(&s.app, &s.alice, &s.room, "f", "text/plain", file()).await;
    let bad_text = send_rest(
        &s.app,
        &s.alice,
        &s.room,
        json!({ "text": "a\u{7}b", "attachments": [id_of(&fresh)] }),
    )
    .await;
    assert_error(&bad_text, 422, "validation_failed", "control character");
    assert!(bad_text.1["error"]["fields"]["text"].is_string());

    // Many messages racing for one upload: exactly one gets it.
    let contested = uploaded(&s.app, &s.alice, &s.room, "c", "text/plain", file()).await;
    let racers = (0..8).map(|_| {
        send_rest(
            &s.app,
            &s.alice,
            &s.room,
            json!({ "attachments": [id_of(&contested)] }),
        )
    });
    let statuses: Vec<u16> = join_all(racers).await.into_iter().map(|a| a.0).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn replies_and_threads_carry_attachments() {
    let s = setting().await;
    let (_, root) = send_rest(&s.app, &s.alice, &s.room, json!({ "text": "root" })).await;
    let root_id = root["message"]["id"].as_i64().unwrap();
    let a = uploaded(
        &s.app,
        &s.bob,
        &s.room,
        "r.txt",
        "text/plain",
        b"r".to_vec(),
    )
    .await;
    let (status, reply) = send_rest(
        &s.app,
        &s.bob,
        &s.room,
        json!({ "reply_to": root_id, "attachments": [id_of(&a)] }),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let thread = get(
        &s.app,
        &s.alice,
        &format!("/api/v1/messages/{root_id}/thread"),
    )
    .await;
    assert_eq!(thread.1["messages"][0]["attachments"], json!([a]));
    assert_eq!(thread.1["root"]["attachments"], json!([]));
}

#[tokio::test]
async fn uploads_past_the_size_limit_are_413_and_kept_nowhere() {
    let s = setting_with(|c| c.max_upload = 1024 * 1024).await;
    let exact = upload(
        &s.app,
        &s.alice,
        &s.room,
        "a",
        "text/plain",
        vec![b'a'; 1024 * 1024],
    )
    .await;
    assert_eq!(exact.0, 201, "{}", exact.1);
    let over = upload(
        &s.app,
        &s.alice,
        &s.room,
        "b",
        "text/plain",
        vec![b'a'; 1024 * 1024 + 1],
    )
    .await;
    assert_error(&over, 413, "too_large", "one byte over");
    assert_eq!(
        over.1["error"]["message"], "The file is larger than 1 MiB.",
        "the limit in human units"
    );
    let mut big_picture = encode(&picture(64, 64), ImageFormat::Png);
    big_picture.resize(1024 * 1024 + 10, 0);
    let over = upload(&s.app, &s.alice, &s.room, "p.png", "image/png", big_picture).await;
    assert_error(&over, 413, "too_large", "a picture over the limit");
    // A refused upload's rows go once its request ends (give a busy machine
    // up to 5 s; they must go).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (rows, chunks) = loop {
        let (rows, chunks): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM attachments), (SELECT COUNT(*) FROM attachment_chunks)",
        )
        .fetch_one(&s.app.state.db.pool)
        .await
        .unwrap();
        if rows == 1 || tokio::time::Instant::now() > deadline {
            break (rows, chunks);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(rows, 1);
    assert_eq!(chunks, 4, "1 MiB in 256 KiB chunks");
}

#[tokio::test]
async fn the_quota_holds_under_twenty_uploads_racing_for_the_last_bytes() {
    let s = setting_with(|c| c.upload_quota = 100_000).await;
    let first = upload(
        &s.app,
        &s.alice,
        &s.room,
        "a",
        "text/plain",
        vec![1; 95_000],
    )
    .await;
    assert_eq!(first.0, 201);
    let over = upload(&s.app, &s.alice, &s.room, "b", "text/plain", vec![1; 6_000]).await;
    assert_error(&over, 413, "quota_exceeded", "past the quota");
    let racers = (0..20).map(|i| {
        upload(
            &s.app,
            &s.alice,
            &s.room,
            "r",
            "text/plain",
            vec![i as u8; 4_000],
        )
    });
    let answers = join_all(racers).await;
    let passed = answers.iter().filter(|a| a.0 == 201).count();
    assert_eq!(
        passed,
        1,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for answer in answers.iter().filter(|a| a.0 != 201) {
        assert_error(answer, 413, "quota_exceeded", "a racer");
    }
    // Another account has its own quota.
    let theirs = upload(&s.app, &s.bob, &s.room, "b", "text/plain", vec![1; 99_000]).await;
    assert_eq!(theirs.0, 201);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (used,): (i64,) =
        sqlx::query_as("SELECT CAST(SUM(size) AS BIGINT) FROM attachments WHERE uploader_id = $1")
            .bind(s.alice.id)
            .fetch_one(&s.app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(used, 99_000);
}

#[tokio::test]
async fn uploads_are_rate_limited_per_account() {
    let s = setting().await;
    for i in 0..60 {
        let answer = upload(&s.app, &s.alice, &s.room, "f", "text/plain", vec![b'x'; 10]).await;
        assert_eq!(answer.0, 201, "upload {i}: {}", answer.1);
    }
    let (status, body, headers) = upload_as(
        &s.app,
        &s.alice.http,
        &s.room,
        "f",
        "text/plain",
        vec![b'x'; 10],
    )
    .await;
    assert_error(&(status, body), 429, "rate_limited", "the 61st upload");
    assert!(header(&headers, "retry-after").parse::<u64>().unwrap() > 0);
    let theirs = upload(&s.app, &s.bob, &s.room, "f", "text/plain", vec![b'x'; 10]).await;
    assert_eq!(theirs.0, 201, "another account is not limited");
}

#[tokio::test]
async fn uploads_never_sent_are_swept_and_deleted_accounts_take_theirs() {
    let s = setting_with(|c| c.unsent_upload_seconds = 1).await;
    let sent = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        "s",
        "text/plain",
        b"kept".to_vec(),
    )
    .await;
    let (status, _) = send_rest(
        &s.app,
        &s.alice,
        &s.room,
        json!({ "attachments": [id_of(&sent)] }),
    )
    .await;
    assert_eq!(status, 201);
    let orphan = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        "o",
        "text/plain",
        b"orphan".to_vec(),
    )
    .await;
    let (removed, _) = chatroom::attachments::sweep(&s.app.state).await.unwrap();
    assert_eq!(removed, 0, "not old enough yet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (removed, _) = chatroom::attachments::sweep(&s.app.state).await.unwrap();
    assert_eq!(removed, 1);
    assert_not_found(
        &fetch(&s.app, &s.alice.http, orphan["url"].as_str().unwrap()).await,
        "swept",
    );
    assert_eq!(
        fetch(&s.app, &s.bob.http, sent["url"].as_str().unwrap())
            .await
            .0,
        200
    );

    // Deleting the account deletes what it uploaded, sent or not.
    let _ = uploaded(
        &s.app,
        &s.alice,
        &s.room,
        "n",
        "text/plain",
        b"new".to_vec(),
    )
    .await;
    let answer = s
        .alice
        .http
        .delete(s.app.url("/api/v1/me"))
        .json(&json!({ "current_password": common::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_not_found(
        &fetch(&s.app, &s.bob.http, sent["url"].as_str().unwrap()).await,
        "uploader deleted",
    );
    let (rows, chunks): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM attachments), (SELECT COUNT(*) FROM attachment_chunks)",
    )
    .fetch_one(&s.app.state.db.pool)
    .await
    .unwrap();
    assert_eq!((rows, chunks), (0, 0));
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

/// Twenty people upload 25 MiB at once: files stream to the database in
/// chunks, so the server's memory barely grows (it would by ~500 MiB if
/// each were read whole).
#[tokio::test]
async fn twenty_concurrent_25_mib_uploads_keep_memory_bounded() {
    if common::on_postgres() {
        return; // memory is the server's, whatever the database
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/files.db", dir.path().display());
    let server = common::process::start(
        dir.path(),
        &[
            ("CHATROOM_DATABASE_URL", db.as_str()),
            ("CHATROOM_SQLITE_SYNCHRONOUS", "normal"),
        ],
    );
    let mut cookies = Vec::new();
    for _ in 0..20 {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/register", server.base))
            .json(&json!({ "username": unique_name("heavy"), "password": common::PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        cookies.push(common::cookie_from(&response).unwrap());
    }
    let before = peak_rss_kib(server.child.id());
    assert!(before > 0, "/proc is readable");
    // One buffer for every request: the client side holds no copies.
    let file: &'static [u8] = Box::leak(vec![0x5a_u8; 25 * 1024 * 1024].into_boxed_slice());
    let uploads = cookies.iter().map(|cookie| {
        let form = Form::new().part(
            "file",
            Part::bytes(file)
                .file_name("big.bin")
                .mime_str("application/zip")
                .unwrap(),
        );
        reqwest::Client::new()
            .post(format!("{}/api/v1/rooms/global/attachments", server.base))
            .header("cookie", cookie)
            .multipart(form)
            .send()
    });
    let answers = join_all(uploads).await;
    for answer in answers {
        let answer = answer.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["attachment"]["size"], 25 * 1024 * 1024);
    }
    let grown_mib = peak_rss_kib(server.child.id()).saturating_sub(before) / 1024;
    eprintln!("peak memory grew by {grown_mib} MiB for 20 × 25 MiB uploads");
    assert!(grown_mib < 100, "peak memory grew by {grown_mib} MiB");
}

/// Two instances on one PostgreSQL: a file uploaded and sent through one
/// is served by the other (the bytes live in the database).
#[tokio::test]
async fn every_instance_serves_every_attachment() {
    if !common::on_postgres() {
        return; // one SQLite file is one server's
    }
    let first = spawn_with(|_| {}).await;
    let shared = first.state.config.database_url.clone();
    let second = spawn_with(|c| c.database_url = shared).await;
    let alice = user(&first, "alice").await;
    let bob = user(&first, "bob").await;
    let bytes: Vec<u8> = (0..600_000_u32).map(|i| (i % 241) as u8).collect();
    let file = uploaded(
        &first,
        &alice,
        "global",
        "a.bin",
        "application/zip",
        bytes.clone(),
    )
    .await;
    let photo = encode(&picture(600, 100), ImageFormat::Png);
    let photo = uploaded(&first, &alice, "global", "p.png", "image/png", photo).await;
    let (status, _) = send_rest(
        &first,
        &alice,
        "global",
        json!({ "attachments": [id_of(&file), id_of(&photo)] }),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, body) = fetch(&second, &bob.http, file["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    let thumbnail = format!("{}/thumbnail", photo["url"].as_str().unwrap());
    let (status, headers, _) = fetch(&second, &bob.http, &thumbnail).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_not_found(
        &fetch(&second, &reqwest::Client::new(), &thumbnail).await,
        "signed out, other instance",
    );
}

/// A refusal decided before the file is read (not a member, no such room,
/// too many uploads) still reaches a client that is sending a large file:
/// the server reads the body to its end and then answers, instead of
/// closing the connection under it (a browser would see a reset, not why).
#[tokio::test]
async fn refusals_before_the_body_still_reach_a_large_upload() {
    let s = setting().await;
    let big = || vec![b'x'; 12 * 1024 * 1024];
    for _ in 0..3 {
        let refused = upload(&s.app, &s.carol, &s.room, "big.bin", "text/plain", big()).await;
        assert_error(&refused, 403, "forbidden", "not joined, 12 MiB sent");
        let nowhere = upload(
            &s.app,
            &s.carol,
            "no-such-room",
            "big.bin",
            "text/plain",
            big(),
        )
        .await;
        assert_error(&nowhere, 404, "not_found", "no such room, 12 MiB sent");
    }
}
