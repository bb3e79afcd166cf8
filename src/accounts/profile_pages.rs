//! The `/profile` page and its forms (each works without JavaScript).

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::api::AVATAR_BODY_LIMIT;
use super::profile;
use crate::auth::csrf::verify_form_token;
use crate::auth::session::clear_cookie;
use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339, tokens};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::avatar_url;
use crate::web::pages::{
    field_sentence, form_error_text, render, see_other, CsrfForm, FormToken, Layout, SignedIn,
    STALE_FORM,
};

/// The profile routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profile", get(show))
        .route(
            "/profile/avatar",
            post(upload_photo).layer(DefaultBodyLimit::max(AVATAR_BODY_LIMIT)),
        )
        .route("/profile/avatar/remove", post(remove_photo))
        .route("/profile/password", post(change_password))
        .route("/profile/email", post(change_email))
        .route("/profile/email/cancel", post(cancel_email))
        .route("/profile/notifications", post(change_notifications))
        .route("/profile/sessions/{id}/end", post(end_session))
        .route("/profile/delete", post(delete_account))
}

pub struct SessionRow {
    pub id: i64,
    pub current: bool,
    pub device: String,
    pub last_seen_at: String,
    pub last_seen_human: String,
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    csrf_token: String,
    username: String,
    avatar_url: String,
    has_photo: bool,
    member_since: String,
    verified_email: Option<String>,
    pending_email: Option<String>,
    sessions: Vec<SessionRow>,
    notice: String,
    form_error: String,
    photo_error: String,
    current_password_error: String,
    new_password_error: String,
    email_input: String,
    email_error: String,
    email_password_error: String,
    /// Missed-message mail is on.
    notify_on: bool,
    notify_error: String,
    delete_error: String,
}

fn ago(ms: i64) -> String {
    let secs = (now_ms() - ms).max(0) / 1000;
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

async fn build_page(state: &AppState, current: &CurrentUser) -> Result<ProfilePage, AppError> {
    let user = &current.user;
    let sessions = profile::list_sessions(state, user)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            current: s.id == current.session.id,
            device: profile::describe_device(&s.user_agent),
            last_seen_at: rfc3339(s.last_seen_at),
            last_seen_human: ago(s.last_seen_at),
        })
        .collect();
    Ok(ProfilePage {
        layout: Layout::new("Profile", "profile", Some(current)),
        csrf_token: current.session.csrf_token.clone(),
        username: user.username.clone(),
        avatar_url: avatar_url(user.id, &user.username, user.avatar_hash.as_deref()),
        has_photo: user.avatar_hash.is_some(),
        member_since: rfc3339(user.created_at)
            .get(..10)
            .unwrap_or_default()
            .to_owned(),
        verified_email: user.email.clone().filter(|_| user.email_verified),
        pending_email: tokens::pending_email(&state.db, user.id).await?,
        notify_on: user.notify_email.is_on(),
        sessions,
        ..Default::default()
    })
}

#[derive(Deserialize)]
struct NoticeQuery {
    #[serde(default)]
    done: String,
}

fn notice_text(code: &str) -> &'static str {
    match code {
        "photo" => "Your photo was updated.",
        "photo_removed" => "Your photo was removed.",
        "password" => "Your password was changed. Your other sessions were signed out.",
        "email" => "Check your inbox: we sent a link to confirm the address.",
        "email_cancelled" => "The address change was cancelled; its link no longer works.",
        "session" => "The session was ended.",
        "notifications" => "Your mail setting was saved.",
        _ => "",
    }
}

async fn show(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match build_page(&state, &current).await {
        Ok(mut page) => {
            page.notice = notice_text(&query.done).to_owned();
            render(StatusCode::OK, page, None)
        }
        Err(err) => err.into_response(),
    }
}

/// Re-renders the page after a failed form, letting `place` put the error.
async fn failed(
    state: &AppState,
    current: &CurrentUser,
    err: AppError,
    place: impl FnOnce(&mut ProfilePage, &AppError),
) -> Response {
    match build_page(state, current).await {
        Ok(mut page) => {
            match &err {
                AppError::CsrfRejected => page.form_error = STALE_FORM.into(),
                AppError::Validation(_)
                | AppError::EmailTaken
                | AppError::TooLarge
                | AppError::TooLargeThan { .. }
                | AppError::UnsupportedMediaType(_) => place(&mut page, &err),
                other => page.form_error = form_error_text(other),
            }
            render(err.status_and_code().0, page, None)
        }
        Err(err) => err.into_response(),
    }
}

fn field_text(err: &AppError, field: &str) -> String {
    match err {
        AppError::Validation(fields) => fields
            .get(field)
            .map(|reason| field_sentence(field, reason))
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

impl FormToken for TokenOnly {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn upload_photo(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let result = async {
        let multipart = multipart.map_err(|_| {
            AppError::UnsupportedMediaType("send the form as multipart/form-data".into())
        })?;
        let _reading = profile::upload_slot().await?;
        // The token travels in the multipart body; read fields in order.
        let (token, photo) = read_token_and_photo(multipart).await?;
        // A multipart form carries its token in the body: checked here.
        if !verify_form_token(Some(&current), &headers, &token) {
            return Err(AppError::CsrfRejected);
        }
        profile::set_avatar(&state, &current.user, photo).await
    }
    .await;
    match result {
        Ok(_) => see_other("/profile?done=photo", None),
        Err(err) => {
            failed(&state, &current, err, |page, err| {
                page.photo_error = match err {
                    AppError::Validation(_) => {
                        field_text(err, "photo").replace("This field", "Photo")
                    }
                    other => other.to_string(),
                }
            })
            .await
        }
    }
}

async fn read_token_and_photo(mut multipart: Multipart) -> Result<(String, Bytes), AppError> {
    let mut token = String::new();
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLargeThan {
                what: "The photo",
                limit: crate::domain::avatar::MAX_UPLOAD_BYTES as u64,
            }
        } else {
            AppError::BadRequest("malformed form".into())
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("csrf_token") => {
                token = field
                    .text()
                    .await
                    .map_err(malformed)?
                    .chars()
                    .take(128)
                    .collect();
            }
            Some("photo") => {
                let bytes = field.bytes().await.map_err(malformed)?;
                if bytes.is_empty() {
                    return Err(AppError::field("photo", "Choose an image file."));
                }
                if bytes.len() > crate::domain::avatar::MAX_UPLOAD_BYTES {
                    return Err(AppError::TooLargeThan {
                        what: "The photo",
                        limit: crate::domain::avatar::MAX_UPLOAD_BYTES as u64,
                    });
                }
                return Ok((token, bytes));
            }
            _ => {}
        }
    }
    Err(AppError::field("photo", "Choose an image file."))
}

async fn remove_photo(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Response {
    match profile::remove_avatar(&state, &current.user).await {
        Ok(_) => see_other("/profile?done=photo_removed", None),
        Err(err) => failed(&state, &current, err, |_, _| {}).await,
    }
}

async fn cancel_email(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Response {
    // Nothing pending (already cancelled, or confirmed meanwhile): the page
    // shows the state as it is now.
    match profile::cancel_email_change(&state, &current.user).await {
        Ok(()) | Err(AppError::NotFound) => see_other("/profile?done=email_cancelled", None),
        Err(err) => failed(&state, &current, err, |_, _| {}).await,
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

impl FormToken for PasswordForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn change_password(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Response {
    let result =
        profile::change_password(&state, &current, &form.current_password, &form.new_password)
            .await;
    match result {
        Ok(()) => see_other("/profile?done=password", None),
        Err(err) => {
            failed(&state, &current, err, |page, err| {
                page.current_password_error = field_text(err, "current_password");
                page.new_password_error = field_text(err, "new_password");
            })
            .await
        }
    }
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

impl FormToken for EmailForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn change_email(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Response {
    let result =
        profile::request_email_change(&state, &current, &form.email, &form.current_password).await;
    match result {
        Ok(()) => see_other("/profile?done=email", None),
        Err(err) => {
            let email = form.email.clone();
            failed(&state, &current, err, move |page, err| {
                page.email_input = email;
                match err {
                    AppError::EmailTaken => {
                        page.email_error = "That email address is already in use.".into()
                    }
                    _ => {
                        page.email_error = field_text(err, "email");
                        page.email_password_error = field_text(err, "current_password");
                    }
                }
            })
            .await
        }
    }
}

#[derive(Deserialize)]
struct NotificationsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    notify_email: String,
}

impl FormToken for NotificationsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn change_notifications(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Response {
    match profile::set_notify_email(&state, &current.user, &form.notify_email).await {
        Ok(_) => see_other("/profile?done=notifications", None),
        Err(err) => {
            failed(&state, &current, err, |page, err| {
                if let AppError::Validation(fields) = err {
                    if fields.contains_key("email") {
                        page.notify_error = "Choose whether to get these mails.".into();
                    }
                }
            })
            .await
        }
    }
}

async fn end_session(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return failed(&state, &current, AppError::NotFound, |_, _| {}).await;
    };
    match profile::end_session(&state, &current.user, id).await {
        Ok(()) if id == current.session.id => {
            see_other("/login", Some(clear_cookie(state.config.cookies_secure())))
        }
        Ok(()) => see_other("/profile?done=session", None),
        Err(err) => failed(&state, &current, err, |_, _| {}).await,
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current_password: String,
}

impl FormToken for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn delete_account(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Response {
    let result = profile::delete_account(&state, &current, &form.current_password).await;
    match result {
        Ok(()) => see_other(
            "/login?done=deleted",
            Some(clear_cookie(state.config.cookies_secure())),
        ),
        Err(err) => {
            failed(&state, &current, err, |page, err| {
                page.delete_error = field_text(err, "current_password");
            })
            .await
        }
    }
}
