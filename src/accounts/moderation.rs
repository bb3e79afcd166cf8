//! Moderation: suspending and reinstating accounts — by an admin over the
//! API, or by an operator with `chatroom user suspend|reinstate` (deleting
//! any message is in `messages`).

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::sign_out::SignOutReason;
use crate::auth::CurrentUser;
use crate::db::users;
use crate::db::users::User;
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::api_doc::{ErrorBody, Unauthenticated};
use crate::web::extract::ApiPath;

/// Suspends an account: its sessions end and its sockets disconnect at
/// once, everywhere; logging in is refused until it is reinstated.
pub async fn suspend_account(state: &AppState, target: &User) -> Result<(), AppError> {
    users::set_suspended(&state.db, target.id, true).await?;
    super::sessions::end_all(state, target.id, None, SignOutReason::AccountSuspended).await?;
    state
        .live
        .sign_out_user(target.id, SignOutReason::AccountSuspended)
        .await;
    tracing::info!(user = target.id, "account suspended");
    Ok(())
}

/// Lets a suspended account log in again.
pub async fn reinstate_account(state: &AppState, target: &User) -> Result<(), AppError> {
    users::set_suspended(&state.db, target.id, false).await?;
    tracing::info!(user = target.id, "account reinstated");
    Ok(())
}

/// The moderation routes of the API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(suspend, reinstate))
}

/// The account an admin acts on; 403 for anyone but an admin.
async fn target(state: &AppState, admin: &CurrentUser, username: &str) -> Result<User, AppError> {
    if !admin.user.is_admin {
        return Err(AppError::Forbidden("Only an admin can do this."));
    }
    let username = Username::parse(username).map_err(|_| AppError::NotFound)?;
    users::find_by_username(&state.db, username.as_str())
        .await?
        .ok_or(AppError::NotFound)
}

/// Suspends an account: its sessions end and its sockets disconnect at
/// once, everywhere; logging in is refused until it is reinstated.
#[utoipa::path(
    put,
    path = "/api/v1/admin/users/{username}/suspension",
    tag = "admin",
    summary = "Suspend another account (admins only): its sessions end and its sockets are disconnected everywhere",
    security(("sessionCookie" = [])),
    params(("username" = String, Path)),
    responses(
        Unauthenticated,
        (status = 204, description = "Suspended"),
        (status = 403, description = "Not an admin (`forbidden`), or a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "Unknown user (`not_found`)", body = ErrorBody),
        (status = 422, description = "Yourself (`validation_failed`)", body = ErrorBody),
    )
)]
async fn suspend(
    State(state): State<AppState>,
    admin: CurrentUser,
    ApiPath(username): ApiPath<String>,
) -> AppResult<StatusCode> {
    let target = target(&state, &admin, &username).await?;
    if target.id == admin.user.id {
        return Err(AppError::field("username", "you cannot suspend yourself"));
    }
    suspend_account(&state, &target).await?;
    tracing::info!(
        admin = admin.user.id,
        user = target.id,
        "suspended by an admin"
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/admin/users/{username}/suspension",
    tag = "admin",
    summary = "Reinstate a suspended account (admins only)",
    security(("sessionCookie" = [])),
    params(("username" = String, Path)),
    responses(
        Unauthenticated,
        (status = 204, description = "Reinstated"),
        (status = 403, description = "Not an admin (`forbidden`), or a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "Unknown user (`not_found`)", body = ErrorBody),
    )
)]
async fn reinstate(
    State(state): State<AppState>,
    admin: CurrentUser,
    ApiPath(username): ApiPath<String>,
) -> AppResult<StatusCode> {
    let target = target(&state, &admin, &username).await?;
    reinstate_account(&state, &target).await?;
    tracing::info!(
        admin = admin.user.id,
        user = target.id,
        "reinstated by an admin"
    );
    Ok(StatusCode::NO_CONTENT)
}
