//! The account rules, shared by the JSON API and the HTML forms.

use std::net::IpAddr;

use crate::auth::password::{hash_password, verify_password};
use crate::auth::secret;
use crate::db::tokens::{self, TokenKind};
use crate::db::users::{self, User, UserWriteError};
use crate::domain::{Email, Password, Username};
use crate::error::{AppError, FieldErrors};
use crate::mail::Mail;
use crate::state::AppState;

/// Verification links stay valid this long.
const VERIFY_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// Creates an account (and mails a verification link when an email is given).
pub async fn register(
    state: &AppState,
    ip: IpAddr,
    username: &str,
    password: &str,
    email: Option<&str>,
) -> Result<User, AppError> {
    state
        .limits
        .register_ip
        .check(&ip.to_string())
        .await
        .map_err(|retry_after| AppError::RateLimited { retry_after })?;
    let mut errors = FieldErrors::new();
    let username = Username::parse(username)
        .map_err(|reason| errors.insert("username", reason))
        .ok();
    let password = Password::parse(password, username.as_ref().map_or("", |u| u.as_str()))
        .map_err(|reason| errors.insert("password", reason))
        .ok();
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(raw) => Email::parse(raw)
            .map_err(|reason| errors.insert("email", reason))
            .ok(),
    };
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    if users::find_by_username(&state.db, username.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::UsernameTaken);
    }
    let hash = hash_password(password.expose().to_owned()).await?;
    state.limits.register_ip.record(&ip.to_string()).await;
    let user = users::create(
        &state.db,
        username.as_str(),
        &hash,
        email.as_ref().map(Email::as_str),
    )
    .await
    .map_err(|err| match err {
        UserWriteError::UsernameTaken => AppError::UsernameTaken,
        UserWriteError::EmailTaken => AppError::EmailTaken,
        UserWriteError::Db(err) => err.into(),
    })?;
    tracing::info!(user_id = user.id, "account created");
    if let Some(email) = email {
        send_verification(state, &user, &email).await?;
    }
    Ok(user)
}

/// Checks a login (username or verified email) and password, with failed
/// attempts limited per client address and per account.
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    login: &str,
    password: &str,
) -> Result<User, AppError> {
    let login = login.trim();
    let ip_key = ip.to_string();
    let user = if login.is_empty() || login.len() > 254 {
        None
    } else {
        users::find_for_login(&state.db, login).await?
    };
    let account_key = match &user {
        Some(user) => format!("user:{}", user.id),
        None => format!("name:{}", login.to_lowercase()),
    };
    let limited = |r: Result<(), std::time::Duration>| {
        r.map_err(|retry_after| AppError::RateLimited { retry_after })
    };
    limited(state.limits.login_failures_ip.check(&ip_key).await)?;
    limited(
        state
            .limits
            .login_failures_account
            .check(&account_key)
            .await,
    )?;
    let password = password.chars().take(1024).collect::<String>();
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(user) if ok => {
            state
                .limits
                .login_failures_account
                .reset(&account_key)
                .await;
            if user.suspended {
                return Err(AppError::AccountSuspended);
            }
            Ok(user)
        }
        _ => {
            state.limits.login_failures_ip.record(&ip_key).await;
            state
                .limits
                .login_failures_account
                .record(&account_key)
                .await;
            Err(AppError::InvalidCredentials)
        }
    }
}

/// Mails a link that makes `email` the user's verified address.
pub async fn send_verification(
    state: &AppState,
    user: &User,
    email: &Email,
) -> Result<(), AppError> {
    let token = secret::random_token();
    tokens::create(
        &state.db,
        TokenKind::VerifyEmail,
        &secret::hash_token(&token),
        user.id,
        Some(email.as_str()),
        VERIFY_LIFETIME_MS,
    )
    .await?;
    let link = format!("{}/verify-email?token={token}", state.config.public_base());
    state
        .mailer
        .send(email.as_str(), Mail::verify_email(&user.username, &link))
        .await?;
    Ok(())
}
