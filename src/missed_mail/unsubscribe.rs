//! `/unsubscribe/{token}`: the link in every missed-message mail. `POST`
//! is the one-click unsubscribe of RFC 8058 (a mail client sends it
//! without cookies; 204); `GET` shows a page with one button that posts
//! the same, so link scanners that follow links change nothing.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::extract::ApiPath;
use crate::web::pages::{render, Layout};

/// Where the links point, before the token.
pub const PATH_PREFIX: &str = "unsubscribe/";

/// The form field the page's button sends (one-click POSTs carry
/// `List-Unsubscribe=One-Click` instead).
const FROM_PAGE: (&str, &str) = ("from", "page");

/// The unsubscribe routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(show).post(unsubscribe))
}

#[derive(Template, WebTemplate)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    layout: Layout,
    token: String,
    done: bool,
    invalid: bool,
}

fn page(token: String, done: bool, invalid: bool) -> UnsubscribePage {
    let title = match (done, invalid) {
        (_, true) => "Link not valid",
        (true, _) => "Unsubscribed",
        _ => "Unsubscribe",
    };
    UnsubscribePage {
        layout: Layout::new(title, "", None),
        token,
        done,
        invalid,
    }
}

/// Whether a browser navigated here (it takes HTML before anything else).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    token: Result<ApiPath<String>, AppError>,
) -> Response {
    let checked = match token {
        Ok(ApiPath(token)) => crate::missed_mail::check_unsubscribe_token(&state, &token)
            .await
            .map(|()| token),
        Err(err) => Err(err),
    };
    match checked {
        Ok(token) => render(StatusCode::OK, page(token, false, false), None),
        // A person who opened an old or mangled link gets a page; anything
        // else the API's JSON error.
        Err(AppError::NotFound) if wants_html(&headers) => render(
            StatusCode::NOT_FOUND,
            page(String::new(), false, true),
            None,
        ),
        Err(err) => err.into_response(),
    }
}

/// Whether the body is the page's own form (then a page answers, for the
/// person who pressed the button); any other body, or none, is a mail
/// client's one-click POST.
fn from_page(headers: &HeaderMap, body: &[u8]) -> bool {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    form && url::form_urlencoded::parse(body).any(|(k, v)| (k.as_ref(), v.as_ref()) == FROM_PAGE)
}

async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    token: Result<ApiPath<String>, AppError>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let ApiPath(token) = match token {
        Ok(token) => token,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = crate::missed_mail::unsubscribe(&state, &token).await {
        return err.into_response();
    }
    if from_page(&headers, body.as_deref().unwrap_or_default()) {
        render(StatusCode::OK, page(token, true, false), None)
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}
