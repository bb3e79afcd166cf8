//! Server-side sessions: an opaque random id in the `chatroom_session` cookie,
//! its hash in the database.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::secret;
use crate::db::sessions::{self, Session, IDLE_LIFETIME_MS};
use crate::db::users::User;
use crate::error::AppError;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "chatroom_session";

/// A signed-in request: the user and the session it came with.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: Session,
}

/// A request that may or may not be signed in.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

/// The value of a cookie in the request headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Looks the request's session up (once per request).
pub async fn lookup(parts: &mut Parts, state: &AppState) -> Result<Option<CurrentUser>, AppError> {
    if let Some(cached) = parts.extensions.get::<MaybeUser>() {
        return Ok(cached.0.clone());
    }
    let found = match cookie_value(&parts.headers, COOKIE_NAME) {
        Some(token) if !token.is_empty() && token.len() <= 128 => {
            sessions::find_active(&state.db, &secret::hash_token(token))
                .await?
                .map(|(session, user)| CurrentUser { user, session })
        }
        _ => None,
    };
    parts.extensions.insert(MaybeUser(found.clone()));
    Ok(found)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        lookup(parts, state).await?.ok_or(AppError::Unauthenticated)
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(MaybeUser(lookup(parts, state).await?))
    }
}

/// Creates a session for the user and returns the `Set-Cookie` value. Any
/// session the request came with is ended first (id rotation at login).
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
) -> Result<(Session, HeaderValue), AppError> {
    if let Some(old) = cookie_value(headers, COOKIE_NAME) {
        if let Some((old_session, _)) =
            sessions::find_active(&state.db, &secret::hash_token(old)).await?
        {
            sessions::delete(&state.db, old_session.id).await?;
        }
    }
    let token = secret::random_token();
    let user_agent: String = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(400)
        .collect();
    let session = sessions::create(
        &state.db,
        user_id,
        &secret::hash_token(&token),
        &secret::random_token(),
        &user_agent,
    )
    .await?;
    let cookie = session_cookie(&token, state.config.cookies_secure());
    Ok((session, cookie))
}

/// `Set-Cookie` for a session token.
pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    let max_age = IDLE_LIFETIME_MS / 1000;
    let secure = if secure { "; Secure" } else { "" };
    let value =
        format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}
