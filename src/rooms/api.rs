//! REST routes for conversations (docs/rooms.md).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{mute as muting, service};
use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::{RoomEnvelope, RoomsEnvelope};
use crate::web::api_doc::{BodyErrors, CrossSite, ErrorBody, RateLimited, Unauthenticated};
use crate::web::extract::{limit_param, ApiJson, ApiQuery, RoomPath};

/// Default and largest directory page.
const DEFAULT_LIST: i64 = 50;
const MAX_LIST: i64 = 100;

/// The conversation routes of the API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(directory, create))
        .routes(routes!(one))
        .routes(routes!(join, leave))
        .routes(routes!(mark_read))
        .routes(routes!(mute, unmute))
        .routes(routes!(mine))
        .routes(routes!(open_dm))
        .merge(super::members::router())
}

#[utoipa::path(
    get,
    path = "/api/v1/rooms",
    tag = "rooms",
    summary = "Find conversations to join: `global` and public rooms whose name or topic contains `q`, most recent activity first",
    security(("sessionCookie" = [])),
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive substring of the name or topic; absent or empty lists every room"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–100 (larger is capped), default 50"),
    ),
    responses(
        Unauthenticated,
        (status = 200, description = "Rooms", body = RoomsEnvelope),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
async fn directory(
    State(state): State<AppState>,
    user: CurrentUser,
    query: ApiQuery,
) -> AppResult<Json<RoomsEnvelope>> {
    let limit = limit_param(&query, DEFAULT_LIST, MAX_LIST)?;
    let q = query.get("q").map(String::as_str).unwrap_or("");
    let rooms = service::directory(&state, user.user.id, q, limit).await?;
    Ok(Json(RoomsEnvelope { rooms }))
}

#[derive(Deserialize, ToSchema)]
struct CreateBody {
    /// Unique case-insensitively (`global` is taken); shown as typed, the
    /// room's id is its lower-cased form.
    #[schema(
        min_length = 2,
        max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )]
    name: String,
    /// No control characters; empty when absent.
    #[serde(default)]
    #[schema(max_length = 200)]
    topic: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/rooms",
    tag = "rooms",
    summary = "Create a public room (the creator is its first member); at most 30 per account per hour",
    security(("sessionCookie" = [])),
    request_body = CreateBody,
    responses(
        Unauthenticated,
        BodyErrors,
        RateLimited,
        (status = 201, description = "Created, and joined", body = RoomEnvelope),
        (status = 409, description = "`room_name_taken`", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<(StatusCode, Json<RoomEnvelope>)> {
    let room = service::create(&state, user.user.id, &body.name, body.topic.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(RoomEnvelope { room })))
}

#[utoipa::path(
    get,
    path = "/api/v1/rooms/{room}",
    tag = "rooms",
    summary = "One conversation (a public room's listing is visible without joining)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    responses(
        Unauthenticated,
        (status = 200, description = "The room", body = RoomEnvelope),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
    )
)]
async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::get(&state, user.user.id, &room).await?;
    Ok(Json(RoomEnvelope { room }))
}

#[utoipa::path(
    put,
    path = "/api/v1/rooms/{room}/membership",
    tag = "rooms",
    summary = "Join a public room (idempotent; `global` and your own DMs simply answer 200)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    responses(
        Unauthenticated,
        CrossSite,
        (status = 200, description = "The room, joined", body = RoomEnvelope),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
    )
)]
async fn join(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::join(&state, user.user.id, &room).await?;
    Ok(Json(RoomEnvelope { room }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{room}/membership",
    tag = "rooms",
    summary = "Leave a public room (its messages stay)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    responses(
        Unauthenticated,
        (status = 204, description = "Left"),
        (status = 403, description = "`global` and DMs cannot be left (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
    )
)]
async fn leave(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<StatusCode> {
    service::leave(&state, user.user.id, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct ReadBody {
    /// The id of the last message read; a marker never moves back.
    #[schema(minimum = 0)]
    last_read_id: i64,
}

#[utoipa::path(
    put,
    path = "/api/v1/rooms/{room}/read",
    tag = "rooms",
    summary = "Move your read marker forward (never back; your other sockets get `read`)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    request_body = ReadBody,
    responses(
        Unauthenticated,
        BodyErrors,
        (status = 204, description = "Marked"),
        (status = 403, description = "A public room you have not joined (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
    )
)]
async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    ApiJson(body): ApiJson<ReadBody>,
) -> AppResult<StatusCode> {
    service::mark_read(&state, user.user.id, &room, body.last_read_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/me/rooms",
    tag = "rooms",
    summary = "Your conversations with unread and mention counts: `global` first, then joined rooms and DMs (one someone else opened only from its first message), most recent activity first",
    security(("sessionCookie" = [])),
    responses(Unauthenticated, (status = 200, description = "Your rooms (each with `unread`, `mentions`, `last_read_id`)", body = RoomsEnvelope))
)]
async fn mine(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<RoomsEnvelope>> {
    let rooms = service::mine(&state, user.user.id).await?;
    Ok(Json(RoomsEnvelope { rooms }))
}

#[derive(Deserialize, ToSchema)]
struct DmBody {
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    username: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/dms",
    tag = "rooms",
    summary = "Open the DM with another user (created on first use; the same from both sides); it shows up in their list with its first message",
    security(("sessionCookie" = [])),
    request_body = DmBody,
    responses(
        Unauthenticated,
        BodyErrors,
        (status = 200, description = "The conversation", body = RoomEnvelope),
        (status = 404, description = "Unknown user (`not_found`)", body = ErrorBody),
    )
)]
async fn open_dm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<DmBody>,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::open_dm(&state, user.user.id, &body.username).await?;
    Ok(Json(RoomEnvelope { room }))
}

#[utoipa::path(
    put,
    path = "/api/v1/rooms/{room}/mute",
    tag = "rooms",
    summary = "Mute a conversation for yourself on every device: no notifications and no unread weight, except messages that mention you (idempotent; your sockets get `muted`)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    responses(
        Unauthenticated,
        CrossSite,
        (status = 204, description = "Muted"),
        (status = 404, description = "No such room, a DM you are not part of, or a public room you have not joined (`not_found`)", body = ErrorBody),
    )
)]
async fn mute(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<StatusCode> {
    muting::set(&state, user.user.id, &room, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/rooms/{room}/mute",
    tag = "rooms",
    summary = "Unmute a conversation (idempotent; your sockets get `unmuted`)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    responses(
        Unauthenticated,
        CrossSite,
        (status = 204, description = "Unmuted"),
        (status = 404, description = "No such room, a DM you are not part of, or a public room you have not joined (`not_found`)", body = ErrorBody),
    )
)]
async fn unmute(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<StatusCode> {
    muting::set(&state, user.user.id, &room, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
