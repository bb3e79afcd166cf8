//! Pages for recovery and verification links: `/forgot-password`,
//! `/reset-password`, `/verify-email`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{profile, recovery};
use crate::auth::csrf::form_token;
use crate::auth::session::{CurrentUser, MaybeUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::extract::ClientIp;
use crate::web::pages::{
    field_sentence, form_error_text, render, see_other, CsrfForm, FormToken, Layout,
};

/// The recovery routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/forgot-password", get(forgot_page).post(forgot_submit))
        .route("/reset-password", get(reset_page).post(reset_submit))
        .route("/verify-email", get(verify_page))
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    layout: Layout,
    csrf_token: String,
    sent: bool,
    email: String,
    email_error: String,
    form_error: String,
}

async fn forgot_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
) -> Response {
    let (csrf_token, cookie) = form_token(user.as_ref(), &headers, state.config.cookies_secure());
    let page = ForgotPage {
        layout: Layout::new("Forgot password", "login", user.as_ref()),
        csrf_token,
        ..Default::default()
    };
    render(StatusCode::OK, page, cookie)
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

impl FormToken for ForgotForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn forgot_submit(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Response {
    let result = recovery::forgot_password(&state, ip, &form.email).await;
    let (csrf_token, cookie) = form_token(user.as_ref(), &headers, state.config.cookies_secure());
    let mut page = ForgotPage {
        layout: Layout::new("Forgot password", "login", user.as_ref()),
        csrf_token,
        email: form.email,
        ..Default::default()
    };
    let status = match result {
        Ok(()) => {
            page.sent = true;
            StatusCode::OK
        }
        Err(err) => {
            match &err {
                AppError::Validation(fields) => {
                    page.email_error = fields
                        .get("email")
                        .map(|r| field_sentence("email", r))
                        .unwrap_or_default()
                }
                other => page.form_error = form_error_text(other),
            }
            err.status_and_code().0
        }
    };
    render(status, page, cookie)
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "reset_password.html")]
struct ResetPage {
    layout: Layout,
    csrf_token: String,
    token: String,
    token_ok: bool,
    password_error: String,
    form_error: String,
    /// How long a reset link works, for the page that says it no longer does.
    link_minutes: i64,
}

impl ResetPage {
    fn new(user: Option<&CurrentUser>, csrf_token: String, token: String) -> Self {
        ResetPage {
            layout: Layout::new("Reset password", "login", user),
            csrf_token,
            token,
            token_ok: true,
            link_minutes: recovery::RESET_LIFETIME_MS / 60_000,
            ..Default::default()
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

const BAD_LINK: &str = "This link is invalid, was already used or has expired.";

/// The form to choose a new password — only for a link that still works;
/// an unknown, used or expired one gets a page saying so, with a link to
/// ask for a new one, and no form.
async fn reset_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    let (csrf_token, cookie) = form_token(user.as_ref(), &headers, state.config.cookies_secure());
    let mut page = ResetPage::new(user.as_ref(), csrf_token, query.token);
    let status = match recovery::check_reset_token(&state, &page.token).await {
        Ok(()) => StatusCode::OK,
        Err(AppError::Validation(_)) => {
            page.token_ok = false;
            page.token.clear();
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(err) => return err.into_response(),
    };
    render(status, page, cookie)
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

impl FormToken for ResetForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

async fn reset_submit(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Response {
    let result = recovery::reset_password(&state, &form.token, &form.new_password).await;
    match result {
        Ok(_) => see_other(
            "/login?done=reset",
            Some(crate::auth::session::clear_cookie(
                state.config.cookies_secure(),
            )),
        ),
        Err(err) => {
            let (csrf_token, cookie) =
                form_token(user.as_ref(), &headers, state.config.cookies_secure());
            let mut page = ResetPage::new(user.as_ref(), csrf_token, form.token);
            match &err {
                AppError::Validation(fields) if fields.contains_key("token") => {
                    page.token_ok = false;
                    page.token.clear();
                }
                AppError::Validation(fields) => {
                    page.password_error = fields
                        .get("new_password")
                        .map(|r| field_sentence("new_password", r))
                        .unwrap_or_default()
                }
                other => page.form_error = form_error_text(other),
            }
            render(err.status_and_code().0, page, cookie)
        }
    }
}

#[derive(Template, WebTemplate, Default)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    layout: Layout,
    verified: bool,
    email: String,
    form_error: String,
}

async fn verify_page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Query(query): Query<TokenQuery>,
) -> Response {
    let layout = Layout::new("Confirm email", "profile", user.as_ref());
    match profile::verify_email(&state, &query.token).await {
        Ok(verified) => render(
            StatusCode::OK,
            VerifyPage {
                layout,
                verified: true,
                email: verified.email.unwrap_or_default(),
                ..Default::default()
            },
            None,
        ),
        Err(err) => {
            let form_error = match &err {
                AppError::EmailTaken => {
                    "That address is already verified on another account.".to_owned()
                }
                AppError::Validation(_) => BAD_LINK.to_owned(),
                other => form_error_text(other),
            };
            let status = err.status_and_code().0;
            render(
                status,
                VerifyPage {
                    layout,
                    form_error,
                    ..Default::default()
                },
                None,
            )
        }
    }
}
