//! `GET /api/v1/rooms/{room}/messages`: the same history pages over REST.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

use super::history::{parse_page, Param};
use super::GLOBAL_ROOM;
use crate::auth::CurrentUser;
use crate::db::messages;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{MessageView, MessagesEnvelope};

/// The chat routes of the API.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/rooms/{room}/messages", get(room_messages))
}

async fn room_messages(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(room): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Json<MessagesEnvelope>> {
    if room != GLOBAL_ROOM {
        return Err(AppError::NotFound);
    }
    let param = |name: &str| match query.get(name) {
        Some(value) => Param::Text(value),
        None => Param::Absent,
    };
    let page = parse_page(param("before"), param("after"), param("limit"))?;
    let rows = messages::page(&state.db, GLOBAL_ROOM, page).await?;
    Ok(Json(MessagesEnvelope {
        messages: rows.into_iter().map(MessageView::from).collect(),
    }))
}
