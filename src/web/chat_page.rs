//! The chat page (`/discover`, docs/page.md): the server-rendered shell
//! whose ES modules run the live chat, opened at the global room or, from
//! [`crate::web::addresses`], at a conversation or one of its messages.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::session::CurrentUser;
use crate::state::AppState;
use crate::web::addresses::Opening;
use crate::web::assets;
use crate::web::pages::{render, Layout, SignedIn};

#[derive(Template, WebTemplate)]
#[template(path = "discover.html")]
struct DiscoverPage {
    layout: Layout,
    me_id: i64,
    /// The session's public id (as `GET /api/v1/me/sessions` lists it):
    /// drafts kept by an earlier session of this browser are dropped.
    me_session: i64,
    me_username: String,
    me_is_admin: bool,
    sio_v: String,
    /// The import map of the chat page's ES modules (raw JSON, inlined
    /// unescaped; allowed by the CSP by its hash).
    import_map: &'static str,
    /// The versioned URL of the module entry (`main.js`).
    entry: &'static str,
    /// [`crate::web::client_config`] as JSON, for the page's scripts.
    config_json: String,
    /// The same rules for the page's own form fields (`maxlength`, hints).
    max_message_chars: usize,
    room_name_min: usize,
    room_name_max: usize,
    max_topic_chars: usize,
    /// Where the page opens ([`Opening`]): a conversation id, and a message
    /// id and its thread's root, or ""; whether it is a room to join first.
    open_room: String,
    open_message: String,
    open_thread: String,
    open_preview: bool,
}

/// `GET /discover`: the global room.
pub async fn discover(State(state): State<AppState>, SignedIn(current): SignedIn) -> Response {
    chat_page(&state, &current, Opening::global())
}

/// The chat page, opened at a conversation (docs/page.md#addresses). Its
/// scripts are ES modules: [`crate::web::import_map`] finds them (every
/// embedded `static/js/chat/*.js`) and builds the import map once.
pub fn chat_page(state: &AppState, current: &CurrentUser, opening: Opening) -> Response {
    use crate::domain::{message_text, room_name};
    let modules = crate::web::import_map::chat_modules();
    let shown = |id: Option<i64>| id.map(|id| id.to_string()).unwrap_or_default();
    let page = DiscoverPage {
        layout: Layout::new("Discover", "discover", Some(current)),
        me_id: current.user.id,
        me_session: current.session.id,
        me_username: current.user.username.clone(),
        me_is_admin: current.user.is_admin,
        sio_v: assets::version("vendor/socket.io/socket.io.min.js"),
        import_map: &modules.import_map,
        entry: &modules.entry,
        config_json: crate::web::client_config(state.config.max_upload).to_string(),
        max_message_chars: message_text::MAX_CHARS,
        room_name_min: room_name::MIN_NAME,
        room_name_max: room_name::MAX_NAME,
        max_topic_chars: room_name::MAX_TOPIC,
        open_room: opening.room.to_string(),
        open_message: shown(opening.message),
        open_thread: shown(opening.thread),
        open_preview: opening.preview,
    };
    render(StatusCode::OK, page, None)
}
