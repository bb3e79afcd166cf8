//! JSON API routes for accounts (`/api/v1/auth/*`, `/api/v1/me*`, `/api/v1/users/*`).

use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::service;
use crate::auth::session::{self, clear_cookie, CurrentUser, MaybeUser};
use crate::db::{sessions, tokens, users};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{OwnUser, PublicUser, UserEnvelope};
use crate::web::extract::{ApiJson, ClientIp};

/// The account routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/users/{username}", get(user_by_name))
}

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<Response> {
    let user = service::register(&state, ip, &body.username, &body.password, body.email.as_deref()).await?;
    let (_, cookie) = session::start(&state, &headers, user.id).await?;
    Ok((
        StatusCode::CREATED,
        [(SET_COOKIE, cookie)],
        Json(UserEnvelope { user: PublicUser::from(&user) }),
    )
        .into_response())
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Response> {
    let user = service::login(&state, ip, &body.username, &body.password).await?;
    let (_, cookie) = session::start(&state, &headers, user.id).await?;
    Ok(([(SET_COOKIE, cookie)], Json(UserEnvelope { user: PublicUser::from(&user) })).into_response())
}

async fn logout(State(state): State<AppState>, MaybeUser(current): MaybeUser) -> AppResult<Response> {
    if let Some(current) = current {
        sessions::delete(&state.db, current.session.id).await?;
        state.chat.disconnect_sessions(&[current.session.id]).await;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, clear_cookie(state.config.cookies_secure()))],
    )
        .into_response())
}

async fn me(State(state): State<AppState>, current: CurrentUser) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let pending = tokens::pending_email(&state.db, current.user.id).await?;
    Ok(Json(UserEnvelope {
        user: OwnUser::new(&current.user, pending),
    }))
}

async fn user_by_name(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> AppResult<Json<UserEnvelope<PublicUser>>> {
    let user = users::find_by_username(&state.db, &username)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(UserEnvelope {
        user: PublicUser::from(&user),
    }))
}
