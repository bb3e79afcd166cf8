//! Uploading and reading attachments: every rule of docs/attachments.md
//! that is not about sending (access, limits, quota, pictures, names).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::db::attachments::{self, Finished, NewAttachment, StoredAttachment};
use crate::db::{now_ms, Db};
use crate::domain::attachment::{self as rules, declared_type, sanitize_name};
use crate::domain::avatar::AvatarError;
use crate::domain::RoomId;
use crate::error::AppError;
use crate::rooms::access;
use crate::state::AppState;
use crate::views::AttachmentView;

/// Bytes per stored chunk: what one upload holds in memory.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Pictures held whole in memory (each up to the upload limit) while they
/// are decoded and re-encoded; the others wait their turn.
const CONCURRENT_PICTURES: usize = 2;
/// How long a picture waits for its turn before it is answered 503.
const PICTURE_QUEUE_WAIT: Duration = Duration::from_secs(20);
/// Bytes that tell whether a file is a picture.
const SNIFF_BYTES: usize = 32;
/// Hex digits of a token (128 random bits).
pub const TOKEN_HEX_DIGITS: usize = 32;

/// A file arriving: its declared name and type, and its bytes as they come.
pub struct Incoming<S> {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub body: S,
}

/// Checks that `me` may upload to `room` now (same answers as posting) and
/// counts the upload against the account's rate limit.
pub async fn admit(state: &AppState, me: i64, room: &RoomId) -> Result<(), AppError> {
    access::may_write(&state.db, me, room).await?;
    state
        .limits
        .upload_account
        .take(&format!("user:{me}"))
        .await
}

/// Stores one file for `me` in `room` (already [`admit`]ted): a picture
/// re-encoded with its thumbnail, any other file as sent. Nothing is kept
/// when it is refused.
pub async fn store<S>(
    state: &AppState,
    me: i64,
    room: &RoomId,
    incoming: Incoming<S>,
) -> Result<AttachmentView, AppError>
where
    S: Stream<Item = Result<Bytes, AppError>>,
{
    let max = state.config.max_upload;
    let quota = i64::try_from(state.config.upload_quota).unwrap_or(i64::MAX);
    let mut body = std::pin::pin!(incoming.body);
    let name = sanitize_name(incoming.name.as_deref().unwrap_or_default());
    let declared = declared_type(incoming.content_type.as_deref());
    let used = attachments::used_by(&state.db, me).await?;

    // The first bytes say whether this is a picture.
    let mut head = BytesMut::new();
    while head.len() < SNIFF_BYTES {
        match body.next().await.transpose()? {
            Some(bytes) => head.extend_from_slice(&bytes),
            None => break,
        }
    }
    if head.is_empty() {
        return Err(AppError::field("file", "the file is empty"));
    }
    let room = room.to_string();
    if rules::looks_like_picture(&head) {
        let _turn = picture_turn().await?;
        let mut whole = head;
        while let Some(bytes) = body.next().await.transpose()? {
            if (whole.len() + bytes.len()) as u64 > max {
                drain(&mut body).await;
                return Err(too_large(max));
            }
            whole.extend_from_slice(&bytes);
        }
        if (whole.len() as u64) > max {
            return Err(too_large(max));
        }
        let input = whole.freeze();
        let picture = tokio::task::spawn_blocking(move || rules::process_picture(&input))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("picture task: {e}")))?
            .map_err(picture_error)?;
        let size = picture.bytes.len() as i64;
        if used.saturating_add(size) > quota {
            return Err(AppError::QuotaExceeded);
        }
        let mut upload = Partial::begin(&state.db, me, &room, &name, picture.content_type).await?;
        for piece in picture.bytes.chunks(CHUNK_BYTES) {
            upload.put(piece).await?;
        }
        let finished = Finished {
            content_type: picture.content_type.to_owned(),
            size,
            width: Some(i64::from(picture.width)),
            height: Some(i64::from(picture.height)),
            thumbnail: Some(picture.thumbnail),
        };
        return upload.finish(quota, finished).await;
    }

    // Any other file: stored as sent, chunk by chunk, as it arrives. A file
    // that claims to be a picture but is not one is just bytes.
    let content_type = if declared.starts_with("image/") {
        rules::OCTET_STREAM.to_owned()
    } else {
        declared
    };
    let mut upload = Partial::begin(&state.db, me, &room, &name, &content_type).await?;
    let mut buffer = BytesMut::with_capacity(CHUNK_BYTES);
    let mut pending = Some(head.freeze());
    loop {
        let bytes = match pending.take() {
            Some(bytes) => bytes,
            None => match body.next().await.transpose()? {
                Some(bytes) => bytes,
                None => break,
            },
        };
        let size = upload.size + (buffer.len() + bytes.len()) as u64;
        if size > max {
            drain(&mut body).await;
            return Err(too_large(max));
        }
        if used.saturating_add(size as i64) > quota {
            drain(&mut body).await;
            return Err(AppError::QuotaExceeded);
        }
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let take = rest.len().min(CHUNK_BYTES - buffer.len());
            buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buffer.len() == CHUNK_BYTES {
                upload.put(&buffer).await?;
                buffer.clear();
            }
        }
    }
    if !buffer.is_empty() {
        upload.put(&buffer).await?;
    }
    let finished = Finished {
        content_type,
        size: upload.size as i64,
        ..Finished::default()
    };
    upload.finish(quota, finished).await
}

/// Past `CHATROOM_MAX_UPLOAD`, said in human units.
pub fn too_large(max: u64) -> AppError {
    AppError::TooLargeThan {
        what: "The file",
        limit: max,
    }
}

fn picture_error(err: AvatarError) -> AppError {
    match err {
        AvatarError::TooLarge => AppError::TooLarge,
        AvatarError::TooManyPixels => {
            AppError::field("file", "the picture's dimensions are too large")
        }
        AvatarError::UnsupportedFormat | AvatarError::Undecodable => {
            AppError::field("file", "the picture could not be decoded")
        }
    }
}

/// Reads and drops what is left of a refused body (up to the route's body
/// limit), so the client that is still sending reads the answer rather than
/// a reset connection.
async fn drain<S: Stream<Item = Result<Bytes, AppError>>>(body: &mut std::pin::Pin<&mut S>) {
    while let Some(Ok(_)) = body.next().await {}
}

/// A turn to hold a picture in memory.
async fn picture_turn() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    static PICTURES: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(CONCURRENT_PICTURES);
    match tokio::time::timeout(PICTURE_QUEUE_WAIT, PICTURES.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::Unavailable(
            "too many pictures are being uploaded right now; try again in a minute".into(),
        )),
    }
}

/// An upload being written: removed again (bytes included) unless it is
/// finished — also when the request is dropped half-way.
struct Partial {
    db: Db,
    id: Option<i64>,
    uploader: i64,
    token: String,
    seq: i64,
    size: u64,
}

impl Partial {
    async fn begin(
        db: &Db,
        me: i64,
        room: &str,
        name: &str,
        content_type: &str,
    ) -> Result<Partial, AppError> {
        let token = new_token()?;
        let id = attachments::begin(
            db,
            &NewAttachment {
                token: &token,
                uploader_id: me,
                room,
                name,
                content_type,
                created_at: now_ms(),
            },
        )
        .await?;
        Ok(Partial {
            db: db.clone(),
            id: Some(id),
            uploader: me,
            token,
            seq: 0,
            size: 0,
        })
    }

    fn id(&self) -> i64 {
        self.id.unwrap_or_default()
    }

    async fn put(&mut self, data: &[u8]) -> Result<(), AppError> {
        attachments::put_chunk(&self.db, self.id(), self.seq, data).await?;
        self.seq += 1;
        self.size += data.len() as u64;
        Ok(())
    }

    /// Completes the upload within the account's quota.
    async fn finish(mut self, quota: i64, finished: Finished) -> Result<AttachmentView, AppError> {
        let id = self.id();
        if !attachments::complete_within_quota(&self.db, id, self.uploader, quota, &finished)
            .await?
        {
            return Err(AppError::QuotaExceeded);
        }
        self.id = None;
        let stored = attachments::find_by_token(&self.db, &self.token)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(AttachmentView::from(&stored))
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let db = self.db.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(err) = attachments::remove(&db, &[id]).await {
                        tracing::warn!(error = %err, id, "an unfinished upload was not removed; the sweep will");
                    }
                });
            }
        }
    }
}

/// 128 random bits as lowercase hex.
fn new_token() -> Result<String, AppError> {
    let mut bytes = [0_u8; TOKEN_HEX_DIGITS / 2];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether text can be a token at all (anything else is 404 at once).
fn is_token(text: &str) -> bool {
    text.len() == TOKEN_HEX_DIGITS
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The attachment behind a token, for `me` now: its uploader while it is
/// not sent; once sent, whoever may read its message (not deleted).
/// Everyone else — signed out included — gets 404, as for a token that
/// does not exist.
pub async fn readable(
    state: &AppState,
    me: Option<i64>,
    token: &str,
) -> Result<StoredAttachment, AppError> {
    let me = me.ok_or(AppError::NotFound)?;
    if !is_token(token) {
        return Err(AppError::NotFound);
    }
    let found = attachments::find_by_token(&state.db, token)
        .await?
        .ok_or(AppError::NotFound)?;
    match found.message_id {
        None if found.uploader_id == me => Ok(found),
        None => Err(AppError::NotFound),
        Some(message_id) => {
            let message = access::readable_message(&state.db, me, message_id).await?;
            if message.deleted_at.is_some() {
                return Err(AppError::NotFound);
            }
            Ok(found)
        }
    }
}

/// The bytes of a readable attachment, chunk by chunk. Fused: a body layer
/// that polls once more after the end (the gzip encoder does) gets `None`
/// again, not a panic.
pub fn bytes(
    state: &AppState,
    attachment: &StoredAttachment,
) -> impl Stream<Item = Result<Bytes, sqlx::Error>> + Send + 'static {
    let db = state.db.clone();
    let id = attachment.id;
    futures_util::stream::unfold(Some(0_i64), move |seq| {
        let db = db.clone();
        async move {
            let seq = seq?;
            match attachments::chunk(&db, id, seq).await {
                Ok(Some(data)) => Some((Ok(Bytes::from(data)), Some(seq + 1))),
                Ok(None) => None,
                Err(err) => Some((Err(err), None)),
            }
        }
    })
    .fuse()
}

/// The thumbnail of a readable picture; 404 for other files.
pub async fn thumbnail(state: &AppState, attachment: &StoredAttachment) -> Result<Bytes, AppError> {
    if attachment.has_thumbnail == 0 {
        return Err(AppError::NotFound);
    }
    attachments::thumbnail(&state.db, attachment.id)
        .await?
        .map(Bytes::from)
        .ok_or(AppError::NotFound)
}
