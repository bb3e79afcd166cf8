//! Request extractors that answer bad input with our JSON errors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldErrors};

/// A JSON body: 415 without a JSON content type, 413 over the limit,
/// 400 `invalid_json` for syntax errors, 422 naming the field for wrong types.
pub struct ApiJson<T>(pub T);

/// Reads the body, turning over-limit bodies into 413.
pub async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                AppError::BadRequest(rejection.body_text())
            }
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is_json = content_type.starts_with("application/json")
            || (content_type.starts_with("application/") && content_type.contains("+json"));
        if !is_json {
            return Err(AppError::UnsupportedMediaType(
                "send the body as application/json".into(),
            ));
        }
        let bytes = body_bytes(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON text into `T` with our error mapping.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| AppError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(AppError::field("body", "must be a JSON object"));
    }
    // Deserialize from the text (not the Value) so errors come in document order.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let field = if path.is_empty() || path == "." {
            missing_field_name(&message).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        let mut fields = FieldErrors::new();
        fields.insert(leak_field(field), message);
        AppError::Validation(fields)
    })
}

fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Field names are a small, fixed set (our request structs); keep the ones
/// we know as static strings and fold anything else into "body".
fn leak_field(field: String) -> &'static str {
    const KNOWN: &[&str] = &[
        "username",
        "password",
        "email",
        "token",
        "new_password",
        "current_password",
        "text",
    ];
    KNOWN
        .iter()
        .find(|k| **k == field)
        .copied()
        .unwrap_or("body")
}

/// The address of the client (the TCP peer).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}
