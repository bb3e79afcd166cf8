//! The addresses of the chat page (docs/page.md#addresses): `/discover`
//! opens the global room, `/discover/{room}` a conversation,
//! `/discover/{room}/{message}` a message in it. Who may open what is `rooms::access`'s to say: a reader
//! gets the page, so does someone who may join the public room, everyone
//! else the ordinary 404 page, whatever the reason.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::session::MaybeUser;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::rooms::access;
use crate::state::AppState;
use crate::web::chat_page::{chat_page, discover};
use crate::web::extract::message_id;

/// Where the chat page opens: a conversation, maybe at one of its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The conversation, as its canonical id.
    pub room: RoomId,
    /// The message to show, if any.
    pub message: Option<i64>,
    /// For a reply that stays in its thread: the thread's root (the page
    /// opens the conversation there, and the thread at the reply).
    pub thread: Option<i64>,
    /// A public room `me` has not joined: the page offers to join it.
    pub preview: bool,
}

impl Opening {
    /// The global room, at its newest messages (plain `/discover`).
    pub fn global() -> Self {
        Opening {
            room: RoomId::Global,
            message: None,
            thread: None,
            preview: false,
        }
    }
}

/// The chat page's routes: `/discover` and its addresses.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/discover", get(discover))
        .route("/discover/{room}", get(conversation))
        .route("/discover/{room}/{message}", get(message))
}

async fn conversation(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(current) = user else {
        return to_login(&uri);
    };
    let opening = match path {
        Ok(Path(raw)) => open(&state, current.user.id, &raw, None).await,
        Err(_) => Err(AppError::NotFound),
    };
    answer(&state, &current, opening, uri).await
}

async fn message(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let Some(current) = user else {
        return to_login(&uri);
    };
    let opening = match path {
        Ok(Path((room, id))) => match permalink_id(&id) {
            Ok(id) => open(&state, current.user.id, &room, Some(id)).await,
            Err(err) => Err(err),
        },
        Err(_) => Err(AppError::NotFound),
    };
    answer(&state, &current, opening, uri).await
}

async fn answer(
    state: &AppState,
    current: &crate::auth::session::CurrentUser,
    opening: Result<Opening, AppError>,
    uri: Uri,
) -> Response {
    match opening {
        Ok(opening) => chat_page(state, current, opening),
        Err(AppError::NotFound) => super::not_found(uri).await,
        Err(err) => err.into_response(),
    }
}

/// What `/discover/{room}[/{message}]` opens for `me`, or 404 for anything
/// they may not see: a conversation they may read, or a public room they
/// may join (`may_read` answers 403 only for that); a message of it that is
/// not deleted.
pub async fn open(
    state: &AppState,
    me: i64,
    raw_room: &str,
    message: Option<i64>,
) -> Result<Opening, AppError> {
    let room = RoomId::parse(raw_room).ok_or(AppError::NotFound)?;
    let preview = match access::may_read(&state.db, me, &room).await {
        Ok(()) => false,
        Err(AppError::Forbidden(_)) => true,
        Err(err) => return Err(err),
    };
    let Some(id) = message else {
        return Ok(Opening {
            room,
            message: None,
            thread: None,
            preview,
        });
    };
    // The conversation is open to `me` (or to them once they join it, which
    // anyone may): its messages reveal nothing more.
    let (stored, in_room) = access::message_and_room(&state.db, id).await?;
    if in_room != room || stored.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    let thread = stored.reply_to.filter(|_| stored.in_room == 0);
    Ok(Opening {
        room,
        message: Some(id),
        thread,
        preview,
    })
}

/// A message id as the page writes it: digits only, no sign or leading
/// zero (one address per message); 404 otherwise.
fn permalink_id(raw: &str) -> Result<i64, AppError> {
    if raw.starts_with('0') || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::NotFound);
    }
    message_id(raw)
}

/// Signed out: to the login page, which comes back here afterwards.
fn to_login(uri: &Uri) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(uri.path().as_bytes()).collect();
    redirect_to(&format!("/login?next={next}"))
}

/// A 303 redirect to a path of ours (`/login` should it not fit in a header).
pub fn redirect_to(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/login"));
    response.headers_mut().insert(LOCATION, location);
    response
}

/// `next` of the login page, when it is safe to follow: a path of this
/// site (`/…`, never `//host` or `/\host`, which browsers read as another
/// host, nor a full URL), without control characters or spaces.
pub fn local_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::local_next;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_next("/discover/general"), Some("/discover/general"));
        assert_eq!(
            local_next("/discover/dm:3:5/17"),
            Some("/discover/dm:3:5/17")
        );
        for bad in [
            "",
            "discover",
            "//evil.example",
            "//evil.example/discover",
            "/\\evil.example",
            "/discover\\..\\x",
            "https://evil.example",
            "javascript:alert(1)",
            "/disc\nover",
            "/disc over",
            "\t/discover",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
    }
}
