//! JSON API routes for accounts (`/api/v1/auth/*`, `/api/v1/me*`, `/api/v1/users/*`).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{profile, recovery, service};
use crate::auth::device;
use crate::auth::session::{self, clear_cookie, CurrentUser, MaybeUser};
use crate::db::{rfc3339, tokens, users};
use crate::domain::avatar::MAX_UPLOAD_BYTES;
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{OwnUser, PublicUser, UserEnvelope};
use crate::web::api_doc::{
    BodyErrors, CrossSite, ErrorBody, NotFound, RateLimited, Unauthenticated,
};
use crate::web::extract::{ApiJson, ApiPath, ClientIp};

/// The account routes of the API, each described by its handler.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(verify_email))
        .routes(routes!(me, delete_me))
        .routes(routes!(change_password))
        .routes(routes!(change_email))
        .routes(routes!(cancel_email_change))
        .routes(routes!(set_notifications))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_avatar, remove_avatar))
                .layer(DefaultBodyLimit::max(AVATAR_BODY_LIMIT)),
        )
        .routes(routes!(list_sessions))
        .routes(routes!(end_session))
        .routes(routes!(user_by_name))
}

/// Multipart bodies may be a little larger than the 5 MiB photo they carry.
pub const AVATAR_BODY_LIMIT: usize = MAX_UPLOAD_BYTES + 256 * 1024;

#[derive(Deserialize, ToSchema)]
struct RegisterBody {
    /// 3–32 of `A–Z a–z 0–9 _ . -`, unique case-insensitively.
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    username: String,
    /// 8–256 characters, not too guessable, not containing the username.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    /// Optional; a verification link is mailed to it.
    #[serde(default)]
    #[schema(format = Email)]
    email: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    summary = "Create an account and sign in",
    request_body = RegisterBody,
    responses(
        BodyErrors,
        RateLimited,
        (status = 201, description = "Created and signed in", body = UserEnvelope<PublicUser>,
            headers(("Set-Cookie" = String, description = "chatroom_session=…, and chatroom_device=… (this browser becomes a trusted device of the account)"))),
        (status = 409, description = "`username_taken` or `email_taken`", body = ErrorBody),
    )
)]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> AppResult<Response> {
    let service::SignedIn {
        user,
        device_cookie,
    } = service::register(
        &state,
        ip,
        &body.username,
        &body.password,
        body.email.as_deref(),
        &device::tokens(&headers),
    )
    .await?;
    let (_, cookie) = session::start(&state, &headers, user.id).await?;
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(SET_COOKIE, cookie), (SET_COOKIE, device_cookie)]),
        Json(UserEnvelope {
            user: PublicUser::from(&user),
        }),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    username: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in with a username or a verified email",
    request_body = LoginBody,
    responses(
        BodyErrors,
        RateLimited,
        (status = 200, description = "Signed in", body = UserEnvelope<PublicUser>,
            headers(("Set-Cookie" = String, description = "chatroom_session=…, and chatroom_device=… (this browser becomes a trusted device of the account)"))),
        (status = 401, description = "Wrong username or password (`unauthenticated`)", body = ErrorBody),
        (status = 403, description = "A request from another site (`csrf_rejected`), or a suspended account (`account_suspended`)", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> AppResult<Response> {
    let service::SignedIn {
        user,
        device_cookie,
    } = service::login(
        &state,
        ip,
        &body.username,
        &body.password,
        &device::tokens(&headers),
    )
    .await?;
    let (_, cookie) = session::start(&state, &headers, user.id).await?;
    Ok((
        AppendHeaders([(SET_COOKIE, cookie), (SET_COOKIE, device_cookie)]),
        Json(UserEnvelope {
            user: PublicUser::from(&user),
        }),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "End this session",
    responses(CrossSite, (status = 204, description = "Signed out"))
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    summary = "The signed-in user",
    security(("sessionCookie" = [])),
    responses(Unauthenticated, (status = 200, description = "The user", body = UserEnvelope<OwnUser>))
)]
async fn me(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    own_user(&state, &current.user).await
}

/// Anyone may look a username up (registration tells whether one is taken
/// anyway); roles are shown to signed-in people only, and suspension to
/// nobody.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}",
    tag = "users",
    summary = "A user's public profile (`is_admin` only for signed-in callers)",
    params(("username" = String, Path, description = "In any letter case")),
    responses(NotFound, (status = 200, description = "The user", body = UserEnvelope<PublicUser>))
)]
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

#[derive(Deserialize, ToSchema)]
struct EmailBody {
    #[schema(format = Email)]
    email: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/forgot-password",
    tag = "auth",
    summary = "Mail a reset link to a verified address (the same answer either way)",
    request_body = EmailBody,
    responses(BodyErrors, RateLimited, (status = 202, description = "Accepted"))
)]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<EmailBody>,
) -> AppResult<StatusCode> {
    recovery::forgot_password(&state, ip, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
struct ResetBody {
    token: String,
    new_password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/reset-password",
    tag = "auth",
    summary = "Set a new password with a mailed token (ends every session and every other mailed link)",
    request_body = ResetBody,
    responses(BodyErrors, (status = 204, description = "Password changed"))
)]
async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetBody>,
) -> AppResult<StatusCode> {
    recovery::reset_password(&state, &body.token, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct TokenBody {
    token: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/verify-email",
    tag = "auth",
    summary = "Confirm an address with a mailed token",
    request_body = TokenBody,
    responses(
        BodyErrors,
        (status = 204, description = "Verified"),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    )
)]
async fn verify_email(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TokenBody>,
) -> AppResult<StatusCode> {
    profile::verify_email(&state, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct PasswordChangeBody {
    current_password: String,
    new_password: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "me",
    summary = "Change the password (ends the other sessions and every mailed link)",
    security(("sessionCookie" = [])),
    request_body = PasswordChangeBody,
    responses(Unauthenticated, BodyErrors, RateLimited, (status = 204, description = "Changed"))
)]
async fn change_password(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> AppResult<StatusCode> {
    profile::change_password(&state, &current, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct EmailChangeBody {
    #[schema(format = Email)]
    email: String,
    current_password: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/me/email",
    tag = "me",
    summary = "Ask to change the recovery address (a verification link is mailed; earlier links end)",
    security(("sessionCookie" = [])),
    request_body = EmailChangeBody,
    responses(
        Unauthenticated,
        BodyErrors,
        RateLimited,
        (status = 202, description = "Verification mailed"),
        (status = 409, description = "`email_taken`", body = ErrorBody),
    )
)]
async fn change_email(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<EmailChangeBody>,
) -> AppResult<StatusCode> {
    profile::request_email_change(&state, &current, &body.email, &body.current_password).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/pending-email",
    tag = "me",
    summary = "Cancel the address waiting for verification (its link stops working)",
    security(("sessionCookie" = [])),
    responses(
        Unauthenticated,
        CrossSite,
        NotFound,
        (status = 204, description = "Cancelled"),
    )
)]
async fn cancel_email_change(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<StatusCode> {
    profile::cancel_email_change(&state, &current.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct NotificationsBody {
    /// Mail about direct messages and mentions left unread while away
    /// (`dms_and_mentions`), or none (`off`).
    #[schema(value_type = crate::domain::NotifyEmail)]
    email: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/me/notifications",
    tag = "me",
    summary = "Choose which missed messages are mailed to the verified address",
    security(("sessionCookie" = [])),
    request_body = NotificationsBody,
    responses(
        Unauthenticated,
        BodyErrors,
        (status = 200, description = "The updated user", body = UserEnvelope<OwnUser>),
    )
)]
async fn set_notifications(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<NotificationsBody>,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let user = profile::set_notify_email(&state, &current.user, &body.email).await?;
    own_user(&state, &user).await
}

/// Reads the `photo` field of a multipart body.
pub async fn read_photo(mut multipart: Multipart) -> AppResult<Bytes> {
    let multipart_error = |err: axum::extract::multipart::MultipartError| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLargeThan {
                what: "The photo",
                limit: crate::domain::avatar::MAX_UPLOAD_BYTES as u64,
            }
        } else {
            AppError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("photo") {
            let bytes = field.bytes().await.map_err(multipart_error)?;
            if bytes.is_empty() {
                return Err(AppError::field("photo", "Choose an image file."));
            }
            if bytes.len() > MAX_UPLOAD_BYTES {
                return Err(AppError::TooLargeThan {
                    what: "The photo",
                    limit: MAX_UPLOAD_BYTES as u64,
                });
            }
            return Ok(bytes);
        }
    }
    Err(AppError::field("photo", "Choose an image file."))
}

async fn own_user(state: &AppState, user: &users::User) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let pending = tokens::pending_email(&state.db, user.id).await?;
    Ok(Json(UserEnvelope {
        user: OwnUser::new(user, pending),
    }))
}

#[utoipa::path(
    put,
    path = "/api/v1/me/avatar",
    tag = "me",
    summary = "Upload a photo: PNG, JPEG, WebP or GIF up to 5 MiB",
    security(("sessionCookie" = [])),
    request_body(content = PhotoUpload, content_type = "multipart/form-data"),
    responses(
        Unauthenticated,
        (status = 200, description = "The updated user", body = UserEnvelope<OwnUser>),
        (status = 400, description = "Malformed multipart body (`bad_request`)", body = ErrorBody),
        (status = 403, description = "A request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "Undecodable, or too many pixels (`validation_failed`)", body = ErrorBody),
        (status = 503, description = "Too many uploads at once (`unavailable`)", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`", body = ErrorBody),
    )
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/me/avatar",
    tag = "me",
    summary = "Remove the photo (back to the generated one)",
    security(("sessionCookie" = [])),
    responses(
        Unauthenticated,
        CrossSite,
        (status = 200, description = "The updated user", body = UserEnvelope<OwnUser>),
    )
)]
async fn remove_avatar(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<UserEnvelope<OwnUser>>> {
    let user = profile::remove_avatar(&state, &current.user).await?;
    own_user(&state, &user).await
}

#[derive(Deserialize, ToSchema)]
struct DeleteBody {
    current_password: String,
}

#[utoipa::path(
    delete,
    path = "/api/v1/me",
    tag = "me",
    summary = "Delete the account (messages stay, by a deleted user)",
    security(("sessionCookie" = [])),
    request_body = DeleteBody,
    responses(Unauthenticated, BodyErrors, RateLimited, (status = 204, description = "Deleted"))
)]
async fn delete_me(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiJson(body): ApiJson<DeleteBody>,
) -> AppResult<Response> {
    profile::delete_account(&state, &current, &body.current_password).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, clear_cookie(state.config.cookies_secure()))],
    )
        .into_response())
}

/// A signed-in browser or client.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
struct SessionView {
    id: i64,
    /// The session this request came with.
    current: bool,
    user_agent: String,
    /// A short description of the user agent ("Firefox on Linux").
    device: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
}

/// `{"sessions": […]}`.
#[derive(Serialize, ToSchema)]
struct SessionsEnvelope {
    sessions: Vec<SessionView>,
}

/// A photo upload.
#[derive(ToSchema)]
#[allow(dead_code)]
struct PhotoUpload {
    /// The image file.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

#[utoipa::path(
    get,
    path = "/api/v1/me/sessions",
    tag = "me",
    summary = "The user's sessions",
    security(("sessionCookie" = [])),
    responses(Unauthenticated, (status = 200, description = "Sessions", body = SessionsEnvelope))
)]
async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentUser,
) -> AppResult<Json<SessionsEnvelope>> {
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
    Ok(Json(SessionsEnvelope { sessions }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/me/sessions/{id}",
    tag = "me",
    summary = "End one of the user's sessions (and its sockets)",
    security(("sessionCookie" = [])),
    params(("id" = String, Path, description = "A session id from the list")),
    responses(Unauthenticated, CrossSite, NotFound, (status = 204, description = "Ended"))
)]
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
