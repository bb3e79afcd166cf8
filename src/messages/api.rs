//! REST routes of messages: history and posting in any conversation one can
//! read, changes to a message, and search. Each parses its input and calls
//! the service (`messages`), which holds every rule.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::history::{parse_page, Param};
use super::search::{DEFAULT_RESULTS, MAX_RESULTS};
use crate::auth::CurrentUser;
use crate::domain::RoomId;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Author, MessageEnvelope, MessagesEnvelope, ThreadEnvelope, ThreadsEnvelope};
use crate::web::api_doc::{
    BodyErrors, CrossSite, ErrorBody, NotFound, RateLimited, Unauthenticated,
};
use crate::web::extract::{limit_param, message_id, ApiJson, ApiPath, ApiQuery, RoomPath};

/// The message routes of the API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(room_messages, post_message))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(add_reaction, remove_reaction))
        .routes(routes!(emoji_catalog))
        .routes(routes!(search_messages))
        .routes(routes!(thread))
        .routes(routes!(follow_thread, unfollow_thread))
        .routes(routes!(mark_thread_read))
        .routes(routes!(my_threads))
}

/// A message id in a path, described once for the document.
const MESSAGE_ID: &str =
    "A message id; one that does not exist or is in a conversation you cannot read is 404";

#[utoipa::path(
    get,
    path = "/api/v1/rooms/{room}/messages",
    tag = "messages",
    summary = "A page of a conversation's history, oldest first (any conversation you can read)",
    security(("sessionCookie" = [])),
    params(
        ("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`"),
        ("before" = Option<i64>, Query, minimum = 0, description = "The newest `limit` messages older than this id"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The oldest `limit` messages newer than this id"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–100 (larger is capped), default 50"),
    ),
    responses(
        Unauthenticated,
        (status = 200, description = "Messages, oldest first", body = MessagesEnvelope),
        (status = 403, description = "A public room you have not joined (`forbidden`)", body = ErrorBody),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
async fn room_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    query: ApiQuery,
) -> AppResult<Json<MessagesEnvelope>> {
    let param = |name: &str| match query.get(name) {
        Some(value) => Param::Text(value),
        None => Param::Absent,
    };
    let page = parse_page(param("before"), param("after"), param("limit"))?;
    let messages = super::history(&state, user.user.id, &room, page).await?;
    Ok(Json(MessagesEnvelope { messages }))
}

#[derive(Deserialize, ToSchema)]
struct PostBody {
    /// Trimmed, then 1–2000 characters without control characters other than newline and tab; may be empty or absent when `attachments` are given.
    #[serde(default)]
    #[schema(max_length = 2000)]
    text: String,
    /// 1–64 of `A–Z a–z 0–9 _ -`, echoed in the answer and the broadcast (never stored).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    client_id: Option<String>,
    /// Any message of this conversation: the new one joins its thread (404 if it is not one you can read here).
    #[serde(default)]
    #[schema(minimum = 0)]
    reply_to: Option<i64>,
    /// A reply also shown in the room (default false; ignored without `reply_to`).
    #[serde(default)]
    also_in_room: Option<bool>,
    /// Up to 10 ids of your uploads to this conversation not sent yet (`POST /api/v1/rooms/{room}/attachments`); anything else is 422 with `fields.attachments`.
    #[serde(default)]
    #[schema(max_items = 10)]
    attachments: Option<Vec<i64>>,
}

#[utoipa::path(
    post,
    path = "/api/v1/rooms/{room}/messages",
    tag = "messages",
    summary = "Send a message: the same validation, access, per-account budget and broadcast as the socket `message` event",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    request_body = PostBody,
    responses(
        Unauthenticated,
        BodyErrors,
        RateLimited,
        (status = 201, description = "Stored and broadcast", body = MessageEnvelope),
        (status = 403, description = "A public room you have not joined (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
        (status = 503, description = "The message could not be stored now (`unavailable`)", body = ErrorBody),
    )
)]
async fn post_message(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    ApiJson(body): ApiJson<PostBody>,
) -> AppResult<(StatusCode, Json<MessageEnvelope>)> {
    let outgoing = super::Outgoing {
        text: &body.text,
        client_id: super::parse_client_id(body.client_id.as_deref())?,
        reply_to: body.reply_to.map(reply_id).transpose()?,
        also_in_room: body.also_in_room.unwrap_or(false),
        attachments: body.attachments.unwrap_or_default(),
    };
    let author = Author::from(&user.user);
    let message = super::post(&state, &author, &room, outgoing).await?;
    Ok((StatusCode::CREATED, Json(MessageEnvelope { message })))
}

#[derive(Deserialize, ToSchema)]
struct EditBody {
    /// Trimmed, then 1–2000 characters without control characters other than newline and tab.
    #[schema(min_length = 1, max_length = 2000)]
    text: String,
}

#[utoipa::path(
    patch,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    summary = "Edit your message (same text rules as a new one; sets `edited_at`; broadcast as `message_updated`)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = "A message id; one that does not exist or is in a conversation you cannot read is 404")),
    request_body = EditBody,
    responses(
        Unauthenticated,
        BodyErrors,
        RateLimited,
        NotFound,
        (status = 200, description = "The edited message", body = MessageEnvelope),
        (status = 403, description = "Not your message (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 409, description = "The message was deleted (`message_deleted`)", body = ErrorBody),
    )
)]
async fn edit_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::edit(&state, user.user.id, message_id(&id)?, &body.text).await?;
    Ok(Json(MessageEnvelope { message }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    summary = "Delete a message (yours, or any as an admin): it stays in history as a placeholder",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = "A message id; one that does not exist or is in a conversation you cannot read is 404")),
    responses(
        Unauthenticated,
        RateLimited,
        NotFound,
        (status = 200, description = "The placeholder (`deleted: true`, `text: \"\"`, `reactions: []`)", body = MessageEnvelope),
        (status = 204, description = "Deleted by an admin in a conversation they cannot read: nothing of it is shown"),
        (status = 403, description = "Not your message and not an admin (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
    )
)]
async fn delete_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    Ok(
        match super::delete(&state, user.user.id, message_id(&id)?).await? {
            Some(message) => Json(MessageEnvelope { message }).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    tag = "messages",
    summary = "Add your reaction (adding it twice is not an error)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = "A message id; one that does not exist or is in a conversation you cannot read is 404"), ("emoji" = String, Path, description = "One emoji as Unicode lists it, fully qualified (any of `GET /api/v1/emoji`, or one of its skin-tone variants; ZWJ sequences and flags included), URL-encoded: `%F0%9F%91%8D` for 👍; ❤️ is U+2764 U+FE0F (U+2764 alone is 422). Text, several emoji, a lone modifier or joiner, a NUL: 422")),
    responses(
        Unauthenticated,
        CrossSite,
        RateLimited,
        NotFound,
        (status = 200, description = "The message", body = MessageEnvelope),
        (status = 409, description = "The message was deleted (`message_deleted`)", body = ErrorBody),
        (status = 422, description = "Not a single emoji, or the message already has 20 different ones and this is not one of them (`validation_failed`, `fields.emoji`)", body = ErrorBody),
    )
)]
async fn add_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::react(&state, user.user.id, message_id(&id)?, &emoji, true).await?;
    Ok(Json(MessageEnvelope { message }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}/reactions/{emoji}",
    tag = "messages",
    summary = "Remove your reaction (removing one that is not there is not an error)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = "A message id; one that does not exist or is in a conversation you cannot read is 404"), ("emoji" = String, Path, description = "One emoji as Unicode lists it, fully qualified (any of `GET /api/v1/emoji`, or one of its skin-tone variants; ZWJ sequences and flags included), URL-encoded: `%F0%9F%91%8D` for 👍; ❤️ is U+2764 U+FE0F (U+2764 alone is 422). Text, several emoji, a lone modifier or joiner, a NUL: 422")),
    responses(
        Unauthenticated,
        CrossSite,
        RateLimited,
        NotFound,
        (status = 200, description = "The message", body = MessageEnvelope),
        (status = 422, description = "Not a single emoji (`validation_failed`, `fields.emoji`)", body = ErrorBody),
    )
)]
async fn remove_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::react(&state, user.user.id, message_id(&id)?, &emoji, false).await?;
    Ok(Json(MessageEnvelope { message }))
}

/// The emoji catalog's JSON and its entity tag, built once (the data is
/// fixed for a given binary).
fn emoji_catalog_body() -> &'static (String, String) {
    static BODY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_string(&crate::domain::reaction::catalog())
            .unwrap_or_else(|_| "{}".to_owned());
        let digest = Sha256::digest(json.as_bytes());
        let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        (json, format!("\"{tag}\""))
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/emoji",
    tag = "messages",
    summary = "Every emoji a reaction may be, by group, with names and short names to search (the picker's data); public and cacheable",
    responses(
        (status = 200, description = "The catalog (`Cache-Control: public, max-age=86400` and an `ETag`)", body = crate::domain::reaction::EmojiCatalog),
        (status = 304, description = "Unchanged since the `If-None-Match` entity tag"),
    )
)]
async fn emoji_catalog(headers: axum::http::HeaderMap) -> Response {
    use axum::http::header;
    let (json, etag) = emoji_catalog_body();
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, "application/json".to_owned())],
        json.clone(),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "messages",
    summary = "Search the messages you can read now (not deleted), newest first",
    security(("sessionCookie" = [])),
    params(
        ("q" = String, Query, description = "Words, each of which must appear (case-insensitive; the last also matches as a prefix); at least one letter or digit"),
        ("room" = Option<String>, Query, description = "Narrow to one conversation (403/404 as for its history)"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–50 (larger is capped), default 20"),
    ),
    responses(
        Unauthenticated,
        (status = 200, description = "Matching messages, newest first", body = MessagesEnvelope),
        (status = 400, description = "An undecodable query string (`bad_request`)", body = ErrorBody),
        (status = 403, description = "`room` is a public room you have not joined (`forbidden`)", body = ErrorBody),
        (status = 404, description = "`room` does not exist, or is a DM you are not part of (`not_found`)", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
async fn search_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    query: ApiQuery,
) -> AppResult<Json<MessagesEnvelope>> {
    let limit = limit_param(&query, DEFAULT_RESULTS, MAX_RESULTS)?;
    let text = query.get("q").map(String::as_str).unwrap_or("");
    let room = match query
        .get("room")
        .map(String::as_str)
        .filter(|r| !r.is_empty())
    {
        Some(raw) => Some(RoomId::parse(raw).ok_or(AppError::NotFound)?),
        None => None,
    };
    let messages = super::search::search(&state, user.user.id, text, room.as_ref(), limit).await?;
    Ok(Json(MessagesEnvelope { messages }))
}

/// `reply_to` in a body: a message id.
fn reply_id(id: i64) -> Result<i64, AppError> {
    if id < 0 {
        return Err(AppError::field("reply_to", "must be a message id"));
    }
    Ok(id)
}

#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/thread",
    tag = "threads",
    summary = "A thread: its root and a page of its replies, oldest first (`{id}` may be the root or any reply)",
    security(("sessionCookie" = [])),
    params(
        ("id" = i64, Path, description = MESSAGE_ID),
        ("before" = Option<i64>, Query, minimum = 0, description = "The newest `limit` replies older than this id"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The oldest `limit` replies newer than this id"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–100 (larger is capped), default 50"),
    ),
    responses(
        Unauthenticated,
        NotFound,
        (status = 200, description = "The root and replies", body = ThreadEnvelope),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
async fn thread(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    query: ApiQuery,
) -> AppResult<Json<ThreadEnvelope>> {
    let param = |name: &str| match query.get(name) {
        Some(value) => Param::Text(value),
        None => Param::Absent,
    };
    let page = parse_page(param("before"), param("after"), param("limit"))?;
    let (root, messages) =
        super::threads::thread(&state, user.user.id, message_id(&id)?, page).await?;
    Ok(Json(ThreadEnvelope { root, messages }))
}

#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/thread/follow",
    tag = "threads",
    summary = "Follow the thread of a message (idempotent)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = MESSAGE_ID)),
    responses(
        Unauthenticated,
        CrossSite,
        NotFound,
        (status = 204, description = "Following"),
    )
)]
async fn follow_thread(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    super::threads::follow(&state, user.user.id, message_id(&id)?, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/messages/{id}/thread/follow",
    tag = "threads",
    summary = "Stop following the thread of a message (idempotent; replying or being mentioned there follows it again)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = MESSAGE_ID)),
    responses(
        Unauthenticated,
        CrossSite,
        NotFound,
        (status = 204, description = "Not following"),
    )
)]
async fn unfollow_thread(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    super::threads::follow(&state, user.user.id, message_id(&id)?, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct ThreadReadBody {
    /// The id of the last reply read; the marker never moves back, nor past the newest reply.
    #[schema(minimum = 0)]
    last_read_id: i64,
}

#[utoipa::path(
    put,
    path = "/api/v1/messages/{id}/thread/read",
    tag = "threads",
    summary = "Move your marker of a thread forward (never back; your other sockets get `thread_read`)",
    security(("sessionCookie" = [])),
    params(("id" = i64, Path, description = MESSAGE_ID)),
    request_body = ThreadReadBody,
    responses(
        Unauthenticated,
        BodyErrors,
        NotFound,
        (status = 204, description = "Marked"),
        (status = 403, description = "A request from another site (`csrf_rejected`)", body = ErrorBody),
    )
)]
async fn mark_thread_read(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ThreadReadBody>,
) -> AppResult<StatusCode> {
    super::threads::mark_read(&state, user.user.id, message_id(&id)?, body.last_read_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/me/threads",
    tag = "threads",
    summary = "The threads you follow that have replies, in conversations you can still read, newest reply first (at most 100)",
    security(("sessionCookie" = [])),
    responses(
        Unauthenticated,
        (status = 200, description = "Each root with your unread count and its newest reply's time", body = ThreadsEnvelope),
    )
)]
async fn my_threads(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Json<ThreadsEnvelope>> {
    let threads = super::threads::followed(&state, user.user.id).await?;
    Ok(Json(ThreadsEnvelope { threads }))
}
