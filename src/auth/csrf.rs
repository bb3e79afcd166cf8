//! Cross-site request forgery defences: an origin check on every
//! state-changing request, and a per-session token in HTML forms.

use axum::extract::{Request, State};
use axum::http::header::{ORIGIN, REFERER};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::secret;
use super::session::{cookie_value, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

/// Cookie carrying the form token of signed-out visitors (double submit).
pub const FORM_COOKIE: &str = "chatroom_csrf";

/// Whether a request's browser headers say it came from our own origin.
/// Requests without any of these headers (non-browser clients) pass.
pub fn same_origin(headers: &HeaderMap, our_origin: &str) -> bool {
    if let Some(origin) = headers.get(ORIGIN) {
        return origin.to_str().is_ok_and(|o| o == our_origin);
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    if let Some(referer) = headers.get(REFERER) {
        return referer
            .to_str()
            .ok()
            .and_then(|r| url::Url::parse(r).ok())
            .is_some_and(|url| url.origin().ascii_serialization() == our_origin);
    }
    true
}

/// Rejects state-changing requests that a browser sent from another site.
/// One-click unsubscribe links (`/unsubscribe/{token}`) pass from anywhere:
/// the token in the path authorizes them, not a cookie, and another site
/// cannot know it (a mail client may post from its own origin).
pub async fn origin_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.uri().path().starts_with("/unsubscribe/");
    if !safe && !same_origin(request.headers(), &state.config.public_origin()) {
        return AppError::CsrfRejected.into_response();
    }
    next.run(request).await
}

/// The token a form must carry, and a `Set-Cookie` when a signed-out visitor
/// needs one issued.
pub fn form_token(
    user: Option<&CurrentUser>,
    headers: &HeaderMap,
    secure: bool,
) -> (String, Option<HeaderValue>) {
    if let Some(user) = user {
        return (user.session.csrf_token.clone(), None);
    }
    if let Some(existing) = cookie_value(headers, FORM_COOKIE).filter(|t| t.len() == 43) {
        return (existing.to_owned(), None);
    }
    let token = secret::random_token();
    let secure = if secure { "; Secure" } else { "" };
    let cookie = HeaderValue::from_str(&format!(
        "{FORM_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}"
    ))
    .ok();
    (token, cookie)
}

/// Whether a submitted form token is one issued to this visitor: their
/// session's, or (for forms rendered while signed out) their form cookie's.
pub fn verify_form_token(user: Option<&CurrentUser>, headers: &HeaderMap, submitted: &str) -> bool {
    if submitted.is_empty() {
        return false;
    }
    let session_token = user.map(|u| u.session.csrf_token.as_str());
    let cookie_token = cookie_value(headers, FORM_COOKIE);
    [session_token, cookie_token]
        .into_iter()
        .flatten()
        .any(|expected| !expected.is_empty() && secret::equal(expected, submitted))
}
