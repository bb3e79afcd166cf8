//! REST routes for conversations (docs/rooms.md).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::service;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{RoomEnvelope, RoomsEnvelope};
use crate::web::extract::ApiJson;

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

/// The `{room}` of a path, normalised (see [`super::normalize`]).
pub struct RoomPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RoomPath {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(room) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        Ok(RoomPath(super::normalize(&room)))
    }
}

/// A `limit` query parameter: absent → default; otherwise 1…max.
pub fn parse_limit(raw: Option<&String>, default: i64, max: i64) -> Result<i64, AppError> {
    match raw.map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(AppError::field(
                "limit",
                format!("must be between 1 and {max}"),
            )),
        },
    }
}

async fn directory(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Json<RoomsEnvelope>> {
    let limit = parse_limit(query.get("limit"), DEFAULT_LIST, MAX_LIST)?;
    let q = query.get("q").map(String::as_str).unwrap_or("");
    if q.chars().count() > 100 {
        return Err(AppError::field("q", "must be at most 100 characters"));
    }
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
    if body.last_read_id < 0 {
        return Err(AppError::field(
            "last_read_id",
            "must be a non-negative integer",
        ));
    }
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
