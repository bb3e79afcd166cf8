//! Password recovery by mail: the answer never says whether an account exists.

use std::net::IpAddr;

use crate::accounts::profile::set_password;
use crate::auth::secret;
use crate::db::tokens::{self, TokenKind};
use crate::db::users::{self, User};
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::mail::Mail;
use crate::state::AppState;

/// Reset links stay valid this long.
pub const RESET_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// Handles "I forgot my password": rate-limited per address and per email;
/// the lookup and the mail happen in the background so the answer takes the
/// same time whether or not an account matches.
pub async fn forgot_password(state: &AppState, ip: IpAddr, email: &str) -> Result<(), AppError> {
    let email = Email::parse(email).map_err(|reason| AppError::field("email", reason))?;
    state.limits.forgot_ip.take(&ip.to_string()).await?;
    state.limits.forgot_email.take(&email.key()).await?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = send_reset_link(&state, &email).await {
            tracing::warn!(error = %err, "could not send a reset link");
        }
    });
    Ok(())
}

/// Mails a reset link to the account whose verified address matches — to
/// the address as stored, never as typed: a look-alike that happens to
/// match gets nothing.
async fn send_reset_link(state: &AppState, email: &Email) -> Result<(), AppError> {
    let Some(user) = users::find_by_verified_email(&state.db, email.as_str()).await? else {
        return Ok(());
    };
    let Some(recipient) = user.email.clone().filter(|_| user.email_verified) else {
        return Ok(());
    };
    let link = issue_reset_link(state, &user).await?;
    state
        .mailer
        .send(&recipient, Mail::password_reset(&user.username, &link))
        .await?;
    Ok(())
}

/// Makes a reset link for the account (valid 30 minutes, single use): what
/// recovery mails, and what `chatroom user reset-password --link` prints.
pub async fn issue_reset_link(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = secret::random_token();
    tokens::create(
        &state.db,
        TokenKind::PasswordReset,
        &secret::hash_token(&token),
        user.id,
        None,
        RESET_LIFETIME_MS,
    )
    .await?;
    Ok(format!(
        "{}/reset-password?token={token}",
        state.config.public_base()
    ))
}

/// Whether a reset link can still be used (unknown, used and expired ones
/// cannot), without using it: the page asks before it shows its form.
pub async fn check_reset_token(state: &AppState, token: &str) -> Result<(), AppError> {
    let invalid = || AppError::field("token", "is invalid, used or expired");
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let hash = secret::hash_token(token);
    let found = tokens::peek(&state.db, TokenKind::PasswordReset, &hash)
        .await?
        .ok_or_else(invalid)?;
    users::find_by_id(&state.db, found.user_id)
        .await?
        .ok_or_else(invalid)?;
    Ok(())
}

/// Uses a reset token once: sets the password and ends every session.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
) -> Result<User, AppError> {
    let invalid = || AppError::field("token", "is invalid, used or expired");
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let hash = secret::hash_token(token);
    let found = tokens::peek(&state.db, TokenKind::PasswordReset, &hash)
        .await?
        .ok_or_else(invalid)?;
    let user = users::find_by_id(&state.db, found.user_id)
        .await?
        .ok_or_else(invalid)?;
    let password = Password::parse(new_password, &user.username)
        .map_err(|reason| AppError::field("new_password", reason))?;
    tokens::consume(&state.db, TokenKind::PasswordReset, &hash)
        .await?
        .ok_or_else(invalid)?;
    set_password(state, &user, &password, None).await?;
    Ok(user)
}
