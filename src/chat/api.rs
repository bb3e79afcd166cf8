//! REST routes of the chat: history pages of any readable conversation,
//! changes to a message, and search.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::changes;
use super::history::{parse_page, Param};
use crate::auth::CurrentUser;
use crate::db::{messages, search};
use crate::error::{AppError, AppResult};
use crate::rooms::api::{parse_limit, RoomPath};
use crate::rooms::check_access;
use crate::state::AppState;
use crate::views::{MessageEnvelope, MessagesEnvelope};
use crate::web::extract::ApiJson;

/// Default and largest search page.
const DEFAULT_RESULTS: i64 = 20;
const MAX_RESULTS: i64 = 50;
/// Longest search text.
const MAX_QUERY_CHARS: usize = 200;

/// The chat routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rooms/{room}/messages", get(room_messages))
        .route(
            "/api/v1/messages/{id}",
            axum::routing::patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/v1/messages/{id}/reactions/{emoji}",
            put(add_reaction).delete(remove_reaction),
        )
        .route("/api/v1/search", get(search_messages))
}

async fn room_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Json<MessagesEnvelope>> {
    let param = |name: &str| match query.get(name) {
        Some(value) => Param::Text(value),
        None => Param::Absent,
    };
    let page = parse_page(param("before"), param("after"), param("limit"))?;
    check_access(&state.db, user.user.id, &room).await?;
    let rows = messages::page(&state.db, &room, page).await?;
    Ok(Json(MessagesEnvelope {
        messages: changes::views(&state, rows).await?,
    }))
}

/// A message id from the path: a positive integer, or 404.
fn message_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
struct EditBody {
    text: String,
}

async fn edit_message(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = changes::edit(&state, user.user.id, message_id(&id)?, &body.text).await?;
    Ok(Json(MessageEnvelope { message }))
}

async fn delete_message(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Json<MessageEnvelope>> {
    let message =
        changes::delete(&state, user.user.id, user.user.is_admin, message_id(&id)?).await?;
    Ok(Json(MessageEnvelope { message }))
}

async fn add_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, emoji)): Path<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = changes::react(&state, user.user.id, message_id(&id)?, &emoji, true).await?;
    Ok(Json(MessageEnvelope { message }))
}

async fn remove_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, emoji)): Path<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = changes::react(&state, user.user.id, message_id(&id)?, &emoji, false).await?;
    Ok(Json(MessageEnvelope { message }))
}

async fn search_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Json<MessagesEnvelope>> {
    let limit = parse_limit(query.get("limit"), DEFAULT_RESULTS, MAX_RESULTS)?;
    let text = query.get("q").map(String::as_str).unwrap_or("");
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::field(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let words = search::words(text);
    if words.is_empty() {
        return Err(AppError::field("q", "must contain a letter or a digit"));
    }
    let room = query
        .get("room")
        .map(String::as_str)
        .filter(|r| !r.is_empty());
    if let Some(room) = room {
        check_access(&state.db, user.user.id, room).await?;
    }
    let rows = search::messages(&state.db, user.user.id, room, &words, limit).await?;
    Ok(Json(MessagesEnvelope {
        messages: changes::views(&state, rows).await?,
    }))
}
