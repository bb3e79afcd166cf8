//! Request extractors that answer bad input with our JSON errors.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::domain::RoomId;
use crate::error::AppError;

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
    reject_nul(&value, "")?;
    // Deserialize from the text (not the Value) so errors come in document order.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(field_error)
}

/// Deserializes an already parsed JSON object (a socket event's data) with
/// the same rules and errors as a request body.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    if !value.is_object() {
        return Err(AppError::field("data", "must be a JSON object"));
    }
    reject_nul(&value, "")?;
    serde_path_to_error::deserialize(value).map_err(field_error)
}

/// A 422 naming the field a deserializer stopped at.
fn field_error<E: std::fmt::Display>(err: serde_path_to_error::Error<E>) -> AppError {
    let path = err.path().to_string();
    let message = err.inner().to_string();
    let field = if path.is_empty() || path == "." {
        missing_field_name(&message).unwrap_or_else(|| "body".to_owned())
    } else {
        path
    };
    AppError::field(field, message)
}

fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Refuses a NUL character anywhere in a JSON document (keys included):
/// no field of ours may hold one, and PostgreSQL cannot store it.
pub fn reject_nul(value: &serde_json::Value, path: &str) -> Result<(), AppError> {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => {
            let field = if path.is_empty() { "body" } else { path };
            Err(AppError::field(field, NUL_REASON))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| reject_nul(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.contains('\0') {
                return Err(AppError::field("body", NUL_REASON));
            }
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            reject_nul(item, &field)
        }),
        _ => Ok(()),
    }
}

/// Why text with a NUL character is refused.
pub const NUL_REASON: &str = "must not contain NUL characters";

/// Query parameters: `400 bad_request` (JSON) when the query string is not
/// decodable, `422` naming the parameter when a value holds a NUL.
pub struct ApiQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Query(query) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                AppError::BadRequest(format!(
                    "the query string is not valid: {}",
                    rejection.body_text()
                ))
            })?;
        for (name, value) in &query {
            if name.contains('\0') || value.contains('\0') {
                return Err(AppError::field(name.replace('\0', ""), NUL_REASON));
            }
        }
        Ok(ApiQuery(query))
    }
}

impl ApiQuery {
    /// One parameter, when given.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.get(name)
    }
}

/// Path parameters of an API route. Any parameter that is not decodable
/// (`%FF`) or holds a NUL byte names nothing that exists: 404 as JSON, like
/// every other unknown resource.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        if parts.uri.path().to_ascii_lowercase().contains("%00") {
            return Err(AppError::NotFound);
        }
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        Ok(ApiPath(value))
    }
}

/// The `{room}` of an API path, parsed; 404 when it cannot name a room.
pub struct RoomPath(pub RoomId);

impl<S: Send + Sync> FromRequestParts<S> for RoomPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let ApiPath(raw) = ApiPath::<String>::from_request_parts(parts, state).await?;
        RoomId::parse(&raw).map(RoomPath).ok_or(AppError::NotFound)
    }
}

/// A message id in a path: a positive integer, or 404.
pub fn message_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// A `limit` query parameter: absent → `default`; otherwise 1…`max`
/// (larger values are capped).
pub fn limit_param(query: &ApiQuery, default: i64, max: i64) -> Result<i64, AppError> {
    match query.get("limit").map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(AppError::field(
                "limit",
                format!("must be between 1 and {max}"),
            )),
        },
    }
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
