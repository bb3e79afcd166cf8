//! REST routes for conversations (docs/rooms.md).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::service;
use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::{RoomEnvelope, RoomsEnvelope};
use crate::web::extract::{limit_param, ApiJson, ApiQuery, RoomPath};

/// Default and largest directory page.
const DEFAULT_LIST: i64 = 50;
const MAX_LIST: i64 = 100;

/// The conversation routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rooms", get(directory).post(create))
        .route("/api/v1/rooms/{room}", get(one))
        .route("/api/v1/rooms/{room}/membership", put(join).delete(leave))
        .route("/api/v1/rooms/{room}/read", put(mark_read))
        .route("/api/v1/me/rooms", get(mine))
        .route("/api/v1/dms", post(open_dm))
}

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

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    topic: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<(StatusCode, Json<RoomEnvelope>)> {
    let room = service::create(&state, user.user.id, &body.name, body.topic.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(RoomEnvelope { room })))
}

async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::get(&state, user.user.id, &room).await?;
    Ok(Json(RoomEnvelope { room }))
}

async fn join(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::join(&state, user.user.id, &room).await?;
    Ok(Json(RoomEnvelope { room }))
}

async fn leave(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
) -> AppResult<StatusCode> {
    service::leave(&state, user.user.id, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ReadBody {
    last_read_id: i64,
}

async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    ApiJson(body): ApiJson<ReadBody>,
) -> AppResult<StatusCode> {
    service::mark_read(&state, user.user.id, &room, body.last_read_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mine(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<RoomsEnvelope>> {
    let rooms = service::mine(&state, user.user.id).await?;
    Ok(Json(RoomsEnvelope { rooms }))
}

#[derive(Deserialize)]
struct DmBody {
    username: String,
}

async fn open_dm(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<DmBody>,
) -> AppResult<Json<RoomEnvelope>> {
    let room = service::open_dm(&state, user.user.id, &body.username).await?;
    Ok(Json(RoomEnvelope { room }))
}
