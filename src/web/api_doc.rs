//! The OpenAPI document of the JSON API, derived from the handlers and the
//! types they exchange (`#[utoipa::path]` on each handler, `ToSchema` on
//! each body): a route cannot be added without being described, since the
//! same declaration registers it. This module holds what every operation
//! shares: the error body, the common error responses and the document's
//! header.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// `{"error": {"code", "message", "fields"?}}`: every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine code (`validation_failed`, `not_found`, …).
    #[schema(example = "validation_failed")]
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// For `validation_failed`: field name → reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<std::collections::BTreeMap<String, String>>,
}

/// Not signed in.
#[derive(IntoResponses)]
pub enum Unauthenticated {
    /// Not signed in (`unauthenticated`)
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
}

/// What a JSON body can be refused for.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed JSON (`invalid_json`)
    #[response(status = 400)]
    InvalidJson(ErrorBody),
    /// A request from another site (`csrf_rejected`)
    #[response(status = 403)]
    Csrf(ErrorBody),
    /// The body is too large (`too_large`)
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not JSON (`unsupported_media_type`)
    #[response(status = 415)]
    Unsupported(ErrorBody),
    /// Invalid fields (`validation_failed`, with `fields` naming each)
    #[response(status = 422)]
    Validation(ErrorBody),
}

/// A request from another site.
#[derive(IntoResponses)]
pub enum CrossSite {
    /// A request from another site (`csrf_rejected`)
    #[response(status = 403)]
    Csrf(ErrorBody),
}

/// Over a limit.
#[derive(IntoResponses)]
pub enum RateLimited {
    /// Too many requests (`rate_limited`); `Retry-After` says when to try again
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(ErrorBody),
}

/// Nothing there (or nothing the caller may know of).
#[derive(IntoResponses)]
pub enum NotFound {
    /// No such resource, or one the caller cannot see (`not_found`)
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// The database is busy or away: try again.
#[derive(IntoResponses)]
pub enum Unavailable {
    /// Temporarily unavailable (`unavailable`)
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Adds the session cookie as the security scheme.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sessionCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("chatroom_session"))),
        );
    }
}

/// The document's header; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chatroom API",
        version = "1",
        description = "JSON API of chatroom. Authentication is the `chatroom_session` cookie set by \
            register and login. State-changing requests sent by browsers must come from the \
            server's own origin. Real-time chat is Socket.IO v5 on `/socket.io/` \
            (docs/protocol.md, docs/realtime.md). Conversations, messages, search and moderation: \
            docs/rooms.md."
    ),
    modifiers(&SessionCookie),
    tags(
        (name = "auth", description = "Accounts: sign up, sign in, recovery"),
        (name = "me", description = "The signed-in account"),
        (name = "users", description = "Other people"),
        (name = "rooms", description = "Conversations"),
        (name = "messages", description = "Messages, reactions and search"),
        (name = "threads", description = "Replies and threads"),
        (name = "attachments", description = "Pictures and files in messages"),
        (name = "admin", description = "Moderation"),
        (name = "meta", description = "This document and health")
    )
)]
pub struct ApiDoc;

static DOCUMENT: OnceLock<String> = OnceLock::new();

/// Keeps the document the routers produced, for [`serve`].
pub fn publish(openapi: &utoipa::openapi::OpenApi) {
    let _ = DOCUMENT.set(openapi.to_json().unwrap_or_else(|_| "{}".to_owned()));
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document of this API", body = Object))
)]
pub async fn serve() -> impl IntoResponse {
    let body = DOCUMENT.get().cloned().unwrap_or_else(|| "{}".to_owned());
    ([(header::CONTENT_TYPE, "application/json")], body)
}
