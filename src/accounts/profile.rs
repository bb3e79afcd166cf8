//! What a signed-in user does with their own account: password, email,
//! photo, sessions, deletion. Shared by the API and the profile page.

use crate::accounts::service::{mail_verification, reserve_verification_mail};
use crate::auth::password::{hash_password, verify_password};
use crate::auth::sign_out::SignOutReason;
use crate::auth::CurrentUser;
use crate::db::sessions::{self, Session};
use crate::db::tokens::{self, TokenKind};
use crate::db::users::{self, User};
use crate::db::{avatars, devices, missed_mail};
use crate::domain::avatar::{process_avatar, AvatarError};
use crate::domain::{Email, NotifyEmail, Password};
use crate::error::AppError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::views::Author;

/// Checks the current password of a signed-in session. Each check counts
/// against that session's own limit before the hash is computed, and is
/// given back when it matches. Only someone already signed in can ask, so
/// the limit is the session's: failed logins against the account (someone
/// failing on purpose) never lock its owner out of their own profile.
pub async fn confirm_password(
    state: &AppState,
    current: &CurrentUser,
    password: &str,
) -> Result<(), AppError> {
    let key = format!("session:{}", current.session.id);
    let limit = &state.limits.password_checks_session;
    limit.take(&key).await?;
    let candidate: String = password.chars().take(1024).collect();
    let matches = verify_password(candidate, Some(current.user.password_hash.clone())).await;
    if matches.as_ref().is_ok_and(|ok| *ok) {
        limit.release(&key).await;
    }
    if matches? {
        Ok(())
    } else {
        Err(AppError::field(
            "current_password",
            "That is not your current password.",
        ))
    }
}

/// Sets a new password and ends every other session (and their sockets).
pub async fn change_password(
    state: &AppState,
    current: &CurrentUser,
    current_password: &str,
    new_password: &str,
) -> Result<(), AppError> {
    let password = Password::parse(new_password, &current.user.username)
        .map_err(|reason| AppError::field("new_password", reason))?;
    confirm_password(state, current, current_password).await?;
    set_password(state, &current.user, &password, Some(current.session.id)).await
}

/// Stores the hash, ends sessions other than `keep`, revokes every mailed
/// link (reset and verification alike) and every trusted login device,
/// and tells the verified address.
pub async fn set_password(
    state: &AppState,
    user: &User,
    password: &Password,
    keep: Option<i64>,
) -> Result<(), AppError> {
    let hash = hash_password(password.expose().to_owned()).await?;
    users::set_password_hash(&state.db, user.id, &hash).await?;
    let ended =
        super::sessions::end_all(state, user.id, keep, SignOutReason::PasswordChanged).await?;
    tokens::revoke_all(&state.db, user.id).await?;
    devices::revoke_all(&state.db, user.id).await?;
    if let (Some(email), true) = (&user.email, user.email_verified) {
        state
            .mailer
            .send(email, Mail::password_changed(&user.username))
            .await?;
    }
    tracing::info!(
        user_id = user.id,
        ended_sessions = ended,
        "password changed"
    );
    Ok(())
}

/// Mails a verification link to a new address; the links mailed before
/// (verification and reset) stop working.
pub async fn request_email_change(
    state: &AppState,
    current: &CurrentUser,
    email: &str,
    current_password: &str,
) -> Result<(), AppError> {
    let user = &current.user;
    let email = Email::parse(email).map_err(|reason| AppError::field("email", reason))?;
    confirm_password(state, current, current_password).await?;
    if let Some(owner) = users::find_by_verified_email(&state.db, email.as_str()).await? {
        if owner.id != user.id {
            return Err(AppError::EmailTaken);
        }
    }
    reserve_verification_mail(state, user, &email).await?;
    mail_verification(state, user, &email).await
}

/// Cancels the address waiting for verification (its link stops working);
/// `NotFound` when none waits.
pub async fn cancel_email_change(state: &AppState, user: &User) -> Result<(), AppError> {
    if tokens::revoke_verifications(&state.db, user.id).await? {
        tracing::info!(user_id = user.id, "pending email change cancelled");
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Uses a verification token: its address becomes the verified one.
pub async fn verify_email(state: &AppState, token: &str) -> Result<User, AppError> {
    let invalid = || AppError::field("token", "is invalid, used or expired");
    if token.is_empty() || token.len() > 128 {
        return Err(invalid());
    }
    let hash = crate::auth::secret::hash_token(token);
    let found = tokens::peek(&state.db, TokenKind::VerifyEmail, &hash)
        .await?
        .ok_or_else(invalid)?;
    let email = found.email.clone().ok_or_else(invalid)?;
    let user = users::find_by_id(&state.db, found.user_id)
        .await?
        .ok_or_else(invalid)?;
    if let Some(owner) = users::find_by_verified_email(&state.db, &email).await? {
        if owner.id != user.id {
            return Err(AppError::EmailTaken);
        }
    }
    tokens::consume(&state.db, TokenKind::VerifyEmail, &hash)
        .await?
        .ok_or_else(invalid)?;
    users::set_verified_email(&state.db, user.id, &email)
        .await
        .map_err(|err| match err {
            users::UserWriteError::EmailTaken | users::UserWriteError::UsernameTaken => {
                AppError::EmailTaken
            }
            users::UserWriteError::Db(err) => err.into(),
        })?;
    // A new recovery address: reset links mailed to the old one end.
    tokens::revoke_all(&state.db, user.id).await?;
    let previous = user
        .email
        .clone()
        .filter(|old| user.email_verified && users::key(old) != users::key(&email));
    if let Some(old) = previous {
        state
            .mailer
            .send(&old, Mail::email_changed(&user.username, &email))
            .await?;
    }
    tracing::info!(user_id = user.id, "email verified");
    users::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Photo uploads read into memory at once (each up to 5 MiB), whatever the
/// number of clients uploading: the others wait their turn.
const CONCURRENT_UPLOADS: usize = 4;
/// How long an upload waits for its turn before it is answered 503.
const UPLOAD_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// A turn to read one photo upload; hold it while the body is read and
/// processed, so memory stays bounded however many upload at once.
pub async fn upload_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_UPLOADS);
    match tokio::time::timeout(UPLOAD_QUEUE_WAIT, UPLOADS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::Unavailable(
            "Many photos are being uploaded right now. Try again in a minute.".into(),
        )),
    }
}

/// Processes and stores a new photo.
pub async fn set_avatar(
    state: &AppState,
    user: &User,
    bytes: axum::body::Bytes,
) -> Result<User, AppError> {
    static DECODERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _permit = DECODERS
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable("image decoding stopped".into()))?;
    let processed = tokio::task::spawn_blocking(move || process_avatar(&bytes))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("avatar task: {e}")))?
        .map_err(|err| match err {
            AvatarError::TooLarge => AppError::TooLargeThan {
                what: "The photo",
                limit: crate::domain::avatar::MAX_UPLOAD_BYTES as u64,
            },
            AvatarError::UnsupportedFormat => AppError::UnsupportedMediaType(err.to_string()),
            AvatarError::Undecodable | AvatarError::TooManyPixels => {
                AppError::field("photo", err.to_string())
            }
        })?;
    avatars::set(
        &state.db,
        user.id,
        &processed.hash,
        processed.content_type,
        &processed.bytes,
    )
    .await?;
    crate::messages::authors_changed(state);
    let updated = users::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    state.live.update_author(Author::from(&updated)).await;
    Ok(updated)
}

/// Back to the generated picture.
pub async fn remove_avatar(state: &AppState, user: &User) -> Result<User, AppError> {
    avatars::remove(&state.db, user.id).await?;
    crate::messages::authors_changed(state);
    let updated = users::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    state.live.update_author(Author::from(&updated)).await;
    Ok(updated)
}

/// Chooses which missed messages are mailed (`off` or
/// `dms_and_mentions`; 422 naming `email` otherwise). Turning mail back on
/// starts from now: what came while it was off is not mailed.
pub async fn set_notify_email(
    state: &AppState,
    user: &User,
    choice: &str,
) -> Result<User, AppError> {
    let setting = NotifyEmail::parse(choice).map_err(|reason| AppError::field("email", reason))?;
    if setting.is_on() && !user.notify_email.is_on() {
        missed_mail::start_from_now(&state.db, user.id).await?;
    }
    if !users::set_notify_email(&state.db, user.id, setting).await? {
        return Err(AppError::NotFound);
    }
    tracing::info!(
        user_id = user.id,
        notify_email = setting.as_str(),
        "mail setting changed"
    );
    users::find_by_id(&state.db, user.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Deletes the account after checking the password; ends all its sockets.
pub async fn delete_account(
    state: &AppState,
    current: &CurrentUser,
    current_password: &str,
) -> Result<(), AppError> {
    let user = &current.user;
    confirm_password(state, current, current_password).await?;
    let dms = crate::rooms::service::dms_of(state, user.id).await?;
    users::delete(&state.db, user.id).await?;
    crate::messages::authors_changed(state);
    crate::rooms::service::peers_left(state, user.id, &dms).await;
    state
        .live
        .sign_out_user(user.id, SignOutReason::AccountDeleted)
        .await;
    tracing::info!(user_id = user.id, "account deleted");
    Ok(())
}

/// The user's sessions.
pub async fn list_sessions(state: &AppState, user: &User) -> Result<Vec<Session>, AppError> {
    Ok(sessions::list_for_user(&state.db, user.id).await?)
}

/// Ends one of the user's sessions; 404 when it is not theirs.
pub async fn end_session(state: &AppState, user: &User, session_id: i64) -> Result<(), AppError> {
    if !super::sessions::end_own(state, user.id, session_id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// A short human description of a user agent ("Firefox on Linux").
pub fn describe_device(user_agent: &str) -> String {
    let ua = user_agent.to_ascii_lowercase();
    let browser = [
        ("edg/", "Edge"),
        ("opr/", "Opera"),
        ("firefox/", "Firefox"),
        ("chromium/", "Chromium"),
        ("chrome/", "Chrome"),
        ("safari/", "Safari"),
        ("curl/", "curl"),
        ("python", "Python client"),
        ("node", "Node.js client"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("android", "Android"),
        ("iphone", "iPhone"),
        ("ipad", "iPad"),
        ("windows", "Windows"),
        ("mac os", "macOS"),
        ("cros", "ChromeOS"),
        ("linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("Browser on {s}"),
        (None, None) if user_agent.is_empty() => "Unknown device".to_owned(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn devices_are_described_briefly() {
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
            ),
            "Firefox on Linux"
        );
        assert_eq!(
            describe_device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
            "Chrome on Windows"
        );
        assert_eq!(describe_device(""), "Unknown device");
    }
}
