//! Pieces shared by every page and route: extractors, security headers,
//! embedded static files, avatars and health.

pub mod addresses;
pub mod api_doc;
pub mod assets;
pub mod avatars;
pub mod chat_page;
pub mod extract;
pub mod health;
pub mod import_map;
pub mod pages;
pub mod security;

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

/// The rules the chat page's scripts need, from the code that enforces
/// them (never copied into the scripts): rendered once into the page as
/// `<meta name="chatroom-config" content="…">`. `max_upload` is the
/// server's setting (`CHATROOM_MAX_UPLOAD`), so a file too large is refused
/// before it is sent.
pub fn client_config(max_upload: u64) -> serde_json::Value {
    use crate::domain::{message_text, reaction, room_name};
    serde_json::json!({
        "max_message_chars": message_text::MAX_CHARS,
        "reactions": reaction::REACTIONS,
        "room_name": {
            "min": room_name::MIN_NAME,
            "max": room_name::MAX_NAME,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$",
        },
        "max_topic_chars": room_name::MAX_TOPIC,
        "max_client_id": crate::messages::MAX_CLIENT_ID,
        "online_list_limit": crate::live::ONLINE_LIST_LIMIT,
        "connect_list_limit": crate::live::CONNECT_LIST_LIMIT,
        "unread_cap": crate::rooms::service::UNREAD_CAP,
        "max_upload": max_upload,
        "max_attachments": crate::messages::attach::MAX_ATTACHMENTS,
    })
}

/// Unknown paths: JSON under `/api`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return AppError::NotFound.into_response();
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        Html(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · chatroom</title>\
             <link rel=\"stylesheet\" href=\"/static/css/app.css\"></head><body class=\"page-centered\">\
             <main class=\"card\"><h1>Page not found</h1><p><a href=\"/\">Back to chatroom</a></p></main></body></html>",
        ),
    )
        .into_response()
}
