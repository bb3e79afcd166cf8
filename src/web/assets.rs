//! Static files embedded in the binary (CSS, our scripts, vendored browser
//! libraries), so the binary runs from any directory.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

/// The embedded files under `dir/` (e.g. `js/chat/`) whose names end in
/// `suffix`, sorted.
pub fn files_in(dir: &str, suffix: &str) -> Vec<String> {
    let mut files: Vec<String> = Static::iter()
        .filter(|path| {
            path.strip_prefix(dir)
                .is_some_and(|name| !name.contains('/') && name.ends_with(suffix))
        })
        .map(|path| path.into_owned())
        .collect();
    files.sort();
    files
}

/// The content hash of a static file, for cache-busting URLs in templates.
pub fn version(path: &str) -> String {
    Static::get(path)
        .map(|file| {
            file.metadata.sha256_hash()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /static/{*path}`.
pub async fn serve(Path(path): Path<String>, request_headers: HeaderMap) -> Response {
    let Some(file) = Static::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag: String = file.metadata.sha256_hash()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{etag}\"");
    if request_headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    (headers, file.data.into_owned()).into_response()
}
