//! The people directory: `GET /api/v1/users?q=&limit=` (docs/rooms.md, "People").

mod common;

use common::spawn_app;
use serde_json::Value;

async fn find(app: &common::TestApp, client: &reqwest::Client, query: &str) -> (u16, Value) {
    let response = client
        .get(app.url(&format!("/api/v1/users{query}")))
        .send()
        .await
        .expect("get");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names(body: &Value) -> Vec<String> {
    body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

#[tokio::test]
async fn anyone_signed_in_finds_people_by_part_of_their_name() {
    let app = spawn_app().await;
    let (client, _) = app.register("Maria.Lopez").await;
    for name in ["amaria", "Mario_K", "zed-maria", "bob", "m_a"] {
        app.register(name).await;
    }

    // Starting with the text first, then containing it; any letter case.
    let (status, body) = find(&app, &client, "?q=MAR").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        names(&body),
        ["Maria.Lopez", "Mario_K", "amaria", "zed-maria"]
    );
    // Public fields only: never an address.
    let first = &body["users"][0];
    assert!(first["id"].is_i64() && first["avatar_url"].is_string());
    assert!(first.get("email").is_none() && first.get("email_verified").is_none());

    // LIKE's wildcards are plain characters here.
    assert_eq!(
        names(&find(&app, &client, "?q=_").await.1),
        ["m_a", "Mario_K"]
    );
    assert!(names(&find(&app, &client, "?q=%25").await.1).is_empty());
    assert_eq!(names(&find(&app, &client, "?q=m.a").await.1).len(), 0);
    assert_eq!(
        names(&find(&app, &client, "?q=a.l").await.1),
        ["Maria.Lopez"]
    );

    // Everyone, alphabetically, when there is no text; `limit` caps it.
    let (_, all) = find(&app, &client, "").await;
    assert_eq!(names(&all).len(), 6);
    assert_eq!(names(&all)[0], "amaria");
    assert_eq!(names(&find(&app, &client, "?q=&limit=2").await.1).len(), 2);
}

#[tokio::test]
async fn the_directory_refuses_strangers_and_bad_queries() {
    let app = spawn_app().await;
    let (status, body) = find(&app, &app.client(), "?q=a").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");

    let (client, _) = app.register("someone").await;
    for (query, field) in [
        (format!("?q={}", "x".repeat(33)), "q"),
        ("?q=a%01b".to_owned(), "q"),
        ("?q=a%00".to_owned(), "q"),
        ("?limit=0".to_owned(), "limit"),
        ("?limit=lots".to_owned(), "limit"),
    ] {
        let (status, body) = find(&app, &client, &query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed", "{query}");
        assert!(
            body["error"]["fields"][field].is_string(),
            "{query}: {body}"
        );
    }
    // Not UTF-8: read as a replacement character, which no name has.
    let (status, body) = find(&app, &client, "?q=%FF").await;
    assert_eq!(status, 200);
    assert!(names(&body).is_empty());
}
