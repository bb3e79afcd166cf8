//! Serving profile pictures: uploaded photos by content hash, and the
//! generated default.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::db::avatars;
use crate::domain::avatar::default_avatar_svg;
use crate::domain::Username;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /avatars/{user_id}/{hash}.png`: 404 for unknown or stale hashes.
pub async fn photo(
    State(state): State<AppState>,
    Path((user_id, file)): Path<(String, String)>,
) -> AppResult<Response> {
    let user_id: i64 = user_id.parse().map_err(|_| AppError::NotFound)?;
    let hash = file.strip_suffix(".png").ok_or(AppError::NotFound)?;
    if hash.is_empty() || hash.len() > 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let (content_type, data) = avatars::get(&state.db, user_id, hash)
        .await?
        .ok_or(AppError::NotFound)?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        data,
    )
        .into_response())
}

/// `GET /avatars/default/{username}.svg`: initials on a colour of the name.
pub async fn default(Path(file): Path<String>) -> AppResult<Response> {
    let name = file.strip_suffix(".svg").ok_or(AppError::NotFound)?;
    let username = Username::parse(name).map_err(|_| AppError::NotFound)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        default_avatar_svg(username.as_str()),
    )
        .into_response())
}
