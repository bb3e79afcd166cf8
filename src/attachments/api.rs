//! Routes of attachments: the upload (an API route, in the OpenAPI
//! document) and the downloads (`/attachments/{token}`, like avatars
//! outside `/api/v1`). Each reads its input and calls the service.

use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Incoming};
use crate::auth::session::MaybeUser;
use crate::auth::CurrentUser;
use crate::db::attachments::StoredAttachment;
use crate::domain::attachment::{disposition, served_type};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::AttachmentEnvelope;
use crate::web::api_doc::{ErrorBody, RateLimited, Unauthenticated};
use crate::web::extract::{ApiPath, RoomPath};

/// Room for the multipart framing around the largest file.
const MULTIPART_OVERHEAD: usize = 1024 * 1024;

/// The upload route; its body may be as large as the largest file allowed.
pub fn router(max_upload: u64) -> OpenApiRouter<AppState> {
    let limit = usize::try_from(max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(MULTIPART_OVERHEAD);
    OpenApiRouter::new()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::max(limit))
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
struct FileUpload {
    /// The file (one); its name and type are taken from the part's headers.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(
    post,
    path = "/api/v1/rooms/{room}/attachments",
    tag = "attachments",
    summary = "Upload a picture or file to a conversation, to send with a message (docs/attachments.md)",
    security(("sessionCookie" = [])),
    params(("room" = String, Path, description = "A conversation id: `global`, a public room's lower-cased name (`rust-fans`) or `dm:<smaller user id>:<larger user id>`")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        Unauthenticated,
        RateLimited,
        (status = 201, description = "Stored; only you see it until a message sends it", body = AttachmentEnvelope),
        (status = 400, description = "Malformed multipart body (`bad_request`)", body = ErrorBody),
        (status = 403, description = "A public room you have not joined (`forbidden`); a request from another site (`csrf_rejected`)", body = ErrorBody),
        (status = 404, description = "No such room, or a DM you are not part of (`not_found`)", body = ErrorBody),
        (status = 413, description = "Larger than `CHATROOM_MAX_UPLOAD` (`too_large`), or past your quota (`quota_exceeded`)", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "No file, an empty file, or a picture that cannot be decoded or is too large to decode (`validation_failed`, `fields.file`)", body = ErrorBody),
        (status = 503, description = "Too many pictures being processed at once (`unavailable`)", body = ErrorBody),
        (status = 507, description = "`insufficient_storage`", body = ErrorBody),
    )
)]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    RoomPath(room): RoomPath,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentEnvelope>)> {
    let mut multipart = multipart.map_err(|_| {
        AppError::UnsupportedMediaType("send the file as multipart/form-data".into())
    })?;
    let me = user.user.id;
    let max = state.config.max_upload;
    service::admit(&state, me, &room).await?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, max))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let incoming = Incoming {
            name: field.file_name().map(str::to_owned),
            content_type: field.content_type().map(str::to_owned),
            body: field.map_err(move |e| multipart_error(e, max)),
        };
        let attachment = service::store(&state, me, &room, incoming).await?;
        return Ok((StatusCode::CREATED, Json(AttachmentEnvelope { attachment })));
    }
    Err(AppError::field("file", "choose a file"))
}

fn multipart_error(err: MultipartError, max: u64) -> AppError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        service::too_large(max)
    } else {
        AppError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}

/// Never kept by a shared cache; a browser asks again, so a lost right to
/// read takes effect at once.
const PRIVATE: &str = "private, max-age=0, must-revalidate";
/// Whatever a downloaded file is, it runs nothing and loads nothing.
const SANDBOX: &str = "sandbox; default-src 'none'";

/// `GET /attachments/{token}`: the file, to whoever may read it now.
pub async fn download(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiPath(token): ApiPath<String>,
) -> AppResult<Response> {
    let me = user.map(|u| u.user.id);
    let attachment = service::readable(&state, me, &token).await?;
    let body = Body::from_stream(service::bytes(&state, &attachment));
    Ok(with_headers(&attachment, body, attachment.size))
}

/// `GET /attachments/{token}/thumbnail`: a picture's thumbnail.
pub async fn thumbnail(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    ApiPath(token): ApiPath<String>,
) -> AppResult<Response> {
    let me = user.map(|u| u.user.id);
    let attachment = service::readable(&state, me, &token).await?;
    let bytes = service::thumbnail(&state, &attachment).await?;
    let size = i64::try_from(bytes.len()).unwrap_or_default();
    Ok(with_headers(&attachment, Body::from(bytes), size))
}

/// Marks a response that is a stored file: it is sent as stored, never
/// compressed on the way (pictures and most files are compressed already;
/// gzip would cost a core and drop the `Content-Length`).
#[derive(Clone, Copy, Debug)]
pub struct StoredFile;

/// The response compression predicate's part: everything but stored files.
pub fn not_a_stored_file(
    _: axum::http::StatusCode,
    _: axum::http::Version,
    _: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
) -> bool {
    extensions.get::<StoredFile>().is_none()
}

/// Pictures inline with their type; any other file as a download that a
/// browser will neither sniff, render nor run.
fn with_headers(attachment: &StoredAttachment, body: Body, size: i64) -> Response {
    let mut response = body.into_response();
    response.extensions_mut().insert(StoredFile);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(length) = HeaderValue::from_str(&size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    let picture = attachment.has_thumbnail != 0;
    let content_type = if picture {
        attachment.content_type.as_str()
    } else {
        served_type(&attachment.content_type)
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    if !picture {
        if let Ok(value) = HeaderValue::from_str(&disposition(&attachment.name)) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    response
}
