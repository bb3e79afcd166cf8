//! REST routes of messages: history and posting in any conversation one can
//! read, changes to a message, and search. Each parses its input and calls
//! the service (`messages`), which holds every rule.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::history::{parse_page, Param};
use super::search::{DEFAULT_RESULTS, MAX_RESULTS};
use crate::auth::CurrentUser;
use crate::domain::RoomId;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Author, MessageEnvelope, MessagesEnvelope};
use crate::web::extract::{limit_param, message_id, ApiJson, ApiPath, ApiQuery, RoomPath};

/// The message routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/rooms/{room}/messages",
            get(room_messages).post(post_message),
        )
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

#[derive(Deserialize)]
struct PostBody {
    text: String,
    #[serde(default)]
    client_id: Option<String>,
}

async fn post_message(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    ApiJson(body): ApiJson<PostBody>,
) -> AppResult<(StatusCode, Json<MessageEnvelope>)> {
    let client_id = super::parse_client_id(body.client_id.as_deref())?;
    let author = Author::from(&user.user);
    let message = super::post(&state, &author, &room, &body.text, client_id).await?;
    Ok((StatusCode::CREATED, Json(MessageEnvelope { message })))
}

#[derive(Deserialize)]
struct EditBody {
    text: String,
}

async fn edit_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EditBody>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::edit(&state, user.user.id, message_id(&id)?, &body.text).await?;
    Ok(Json(MessageEnvelope { message }))
}

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

async fn add_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::react(&state, user.user.id, message_id(&id)?, &emoji, true).await?;
    Ok(Json(MessageEnvelope { message }))
}

async fn remove_reaction(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, emoji)): ApiPath<(String, String)>,
) -> AppResult<Json<MessageEnvelope>> {
    let message = super::react(&state, user.user.id, message_id(&id)?, &emoji, false).await?;
    Ok(Json(MessageEnvelope { message }))
}

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
