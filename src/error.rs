//! The one place where failures become HTTP statuses and JSON bodies.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Field name → human reason, for 422 answers.
pub type FieldErrors = BTreeMap<String, String>;

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("The request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("Sign in first.")]
    Unauthenticated,
    #[error("Wrong username or password.")]
    InvalidCredentials,
    #[error("This request did not come from this site. Reload the page and try again.")]
    CsrfRejected,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("This account is suspended. Contact an administrator.")]
    AccountSuspended,
    #[error("Not found.")]
    NotFound,
    #[error("A room with that name already exists. Choose another name.")]
    RoomNameTaken,
    #[error("This message was deleted.")]
    MessageDeleted,
    #[error("That username is already taken. Choose another one.")]
    UsernameTaken,
    #[error("That email address is already in use by another account.")]
    EmailTaken,
    #[error("This is larger than the server accepts.")]
    TooLarge,
    /// Past a known size limit: said in human units ("The photo is larger
    /// than 5 MiB."). `what` starts the sentence.
    #[error("{what} is larger than {}.", human_bytes(*.limit))]
    TooLargeThan { what: &'static str, limit: u64 },
    #[error("This file would go past your storage quota. Delete messages with files you no longer need, or send a smaller file.")]
    QuotaExceeded,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Some fields need another look.")]
    Validation(FieldErrors),
    #[error("Too many attempts. Try again {}.", human_wait(*.retry_after))]
    RateLimited { retry_after: Duration },
    #[error("The service is briefly unavailable. Try again in a moment.")]
    Unavailable(String),
    #[error("The server is out of storage space. Try again later.")]
    StorageFull,
    #[error("Something went wrong on our side. Please try again.")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A 422 for one field.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.into(), reason.into());
        AppError::Validation(fields)
    }

    /// Status and stable machine code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::CsrfRejected => (StatusCode::FORBIDDEN, "csrf_rejected"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::AccountSuspended => (StatusCode::FORBIDDEN, "account_suspended"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::RoomNameTaken => (StatusCode::CONFLICT, "room_name_taken"),
            AppError::MessageDeleted => (StatusCode::CONFLICT, "message_deleted"),
            AppError::UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
            AppError::EmailTaken => (StatusCode::CONFLICT, "email_taken"),
            AppError::TooLarge | AppError::TooLargeThan { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            AppError::QuotaExceeded => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::StorageFull => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The `{code, message[, fields]}` object used by the API and socket acks.
    pub fn body(&self) -> serde_json::Value {
        let (_, code) = self.status_and_code();
        let mut error = json!({ "code": code, "message": self.to_string() });
        if let AppError::Validation(fields) = self {
            error["fields"] = json!(fields);
        }
        error
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if is_storage_full(&err) {
            tracing::error!(error = %err, "storage is full");
            return AppError::StorageFull;
        }
        if is_transient(&err) {
            return AppError::Unavailable(err.to_string());
        }
        if is_bad_value(&err) {
            // Input reached the database that an edge should have refused:
            // still the client's fault, never a 500; logged to be fixed.
            tracing::warn!(error = %err, "a request value the database refused");
            return AppError::BadRequest("a value in the request cannot be stored".into());
        }
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// SQLite's SQLITE_FULL, PostgreSQL's disk_full.
fn is_storage_full(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            code == "13"
                || code == "53100"
                || db.message().to_ascii_lowercase().contains("disk is full")
        }
        _ => false,
    }
}

/// PostgreSQL's data exceptions (class 22: a NUL byte in text, a number
/// out of range, …): the value was bad, not the server.
fn is_bad_value(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code.starts_with("22")),
        _ => false,
    }
}

/// Failures that say "try again later" rather than "bug": the pool or the
/// connection is gone, SQLite is locked or busy past its timeout, the disk
/// is full, PostgreSQL is shutting down or refusing connections.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let message = db.message().to_ascii_lowercase();
            // SQLite: 5 BUSY, 6 LOCKED, 13 FULL (and extended codes of BUSY/LOCKED).
            matches!(code.as_ref(), "5" | "6" | "261" | "262" | "517" | "518")
                || message.contains("database is locked")
                // PostgreSQL: 53xxx insufficient resources, 57Pxx shutdown, 08xxx connection.
                || code.starts_with("53")
                || code.starts_with("57P")
                || code.starts_with("08")
        }
        _ => false,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_and_code();
        match &self {
            AppError::Internal(err) => tracing::error!(error = ?err, "request failed"),
            AppError::Unavailable(reason) => tracing::warn!(%reason, "service unavailable"),
            _ => {}
        }
        let mut response = (status, Json(json!({ "error": self.body() }))).into_response();
        if let AppError::RateLimited { retry_after } = &self {
            let secs = retry_after.as_secs().max(1);
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// Result alias for handlers.
pub type AppResult<T> = Result<T, AppError>;

/// When to try again, as a person says it: "in 15 minutes", "in 1 minute",
/// "in 30 seconds", "in 2 hours" (rounded up, so it is never too early).
/// Every message that speaks a `Retry-After` uses this.
pub fn human_wait(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let (n, unit) = if secs < 60 {
        (secs, "second")
    } else if secs < 3600 {
        (secs.div_ceil(60), "minute")
    } else {
        (secs.div_ceil(3600), "hour")
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("in {n} {unit}{plural}")
}

/// A size in the units people read: "25 MiB", "64 KiB", "1.5 GiB", "900 bytes".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            let text = format!("{value:.1}");
            let text = text.strip_suffix(".0").unwrap_or(&text);
            return format!("{text} {unit}");
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_said_in_human_units_rounded_up() {
        let s = Duration::from_secs;
        assert_eq!(human_wait(s(891)), "in 15 minutes");
        assert_eq!(human_wait(s(900)), "in 15 minutes");
        assert_eq!(human_wait(s(61)), "in 2 minutes");
        assert_eq!(human_wait(s(60)), "in 1 minute");
        assert_eq!(human_wait(s(30)), "in 30 seconds");
        assert_eq!(human_wait(s(1)), "in 1 second");
        assert_eq!(human_wait(Duration::from_millis(200)), "in 1 second");
        assert_eq!(human_wait(Duration::from_millis(1500)), "in 2 seconds");
        assert_eq!(human_wait(s(3600)), "in 1 hour");
        assert_eq!(human_wait(s(5400)), "in 2 hours");
        let limited = AppError::RateLimited {
            retry_after: s(891),
        };
        assert_eq!(
            limited.to_string(),
            "Too many attempts. Try again in 15 minutes."
        );
    }

    #[test]
    fn sizes_are_said_in_binary_units() {
        assert_eq!(human_bytes(26_214_400), "25 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5 MiB");
        assert_eq!(human_bytes(64 * 1024), "64 KiB");
        assert_eq!(human_bytes(1_073_741_824), "1 GiB");
        assert_eq!(human_bytes(1_610_612_736), "1.5 GiB");
        assert_eq!(human_bytes(900), "900 bytes");
        let too_large = AppError::TooLargeThan {
            what: "The file",
            limit: 26_214_400,
        };
        assert_eq!(too_large.to_string(), "The file is larger than 25 MiB.");
    }
}
