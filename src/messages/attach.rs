//! Sending uploaded files with a message (docs/attachments.md): which ids
//! a message may name, and the claim that keeps two messages from taking
//! the same upload.

use crate::db::{attachments, now_ms};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::AttachmentView;

/// Most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

fn invalid(reason: &str) -> AppError {
    AppError::field("attachments", reason)
}

/// Checks the shape of the list: at most ten ids, each once.
pub fn check(ids: &[i64]) -> Result<(), AppError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(invalid("at most 10 attachments per message"));
    }
    for (i, id) in ids.iter().enumerate() {
        if *id <= 0 {
            return Err(invalid("must be ids of your uploads to this conversation"));
        }
        if ids[..i].contains(id) {
            return Err(invalid("each attachment may be listed once"));
        }
    }
    Ok(())
}

/// Uploads taken by a message on its way to the writer.
pub struct Claim {
    pub token: String,
    pub views: Vec<AttachmentView>,
}

/// Takes every listed upload for a message of `me` in `room`, or none:
/// each must be `me`'s, of this conversation, and neither sent nor taken
/// by another message in flight.
pub async fn claim(
    state: &AppState,
    me: i64,
    room: &str,
    ids: &[i64],
) -> Result<Option<Claim>, AppError> {
    if ids.is_empty() {
        return Ok(None);
    }
    let mut random = [0_u8; 16];
    getrandom::fill(&mut random)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let rows = attachments::claim(&state.db, ids, me, room, &token, now_ms()).await?;
    if rows.is_empty() {
        return Err(invalid(
            "must be your own uploads to this conversation, not sent yet",
        ));
    }
    Ok(Some(Claim {
        token,
        views: rows.iter().map(AttachmentView::from).collect(),
    }))
}

/// Frees the uploads of a message that was not stored.
pub async fn release(state: &AppState, claim: &Claim) {
    if let Err(err) = attachments::release(&state.db, &claim.token).await {
        tracing::warn!(error = %err, "a claim on attachments was not released; the sweep will");
    }
}
