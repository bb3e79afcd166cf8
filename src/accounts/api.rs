//! JSON API routes for accounts (`/api/v1/auth/*`, `/api/v1/me*`, `/api/v1/users/*`).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use super::{profile, recovery, service};
use crate::auth::session::{self, clear_cookie, CurrentUser, MaybeUser};
use crate::db::{rfc3339, tokens, users};
use crate::domain::avatar::MAX_UPLOAD_BYTES;
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{OwnUser, PublicUser, UserEnvelope};
use crate::web::extract::{ApiJson, ApiPath, ClientIp};

/// The account routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/forgot-password", post(forgot_password))
        .route("/api/v1/auth/reset-password", post(reset_password))
        .route("/api/v1/auth/verify-email", post(verify_email))
        .route("/api/v1/me", get(me).delete(delete_me))
        .route("/api/v1/me/password", put(change_password))
        .route("/api/v1/me/email", put(change_email))
        .route("/api/v1/me/pending-email", delete(cancel_email_change))
        .route(
            "/api/v1/me/avatar",
            put(upload_avatar)
                .delete(remove_avatar)
                .layer(DefaultBodyLimit::max(AVATAR_BODY_LIMIT)),
        )
        .route("/api/v1/me/sessions", get(list_sessions))
        .route("/api/v1/me/sessions/{id}", delete(end_session))
        .route("/api/v1/users/{username}", get(user_by_name))
}

/// Multipart bodies may be a little larger than the 5 MiB photo they carry.
pub const AVATAR_BODY_LIMIT: usize = MAX_UPLOAD_BYTES + 256 * 1024;

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
    let user = service::register(
        &state,
        ip,
        &body.username,
        &body.password,
        body.email.as_deref(),
    )
    .await?;
    let (_, cookie) = session::start(&state, &headers, user.id).await?;
    Ok((
        StatusCode::CREATED,
        [(SET_COOKIE, cookie)],
        Json(UserEnvelope {
            user: PublicUser::from(&user),
        }),
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
    Ok((
        [(SET_COOKIE, cookie)],
        Json(UserEnvelope {
            user: PublicUser::from(&user),
        }),
    )
        .into_response())
}

async fn logout(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
) -> AppResult<Response> {
    if let Some(current) = current {
        super::sessions::end(&state, current.session.id).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, clear_cookie(state.config.cookies_secure()))],
    )
        .into_response())
}

async fn me(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    own_user(&state, &current.user).await
}

/// Anyone may look a username up (registration tells whether one is taken
/// anyway); roles are shown to signed-in people only, and suspension to
/// nobody.
async fn user_by_name(
    State(state): State<AppState>,
    MaybeUser(viewer): MaybeUser,
    ApiPath(username): ApiPath<String>,
) -> AppResult<Json<UserEnvelope<PublicUser>>> {
    let username = Username::parse(&username).map_err(|_| AppError::NotFound)?;
    let user = users::find_by_username(&state.db, username.as_str())
        .await?
        .ok_or(AppError::NotFound)?;
    let user = match viewer {
        Some(_) => PublicUser::from(&user),
        None => PublicUser::from(&user).for_anyone(),
    };
    Ok(Json(UserEnvelope { user }))
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<EmailBody>,
) -> AppResult<StatusCode> {
    recovery::forgot_password(&state, ip, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    new_password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> AppResult<StatusCode> {
    recovery::reset_password(&state, &body.token, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn verify_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<StatusCode> {
    profile::verify_email(&state, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PasswordChangeBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> AppResult<StatusCode> {
    profile::change_password(&state, &current, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct EmailChangeBody {
    email: String,
    current_password: String,
}

async fn change_email(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<EmailChangeBody>,
) -> AppResult<StatusCode> {
    profile::request_email_change(&state, &current.user, &body.email, &body.current_password)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn cancel_email_change(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<StatusCode> {
    profile::cancel_email_change(&state, &current.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the `photo` field of a multipart body.
pub async fn read_photo(mut multipart: Multipart) -> AppResult<Bytes> {
    let multipart_error = |err: axum::extract::multipart::MultipartError| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("photo") {
            let bytes = field.bytes().await.map_err(multipart_error)?;
            if bytes.is_empty() {
                return Err(AppError::field("photo", "choose an image file"));
            }
            if bytes.len() > MAX_UPLOAD_BYTES {
                return Err(AppError::TooLarge);
            }
            return Ok(bytes);
        }
    }
    Err(AppError::field("photo", "choose an image file"))
}

async fn own_user(state: &AppState, user: &users::User) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let pending = tokens::pending_email(&state.db, user.id).await?;
    Ok(Json(UserEnvelope {
        user: OwnUser::new(user, pending),
    }))
}

async fn upload_avatar(
    State(state): State<AppState>,
    current: CurrentUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let multipart = multipart.map_err(|_| {
        AppError::UnsupportedMediaType("send the photo as multipart/form-data".into())
    })?;
    let _reading = profile::upload_slot().await?;
    let bytes = read_photo(multipart).await?;
    let user = profile::set_avatar(&state, &current.user, bytes).await?;
    own_user(&state, &user).await
}

async fn remove_avatar(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let user = profile::remove_avatar(&state, &current.user).await?;
    own_user(&state, &user).await
}

#[derive(Deserialize)]
struct DeleteBody {
    current_password: String,
}

async fn delete_me(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<DeleteBody>,
) -> AppResult<Response> {
    profile::delete_account(&state, &current.user, &body.current_password).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, clear_cookie(state.config.cookies_secure()))],
    )
        .into_response())
}

#[derive(serde::Serialize)]
struct SessionView {
    id: i64,
    current: bool,
    user_agent: String,
    device: String,
    created_at: String,
    last_seen_at: String,
}

async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<serde_json::Value>> {
    let sessions: Vec<SessionView> = profile::list_sessions(&state, &current.user)
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            current: s.id == current.session.id,
            device: profile::describe_device(&s.user_agent),
            user_agent: s.user_agent,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
        })
        .collect();
    Ok(Json(serde_json::json!({ "sessions": sessions })))
}

async fn end_session(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    profile::end_session(&state, &current.user, id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if id == current.session.id {
        response
            .headers_mut()
            .insert(SET_COOKIE, clear_cookie(state.config.cookies_secure()));
    }
    Ok(response)
}
