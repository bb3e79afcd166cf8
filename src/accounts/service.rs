//! The account rules, shared by the JSON API and the HTML forms.

use std::net::IpAddr;

use axum::http::HeaderValue;

use crate::auth::password::{hash_password, verify_password};
use crate::auth::{device, secret};
use crate::db::devices;
use crate::db::tokens::{self, TokenKind};
use crate::db::users::{self, User, UserWriteError};
use crate::domain::{Email, Password, Username};
use crate::error::{AppError, FieldErrors};
use crate::mail::Mail;
use crate::monitoring;
use crate::state::AppState;

/// Verification links stay valid this long.
const VERIFY_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// Creates an account (and mails a verification link when an email is given);
/// the browser becomes a trusted device of it. The registration and the
/// mail are counted against their limits before the password is hashed, so
/// concurrent requests cannot pass them.
pub async fn register(
    state: &AppState,
    ip: IpAddr,
    username: &str,
    password: &str,
    email: Option<&str>,
    device_tokens: &[String],
) -> Result<SignedIn, AppError> {
    let mut errors = FieldErrors::new();
    let username = Username::parse(username)
        .map_err(|reason| errors.insert("username".into(), reason))
        .ok();
    let password = Password::parse(password, username.as_ref().map_or("", |u| u.as_str()))
        .map_err(|reason| errors.insert("password".into(), reason))
        .ok();
    let email = match email.map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(raw) => Email::parse(raw)
            .map_err(|reason| errors.insert("email".into(), reason))
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
    let ip_key = ip.to_string();
    state.limits.register_ip.take(&ip_key).await?;
    if let Some(email) = &email {
        if let Err(err) = state.limits.verify_mail_address.take(&email.key()).await {
            state.limits.register_ip.release(&ip_key).await;
            return Err(err);
        }
    }
    let created = async {
        let hash = hash_password(password.expose().to_owned()).await?;
        users::create(
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
        })
    }
    .await;
    let user = match created {
        Ok(user) => user,
        Err(err) => {
            // Nothing was created: the attempt does not count.
            state.limits.register_ip.release(&ip_key).await;
            if let Some(email) = &email {
                state.limits.verify_mail_address.release(&email.key()).await;
            }
            return Err(err);
        }
    };
    tracing::info!(user_id = user.id, "account created");
    if let Some(email) = email {
        mail_verification(state, &user, &email).await?;
    }
    let device_cookie = remember_device(state, user.id, None, device_tokens).await?;
    Ok(SignedIn {
        user,
        device_cookie,
    })
}

/// A successful sign-in: the account, and the `Set-Cookie` of the device
/// cookie that makes this browser a trusted device of it.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub device_cookie: HeaderValue,
}

/// Which limit an attempt was counted against (SECURITY.md, "Login limits").
enum Counted {
    /// A trusted device of the account, under its own limit.
    Device { key: String },
    /// Everyone else: the client address and the account (or typed name).
    Untrusted { ip_key: String, account_key: String },
}

/// Checks a login (username or verified email) and password. A browser that
/// presents a device token of the account it names (`device_tokens`, from
/// its `chatroom_device` cookie) is limited per device only, until that
/// device has failed too often; every other attempt is limited per client
/// address and per account. Each attempt is counted as a failure before the
/// hash is checked and given back when it succeeds, so concurrent guesses
/// cannot pass the limits.
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    login: &str,
    password: &str,
    device_tokens: &[String],
) -> Result<SignedIn, AppError> {
    let login = login.trim();
    // An empty field is a slip, not a guess: say which, count nothing.
    let mut missing = FieldErrors::new();
    if login.is_empty() {
        missing.insert(
            "username".into(),
            "Enter your username or email address.".into(),
        );
    }
    if password.is_empty() {
        missing.insert("password".into(), "Enter your password.".into());
    }
    if !missing.is_empty() {
        return Err(AppError::Validation(missing));
    }
    let ip_key = ip.to_string();
    // Text that names no account is not looked up (a NUL byte would not
    // even reach PostgreSQL).
    let plausible = !login.is_empty() && login.len() <= 254 && !login.chars().any(char::is_control);
    let user = if plausible {
        users::find_for_login(&state.db, login).await?
    } else {
        None
    };
    let account_key = match &user {
        Some(user) => format!("user:{}", user.id),
        None => format!("name:{}", users::key(login)),
    };
    let limits = &state.limits;
    let hashes = device::hashes(device_tokens);
    let device = match &user {
        Some(user) => devices::find(&state.db, user.id, &hashes).await?,
        None => None,
    };
    let mut counted = None;
    if let Some((id, _)) = &device {
        let key = format!("device:{id}");
        // Past its own limit a device is no longer trusted: judged below.
        if limits.login_failures_device.acquire(&key).await.is_ok() {
            counted = Some(Counted::Device { key });
        }
    }
    let counted = match counted {
        Some(device) => device,
        None => {
            if let Err(err) = limits.login_failures_ip.take(&ip_key).await {
                monitoring::login("rate_limited");
                return Err(err);
            }
            if let Err(err) = limits.login_failures_account.take(&account_key).await {
                limits.login_failures_ip.release(&ip_key).await;
                monitoring::login("rate_limited");
                return Err(err);
            }
            Counted::Untrusted {
                ip_key,
                account_key,
            }
        }
    };
    let password = password.chars().take(1024).collect::<String>();
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let user = match user {
        Some(user) if ok => user,
        _ => {
            monitoring::login("failed");
            return Err(AppError::InvalidCredentials);
        }
    };
    match counted {
        Counted::Device { key } => limits.login_failures_device.reset(&key).await,
        Counted::Untrusted {
            ip_key,
            account_key,
        } => {
            limits.login_failures_ip.release(&ip_key).await;
            limits.login_failures_account.reset(&account_key).await;
        }
    }
    if user.suspended {
        monitoring::login("suspended");
        return Err(AppError::AccountSuspended);
    }
    // The account's device token this browser presented, if any, is kept.
    let presented = device.and_then(|(_, hash)| {
        hashes
            .iter()
            .position(|h| *h == hash)
            .map(|i| device_tokens[i].clone())
    });
    let device_cookie = remember_device(state, user.id, presented, device_tokens).await?;
    monitoring::login("succeeded");
    Ok(SignedIn {
        user,
        device_cookie,
    })
}

/// The device cookie after a successful sign-in: the device token the
/// browser presented for this account (`presented`, its year started again)
/// or a new one, followed by the browser's tokens for other accounts.
pub async fn remember_device(
    state: &AppState,
    user_id: i64,
    presented: Option<String>,
    device_tokens: &[String],
) -> Result<HeaderValue, AppError> {
    let token = match presented {
        Some(token) => {
            devices::touch_by_hash(&state.db, &secret::hash_token(&token)).await?;
            token
        }
        None => {
            let token = secret::random_token();
            devices::create(&state.db, user_id, &secret::hash_token(&token)).await?;
            token
        }
    };
    Ok(device::cookie(
        &token,
        device_tokens,
        state.config.cookies_secure(),
    ))
}

/// Counts one verification mail to `email` (for `user`, when the account
/// exists already) against the per-account and per-address limits.
pub async fn reserve_verification_mail(
    state: &AppState,
    user: &User,
    email: &Email,
) -> Result<(), AppError> {
    let account_key = format!("user:{}", user.id);
    state.limits.verify_mail_account.take(&account_key).await?;
    if let Err(err) = state.limits.verify_mail_address.take(&email.key()).await {
        state.limits.verify_mail_account.release(&account_key).await;
        return Err(err);
    }
    Ok(())
}

/// Mails a link that makes `email` the user's verified address; every
/// earlier verification and reset link of the account stops working.
/// The mail must have been counted ([`reserve_verification_mail`]).
pub async fn mail_verification(
    state: &AppState,
    user: &User,
    email: &Email,
) -> Result<(), AppError> {
    tokens::revoke_all(&state.db, user.id).await?;
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
