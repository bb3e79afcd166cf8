//! What every server-rendered page shares: the layout, redirects and
//! rendering, human error texts, and two extractors — [`SignedIn`] (a
//! signed-out visitor is sent to `/login`) and [`CsrfForm`] (a form whose
//! token does not match is answered 403 with a page that says so) — so no
//! page handler checks either by itself.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{LOCATION, REFERER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::de::DeserializeOwned;

use crate::auth::csrf::verify_form_token;
use crate::auth::session::{self, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::PublicUser;
use crate::web::assets;

/// What the base layout shows.
#[derive(Default)]
pub struct Layout {
    pub title: &'static str,
    pub tab: &'static str,
    pub user: Option<PublicUser>,
    pub css_v: String,
    pub icon_v: String,
}

impl Layout {
    pub fn new(title: &'static str, tab: &'static str, user: Option<&CurrentUser>) -> Self {
        Layout {
            title,
            tab,
            user: user.map(|u| PublicUser::from(&u.user)),
            css_v: assets::version("css/app.css"),
            icon_v: assets::version("favicon.svg"),
        }
    }
}

/// A 303 redirect, optionally setting a cookie.
pub fn see_other(location: &'static str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(location));
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// Renders a page with a status, adding the form cookie when one was issued.
pub fn render(
    status: StatusCode,
    page: impl IntoResponse,
    cookie: Option<HeaderValue>,
) -> Response {
    let mut response = (status, page).into_response();
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The message shown when a form's token does not match.
pub const STALE_FORM: &str = "This form expired. Please try again.";

/// A human message for errors that are not about one field.
pub fn form_error_text(err: &AppError) -> String {
    match err {
        AppError::RateLimited { .. } => err.to_string(),
        AppError::Internal(_) | AppError::Unavailable(_) => {
            "Something went wrong on our side. Please try again.".into()
        }
        other => other.to_string(),
    }
}

/// The status a failed form is answered with.
pub fn form_status(err: &AppError) -> StatusCode {
    err.status_and_code().0
}

/// The sentence shown next to a field for a 422 reason: a reason written
/// as a sentence already ("That is not your current password.") is shown
/// as it is; a short one ("must be 8 to 256 characters") follows the
/// field's label.
pub fn field_sentence(field: &str, reason: &str) -> String {
    if reason.starts_with(|c: char| c.is_uppercase()) {
        if reason.ends_with(['.', '?', '!']) {
            reason.to_owned()
        } else {
            format!("{reason}.")
        }
    } else {
        format!("{} {reason}.", field_label(field))
    }
}

/// The visible name of a form field, for error sentences.
pub fn field_label(field: &str) -> &'static str {
    match field {
        "username" => "Username",
        "password" | "new_password" => "Password",
        "current_password" => "Current password",
        "email" => "Email",
        _ => "This field",
    }
}

/// A signed-in visitor of a page; anyone else is sent to `/login`.
pub struct SignedIn(pub CurrentUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session::lookup(parts, state).await {
            Ok(Some(user)) => Ok(SignedIn(user)),
            Ok(None) => Err(see_other("/login", None)),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// A submitted form that carries a CSRF token.
pub trait FormToken {
    /// The token the form carried.
    fn csrf_token(&self) -> &str;
}

/// A form whose token is the visitor's (their session's, or their form
/// cookie's before sign-in). Otherwise the answer is 403 and a page saying
/// the form expired, with a link back to it.
pub struct CsrfForm<T>(pub T);

impl<T> FromRequest<AppState> for CsrfForm<T>
where
    T: DeserializeOwned + FormToken + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = session::lookup(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !verify_form_token(user.as_ref(), &headers, form.csrf_token()) {
            return Err(stale_form(user.as_ref(), &headers));
        }
        Ok(CsrfForm(form))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "stale_form.html")]
struct StaleFormPage {
    layout: Layout,
    message: &'static str,
    back: String,
}

/// 403 and a page: the form expired, with a link back to the page it was
/// on (when the browser said so and it is one of ours).
pub fn stale_form(user: Option<&CurrentUser>, headers: &HeaderMap) -> Response {
    let back = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|url| url.path().to_owned())
        .filter(|path| path.starts_with('/') && !path.starts_with("//"))
        .unwrap_or_else(|| "/".to_owned());
    let page = StaleFormPage {
        layout: Layout::new("Form expired", "", user),
        message: STALE_FORM,
        back,
    };
    render(StatusCode::FORBIDDEN, page, None)
}
