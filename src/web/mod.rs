//! Pieces shared by every page and route: extractors, security headers,
//! embedded static files, avatars and health.

pub mod assets;
pub mod avatars;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod security;

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

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
