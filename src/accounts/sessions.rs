//! Ending sessions: the one place that deletes them and cuts the live
//! sockets that came with them, on every instance, each told why first
//! (`signed_out`, docs/realtime.md). A cut missed while Redis was away is
//! caught by `chat`'s session sweep.

use crate::auth::sign_out::SignOutReason;
use crate::db::sessions;
use crate::error::AppError;
use crate::state::AppState;

/// Ends one session (logout).
pub async fn end(state: &AppState, session_id: i64) -> Result<(), AppError> {
    sessions::delete(&state.db, session_id).await?;
    state
        .live
        .sign_out_sessions(&[session_id], SignOutReason::LoggedOut)
        .await;
    Ok(())
}

/// Ends one of the user's sessions from another of theirs; false when it
/// is not theirs (or gone).
pub async fn end_own(state: &AppState, user_id: i64, session_id: i64) -> Result<bool, AppError> {
    let ended = sessions::delete_of_user(&state.db, user_id, session_id).await?;
    if ended {
        state
            .live
            .sign_out_sessions(&[session_id], SignOutReason::SessionEnded)
            .await;
    }
    Ok(ended)
}

/// Ends every session of the user but `keep`, telling their sockets
/// `reason`; returns how many ended.
pub async fn end_all(
    state: &AppState,
    user_id: i64,
    keep: Option<i64>,
    reason: SignOutReason,
) -> Result<usize, AppError> {
    let ended = sessions::delete_all_of_user(&state.db, user_id, keep).await?;
    state.live.sign_out_sessions(&ended, reason).await;
    Ok(ended.len())
}
