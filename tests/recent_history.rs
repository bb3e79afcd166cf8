//! History pages answered from memory (the newest messages of a
//! conversation, kept by the writer) are exactly what the database gives:
//! after edits, deletes, reactions, thread replies, a new photo and a
//! deleted account. The reference is the same page read from the database
//! by the service's own database path.

mod common;

use chatroom::db::messages::{Page, Scope};
use common::{spawn_app, TestApp, PASSWORD};
use image::{ImageFormat, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

async fn post(app: &TestApp, who: &reqwest::Client, body: Value) -> Value {
    let response = app
        .post_json(who, "/api/v1/rooms/global/messages", body)
        .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["message"].clone()
}

async fn page(app: &TestApp, who: &reqwest::Client, query: &str) -> Value {
    let response = who
        .get(app.url(&format!("/api/v1/rooms/global/messages?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["messages"].clone()
}

/// A page as the server answers it, checked against the database.
async fn same_page(app: &TestApp, who: &reqwest::Client, after: Option<i64>, limit: i64) -> Value {
    let query = match after {
        Some(after) => format!("after={after}&limit={limit}"),
        None => format!("limit={limit}"),
    };
    let kept = page(app, who, &query).await;
    let page = Page {
        before: None,
        after,
        limit,
    };
    let rows = chatroom::db::messages::page(&app.state.db, Scope::Room("global"), page)
        .await
        .unwrap();
    let views = chatroom::messages::views(&app.state, rows).await.unwrap();
    assert_eq!(
        kept,
        serde_json::to_value(views).unwrap(),
        "page ?{query} differs from the database"
    );
    kept
}

fn png() -> Vec<u8> {
    let img = RgbaImage::from_pixel(40, 40, Rgba([200, 30, 90, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn id(message: &Value) -> i64 {
    message["id"].as_i64().unwrap()
}

#[tokio::test]
async fn pages_kept_in_memory_match_the_database_through_every_change() {
    let warm = spawn_app().await;
    let (alice, _) = warm.register(&common::unique_name("alice")).await;
    let (bob, _) = warm.register(&common::unique_name("bob")).await;

    let first = post(&warm, &alice, json!({"text": "one", "client_id": "c1"})).await;
    let second = post(&warm, &bob, json!({"text": "**two** https://example.com"})).await;
    let third = post(&warm, &alice, json!({"text": "three"})).await;
    let before_first = Some(id(&first) - 1);
    let kept = same_page(&warm, &alice, before_first, 50).await;
    assert_eq!(kept.as_array().unwrap().len(), 3);
    assert_eq!(kept[0].get("client_id"), None, "client ids are not history");
    same_page(&warm, &alice, None, 2).await;
    same_page(&warm, &bob, Some(id(&first)), 1).await;

    // The server really answers from memory: a change made behind its back
    // (never done by the product) does not show.
    sqlx::query("UPDATE messages SET text = 'changed behind its back' WHERE id = $1")
        .bind(id(&second))
        .execute(&warm.state.db.pool)
        .await
        .unwrap();
    let all = format!("after={}", id(&first) - 1);
    assert_eq!(
        page(&warm, &alice, &all).await[1]["text"],
        "**two** https://example.com"
    );
    sqlx::query("UPDATE messages SET text = '**two** https://example.com' WHERE id = $1")
        .bind(id(&second))
        .execute(&warm.state.db.pool)
        .await
        .unwrap();

    // Every change the product makes shows at once.
    let react = bob
        .put(warm.url(&format!(
            "/api/v1/messages/{}/reactions/%F0%9F%91%8D",
            id(&first)
        )))
        .send()
        .await
        .unwrap();
    assert!(react.status().is_success());
    let kept = same_page(&warm, &alice, before_first, 50).await;
    assert_eq!(kept[0]["reactions"].as_array().unwrap().len(), 1);

    post(
        &warm,
        &bob,
        json!({"text": "four", "reply_to": id(&first), "also_in_room": true}),
    )
    .await;
    post(&warm, &bob, json!({"text": "five", "reply_to": id(&first)})).await;
    let kept = same_page(&warm, &alice, before_first, 50).await;
    assert_eq!(kept[0]["thread"]["reply_count"], 2);

    let edit = alice
        .patch(warm.url(&format!("/api/v1/messages/{}", id(&third))))
        .json(&json!({"text": "three, edited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    let sixth = post(&warm, &alice, json!({"text": "six"})).await;
    same_page(&warm, &alice, Some(id(&third)), 50).await;
    let deleted = alice
        .delete(warm.url(&format!("/api/v1/messages/{}", id(&sixth))))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let seventh = post(&warm, &alice, json!({"text": "seven"})).await;
    let kept = same_page(&warm, &bob, before_first, 50).await;
    assert_eq!(kept[2]["text"], "three, edited");
    same_page(&warm, &bob, Some(id(&sixth) - 1), 50).await;

    // A new photo: every message of its author shows the new picture.
    let photo = Form::new().part(
        "photo",
        Part::bytes(png())
            .file_name("me.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let uploaded = alice
        .put(warm.url("/api/v1/me/avatar"))
        .multipart(photo)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 200);
    post(&warm, &bob, json!({"text": "eight"})).await;
    let kept = same_page(&warm, &bob, Some(id(&seventh) - 1), 50).await;
    assert!(kept[0]["author"]["avatar_url"]
        .as_str()
        .unwrap()
        .contains(".png"));

    // A deleted account: its messages show "Deleted user" (no author).
    let gone = bob
        .delete(warm.url("/api/v1/me"))
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let kept = same_page(&warm, &alice, Some(id(&seventh) - 1), 50).await;
    assert_eq!(kept[1]["author"], Value::Null);
    same_page(&warm, &alice, before_first, 50).await;
}
