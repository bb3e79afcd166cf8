//! The OpenAPI document, generated from the handlers, describes every
//! route of the JSON API (docs/protocol.md) and nothing that is not there.

mod common;

use serde_json::Value;

#[tokio::test]
async fn openapi_document_lists_every_api_route() {
    let app = common::spawn_app().await;
    let response = app
        .client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // Every operation says who may call it and what comes back.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its answers"
            );
            assert!(
                operation["summary"].is_string(),
                "{method} {path} has a summary"
            );
        }
    }
    let expected = [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/logout"),
        ("post", "/api/v1/auth/forgot-password"),
        ("post", "/api/v1/auth/reset-password"),
        ("post", "/api/v1/auth/verify-email"),
        ("get", "/api/v1/me"),
        ("delete", "/api/v1/me"),
        ("put", "/api/v1/me/password"),
        ("put", "/api/v1/me/email"),
        ("put", "/api/v1/me/avatar"),
        ("delete", "/api/v1/me/avatar"),
        ("get", "/api/v1/me/sessions"),
        ("delete", "/api/v1/me/sessions/{id}"),
        ("get", "/api/v1/users/{username}"),
        ("get", "/api/v1/rooms/{room}/messages"),
        ("post", "/api/v1/rooms/{room}/messages"),
        ("delete", "/api/v1/me/pending-email"),
        ("get", "/api/v1/rooms"),
        ("post", "/api/v1/rooms"),
        ("get", "/api/v1/rooms/{room}"),
        ("put", "/api/v1/rooms/{room}/membership"),
        ("delete", "/api/v1/rooms/{room}/membership"),
        ("put", "/api/v1/rooms/{room}/read"),
        ("put", "/api/v1/rooms/{room}/mute"),
        ("delete", "/api/v1/rooms/{room}/mute"),
        ("get", "/api/v1/me/rooms"),
        ("post", "/api/v1/dms"),
        ("patch", "/api/v1/messages/{id}"),
        ("delete", "/api/v1/messages/{id}"),
        ("put", "/api/v1/messages/{id}/reactions/{emoji}"),
        ("delete", "/api/v1/messages/{id}/reactions/{emoji}"),
        ("get", "/api/v1/emoji"),
        ("get", "/api/v1/rooms/{room}/members"),
        ("get", "/api/v1/search"),
        ("put", "/api/v1/admin/users/{username}/suspension"),
        ("delete", "/api/v1/admin/users/{username}/suspension"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/healthz"),
    ];
    for (method, path) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    // Every documented operation exists on the server (no 404/405 for it).
    let client = app.client();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "1")
                .replace("{username}", "nobody_x")
                .replace("{room}", "global")
                .replace("{emoji}", "%F0%9F%91%8D");
            let request = match method.as_str() {
                "get" => client.get(app.url(&concrete)),
                "post" => client.post(app.url(&concrete)),
                "put" => client.put(app.url(&concrete)),
                "delete" => client.delete(app.url(&concrete)),
                "patch" => client.patch(app.url(&concrete)),
                other => panic!("unexpected method {other}"),
            };
            let status = request.send().await.unwrap().status();
            assert_ne!(status, 405, "{method} {path}");
            if !path.contains("{username}") {
                assert_ne!(status, 404, "{method} {path}");
            }
        }
    }
}
