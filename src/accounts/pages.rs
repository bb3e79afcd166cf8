//! Server-rendered pages: sign up, log in, log out and the signed-in tabs.
//! Every form works without JavaScript.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::service;
use crate::auth::csrf::form_token;
use crate::auth::device;
use crate::auth::session::{self, clear_cookie, MaybeUser};
use crate::auth::sign_out::SignOutReason;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::addresses::{local_next, redirect_to};
use crate::web::extract::ClientIp;
use crate::web::pages::{
    field_sentence, form_error_text, form_status, render, see_other, CsrfForm, FormToken, Layout,
};

/// The page routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/register", get(register_page).post(register_submit))
        .route("/logout", post(logout))
}

async fn home(MaybeUser(user): MaybeUser) -> Response {
    if user.is_some() {
        see_other("/discover", None)
    } else {
        see_other("/login", None)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf_token: String,
    username: String,
    username_error: String,
    password_error: String,
    form_error: String,
    notice: String,
    /// The notice says why this browser was signed out (not a success).
    signed_out: bool,
    /// Where to land once signed in (a local path), or "".
    next: String,
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    next: String,
    /// Why the chat page was signed out (`signed_out`): one of a fixed
    /// list, shown as its sentence; anything else shows nothing.
    #[serde(default)]
    reason: String,
}

async fn login_page(
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    if user.is_some() {
        return redirect_to(local_next(&query.next).unwrap_or("/discover"));
    }
    let (csrf_token, cookie) = form_token(None, &headers, state.config.cookies_secure());
    let signed_out = SignOutReason::parse(&query.reason);
    let page = LoginPage {
        layout: Layout::new("Log in", "login", None),
        csrf_token,
        username: String::new(),
        username_error: String::new(),
        password_error: String::new(),
        form_error: String::new(),
        signed_out: signed_out.is_some(),
        notice: match (signed_out, query.done.as_str()) {
            (Some(reason), _) => reason.sentence(),
            (None, "deleted") => "Your account was deleted.",
            (None, "reset") => "Your password was changed. Log in with the new one.",
            _ => "",
        }
        .to_owned(),
        next: local_next(&query.next).unwrap_or_default().to_owned(),
    };
    render(StatusCode::OK, page, cookie)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

impl FormToken for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let devices = device::tokens(&headers);
    let result = match service::login(&state, ip, &form.username, &form.password, &devices).await {
        Ok(signed_in) => {
            let landing = local_next(&form.next).unwrap_or("/discover");
            signed_in_response(&state, &headers, signed_in, landing).await
        }
        Err(err) => Err(err),
    };
    match result {
        Ok(response) => response,
        Err(err) => {
            let (csrf_token, cookie) = form_token(None, &headers, state.config.cookies_secure());
            let mut page = LoginPage {
                layout: Layout::new("Log in", "login", None),
                csrf_token,
                username: form.username,
                username_error: String::new(),
                password_error: String::new(),
                form_error: String::new(),
                notice: String::new(),
                signed_out: false,
                next: local_next(&form.next).unwrap_or_default().to_owned(),
            };
            match &err {
                AppError::Validation(fields) => {
                    for (field, reason) in fields {
                        let text = field_sentence(field, reason);
                        match field.as_str() {
                            "username" => page.username_error = text,
                            "password" => page.password_error = text,
                            _ => page.form_error = text,
                        }
                    }
                }
                AppError::InvalidCredentials => {
                    page.form_error = "Wrong username or password.".to_owned()
                }
                AppError::AccountSuspended => {
                    page.form_error =
                        "This account is suspended. Contact an administrator.".to_owned()
                }
                other => page.form_error = form_error_text(other),
            }
            render(form_status(&err), page, cookie)
        }
    }
}

/// To the chat (or the local `landing` the login page was given) with a new
/// session, the browser remembered as a trusted device of the account.
async fn signed_in_response(
    state: &AppState,
    headers: &HeaderMap,
    signed_in: service::SignedIn,
    landing: &str,
) -> Result<Response, AppError> {
    let (_, cookie) = session::start(state, headers, signed_in.user.id).await?;
    let mut response = redirect_to(landing);
    response.headers_mut().append(SET_COOKIE, cookie);
    response
        .headers_mut()
        .append(SET_COOKIE, signed_in.device_cookie);
    Ok(response)
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    csrf_token: String,
    username: String,
    email: String,
    username_error: String,
    password_error: String,
    email_error: String,
    form_error: String,
}

async fn register_page(
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    if user.is_some() {
        return see_other("/discover", None);
    }
    let (csrf_token, cookie) = form_token(None, &headers, state.config.cookies_secure());
    let page = RegisterPage {
        layout: Layout::new("Sign up", "register", None),
        csrf_token,
        ..Default::default()
    };
    render(StatusCode::OK, page, cookie)
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    email: String,
}

impl FormToken for RegisterForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn register_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Response {
    let outcome = service::register(
        &state,
        ip,
        &form.username,
        &form.password,
        Some(&form.email),
        &device::tokens(&headers),
    )
    .await;
    let result = match outcome {
        Ok(signed_in) => signed_in_response(&state, &headers, signed_in, "/discover").await,
        Err(err) => Err(err),
    };
    match result {
        Ok(response) => response,
        Err(err) => {
            let (csrf_token, cookie) = form_token(None, &headers, state.config.cookies_secure());
            let mut page = RegisterPage {
                layout: Layout::new("Sign up", "register", None),
                csrf_token,
                username: form.username,
                email: form.email,
                ..Default::default()
            };
            match &err {
                AppError::Validation(fields) => {
                    for (field, reason) in fields {
                        let text = field_sentence(field, reason);
                        match field.as_str() {
                            "username" => page.username_error = text,
                            "password" => page.password_error = text,
                            "email" => page.email_error = text,
                            _ => page.form_error = text,
                        }
                    }
                }
                AppError::UsernameTaken => {
                    page.username_error = "That username is already taken.".into()
                }
                AppError::EmailTaken => {
                    page.email_error = "That email address is already in use.".into()
                }
                other => page.form_error = form_error_text(other),
            }
            render(form_status(&err), page, cookie)
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

impl FormToken for LogoutForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Logs out. Signed out already (the session expired meanwhile): simply
/// back to the login page, whatever the form carried.
async fn logout(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LogoutForm>,
) -> Response {
    if let Some(current) = &user {
        if !crate::auth::csrf::verify_form_token(user.as_ref(), &headers, form.csrf_token()) {
            return crate::web::pages::stale_form(user.as_ref(), &headers);
        }
        if let Err(err) = super::sessions::end(&state, current.session.id).await {
            return err.into_response();
        }
    }
    see_other("/login", Some(clear_cookie(state.config.cookies_secure())))
}
