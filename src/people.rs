//! The people directory (docs/rooms.md, "People"): anyone signed in finds
//! anyone by part of their username, offline ones included, to open a
//! direct message or their card.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::db;
use crate::domain::username::MAX_LEN;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{PublicUser, UsersEnvelope};
use crate::web::api_doc::{ErrorBody, Unauthenticated};
use crate::web::extract::{limit_param, ApiQuery};

/// Default and largest page of people (the directory and a conversation's
/// members alike).
pub const DEFAULT_LIST: i64 = 20;
pub const MAX_LIST: i64 = 50;

/// The lower-case needle of a find box `q` (trimmed; at most a username's
/// length, no control characters, or 422 naming `q`), as the people
/// queries of `db::people` match it.
pub fn needle(q: &str) -> Result<String, AppError> {
    let q = q.trim();
    crate::domain::search_text::check(q, MAX_LEN).map_err(|reason| AppError::field("q", reason))?;
    Ok(crate::domain::comparison_key(q))
}

/// The people directory's route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(find))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    summary = "Find people: accounts whose username contains `q`, those starting with it first, then alphabetically",
    security(("sessionCookie" = [])),
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive part of a username (at most 32 characters); absent or empty lists everyone"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–50 (larger is capped), default 20"),
    ),
    responses(
        Unauthenticated,
        (status = 200, description = "People", body = UsersEnvelope),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
async fn find(
    State(state): State<AppState>,
    _user: CurrentUser,
    query: ApiQuery,
) -> AppResult<Json<UsersEnvelope>> {
    let limit = limit_param(&query, DEFAULT_LIST, MAX_LIST)?;
    let needle = needle(query.get("q").map(String::as_str).unwrap_or(""))?;
    let found = db::people::find(&state.db, &needle, limit).await?;
    let users = found.iter().map(PublicUser::from).collect();
    Ok(Json(UsersEnvelope { users }))
}
