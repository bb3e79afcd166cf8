//! Who can read a conversation, found by part of their name
//! (docs/rooms.md, "Members"): what the page's @-autocomplete offers, so a
//! mention it suggests is one that reaches its reader.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::access::may_read;
use crate::auth::CurrentUser;
use crate::db::{self, users::User};
use crate::domain::RoomId;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{PublicUser, UsersEnvelope};
use crate::web::api_doc::{ErrorBody, Unauthenticated};
use crate::web::extract::{limit_param, ApiQuery, RoomPath};

use crate::people::{needle, DEFAULT_LIST, MAX_LIST};

/// The people who may read `room` (everyone for the global room, the
/// members of a public room, the two people of a DM) whose username
/// contains `q`, those starting with it first. Only a reader may ask:
/// anyone else is answered 404, as for a conversation that does not exist
/// (a public room not joined included: its members are for its members).
/// Access is checked before the query (`limit` as parsed, or why not), so
/// a bad query says nothing about a conversation one may not read.
pub async fn find(
    state: &AppState,
    me: i64,
    room: &RoomId,
    q: &str,
    limit: Result<i64, AppError>,
) -> Result<Vec<User>, AppError> {
    match may_read(&state.db, me, room).await {
        Ok(()) => {}
        Err(AppError::Forbidden(_)) => return Err(AppError::NotFound),
        Err(err) => return Err(err),
    }
    let limit = limit?;
    let needle = needle(q)?;
    Ok(match room {
        RoomId::Global => db::people::find(&state.db, &needle, limit).await?,
        _ => db::people::find_in_room(&state.db, &room.to_string(), &needle, limit).await?,
    })
}

/// The members route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[utoipa::path(
    get,
    path = "/api/v1/rooms/{room}/members",
    tag = "rooms",
    summary = "People who can read a conversation, by part of their username (prefix matches first): everyone for `global`, a public room's members, a DM's two people",
    security(("sessionCookie" = [])),
    params(
        ("room" = String, Path, description = "A conversation id you may read; any other (a DM of others, a public room you have not joined, one that does not exist) is 404"),
        ("q" = Option<String>, Query, description = "Case-insensitive part of a username (at most 32 characters, no control characters); absent or empty lists everyone"),
        ("limit" = Option<i64>, Query, minimum = 1, description = "1–50 (larger is capped), default 20"),
    ),
    responses(
        Unauthenticated,
        (status = 200, description = "People", body = UsersEnvelope),
        (status = 404, description = "Not a conversation you may read (`not_found`)", body = ErrorBody),
        (status = 422, description = "`validation_failed` (`fields.q` or `fields.limit`)", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    query: ApiQuery,
) -> AppResult<Json<UsersEnvelope>> {
    let limit = limit_param(&query, DEFAULT_LIST, MAX_LIST);
    let q = query.get("q").map(String::as_str).unwrap_or("");
    let found = find(&state, user.user.id, &room, q, limit).await?;
    let users = found.iter().map(PublicUser::from).collect();
    Ok(Json(UsersEnvelope { users }))
}
