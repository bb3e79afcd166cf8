//! `GET /api/v1/openapi.json`: the OpenAPI 3 description of the JSON API,
//! kept next to the code and checked by a test against the real routes.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, embedded at build time.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
