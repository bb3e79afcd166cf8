//! Missed-message mail (docs/threads.md): a worker on every instance mails
//! people the direct messages and mentions they left unread while away —
//! one mail per person per delay window, never one per message — and the
//! one-click unsubscribe link every such mail carries.

pub mod unsubscribe;

use std::collections::HashSet;
use std::time::Duration;

use crate::auth::secret;
use crate::db::missed_mail::{self as store, Claim, Missed, MissedMessage};
use crate::db::{now_ms, rfc3339};
use crate::domain::RoomId;
use crate::error::AppError;
use crate::mail::{Mail, MissedLinks, Quoted};
use crate::state::AppState;

/// Messages quoted in one mail; the rest are counted.
pub const QUOTED: i64 = 20;
/// The most people mailed per tick (the rest wait for the next tick).
const PER_TICK: usize = 100;
/// The most due people looked at per tick: those with an open socket are
/// skipped, and must not keep the others waiting.
const DUE_SCAN: i64 = 10_000;
/// How long an unsubscribe link works after its mail was sent.
pub const TOKEN_LIFETIME_MS: i64 = 365 * 24 * 3600 * 1000;
/// How often expired unsubscribe tokens are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often the worker looks: a tenth of the delay, between 250 ms and
/// 15 s (a mail is at most that late).
pub fn tick_every(delay_secs: u64) -> Duration {
    Duration::from_millis(delay_secs.saturating_mul(100))
        .clamp(Duration::from_millis(250), Duration::from_secs(15))
}

/// Starts the worker of this instance. Every instance runs one; they share
/// the work through the database (each person is claimed by one).
pub fn spawn_worker(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(tick_every(state.config.missed_mail_delay));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            if let Err(err) = run_once(&state).await {
                tracing::warn!(error = %err, "missed-message mail: this round failed");
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(tokio::time::Instant::now());
                match store::prune_tokens(&state.db, now_ms() - TOKEN_LIFETIME_MS).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired unsubscribe tokens removed"),
                    Err(err) => tracing::warn!(error = %err, "unsubscribe token clean-up failed"),
                }
            }
        }
    });
}

/// One round: queues a mail for everyone due one now who has no open
/// socket on any instance; returns how many were queued.
pub async fn run_once(state: &AppState) -> Result<usize, AppError> {
    let delay_ms =
        i64::try_from(state.config.missed_mail_delay.saturating_mul(1000)).unwrap_or(i64::MAX);
    let cutoff = now_ms().saturating_sub(delay_ms);
    let due = store::due(&state.db, cutoff, DUE_SCAN).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let online: HashSet<i64> = state
        .live
        .online_among(&due)
        .await
        .into_iter()
        .map(|author| author.id)
        .collect();
    let mut queued = 0;
    for user_id in due
        .into_iter()
        .filter(|id| !online.contains(id))
        .take(PER_TICK)
    {
        match mail_missed(state, user_id, cutoff).await {
            Ok(true) => queued += 1,
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(user_id, error = %err, "missed-message mail not queued; next round retries")
            }
        }
    }
    Ok(queued)
}

/// Gathers what `user_id` missed and, if they are still due, claims them
/// and queues one mail; false when there was nothing to send or another
/// worker claimed them first.
async fn mail_missed(state: &AppState, user_id: i64, cutoff: i64) -> Result<bool, AppError> {
    let Some(missed) = store::gather(&state.db, user_id, cutoff, QUOTED).await? else {
        return Ok(false);
    };
    // Read meanwhile, so that only newer messages are left: not yet due.
    if missed.oldest_at > cutoff {
        return Ok(false);
    }
    let token = secret::random_token();
    let base = state.config.public_base();
    let links = MissedLinks {
        read: format!("{base}/discover"),
        profile: format!("{base}/profile"),
        unsubscribe: format!("{base}/{}{token}", unsubscribe::PATH_PREFIX),
    };
    let mail = compose(&missed, &links);
    let headers = crate::db::mail::header_lines(&mail.headers);
    let recipient = &missed.recipient;
    let claim = Claim {
        user_id,
        expected_through_id: recipient.mailed_through_id,
        through_id: missed.through_id,
        email: &recipient.email,
        token_hash: &secret::hash_token(&token),
    };
    let queued =
        store::claim_and_enqueue(&state.db, claim, mail.outgoing(&recipient.email, &headers))
            .await?;
    if queued {
        tracing::info!(
            user_id,
            messages = missed.total,
            "missed-message mail queued"
        );
        state.mailer.queued(&mail);
    }
    Ok(queued)
}

/// The mail for what someone missed.
fn compose(missed: &Missed, links: &MissedLinks) -> Mail {
    let quoted: Vec<Quoted> = missed.quoted.iter().map(quote).collect();
    let shown = i64::try_from(quoted.len()).unwrap_or(i64::MAX);
    let more = (missed.total - shown).max(0);
    Mail::missed_messages(&missed.recipient.username, &quoted, more, links)
}

fn quote(message: &MissedMessage) -> Quoted {
    let place = match RoomId::parse(&message.room) {
        Some(RoomId::Dm(..)) => "direct message".to_owned(),
        Some(RoomId::Global) => "the global room".to_owned(),
        Some(RoomId::Public(id)) => format!("#{}", message.room_name.as_deref().unwrap_or(&id)),
        None => message.room.clone(),
    };
    Quoted {
        author: message
            .author_username
            .clone()
            .unwrap_or_else(|| "Deleted user".to_owned()),
        place,
        at: human_time(message.created_at),
        text: message.text.clone(),
    }
}

/// `2026-05-01 14:03 UTC`.
fn human_time(ms: i64) -> String {
    let stamp = rfc3339(ms);
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => stamp,
    }
}

/// The stored hash of a token as the link carries it; `NotFound` for text
/// that no token of ours can be (tokens are 43 URL-safe base64 characters).
fn token_hash(token: &str) -> Result<String, AppError> {
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if well_formed {
        Ok(secret::hash_token(token))
    } else {
        Err(AppError::NotFound)
    }
}

/// Checks that an unsubscribe link works (the page that offers the button).
pub async fn check_unsubscribe_token(state: &AppState, token: &str) -> Result<(), AppError> {
    let hash = token_hash(token)?;
    store::token_owner(&state.db, &hash, now_ms() - TOKEN_LIFETIME_MS)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

/// The one-click unsubscribe: turns missed-message mail off for the
/// link's account, and changes nothing else. Idempotent.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<(), AppError> {
    let hash = token_hash(token)?;
    let user_id = store::unsubscribe(&state.db, &hash, now_ms() - TOKEN_LIFETIME_MS)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(
        user_id,
        "missed-message mail turned off by an unsubscribe link"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_follow_the_delay_within_bounds() {
        assert_eq!(tick_every(1), Duration::from_millis(250));
        assert_eq!(tick_every(10), Duration::from_secs(1));
        assert_eq!(tick_every(600), Duration::from_secs(15));
        assert_eq!(tick_every(u64::MAX), Duration::from_secs(15));
    }

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert!(token_hash(&"a".repeat(43)).is_ok());
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &format!("{}\0", "a".repeat(42)),
        ] {
            assert!(
                matches!(token_hash(bad), Err(AppError::NotFound)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn places_and_times_read_well() {
        let message = |room: &str, name: Option<&str>| MissedMessage {
            id: 1,
            room: room.into(),
            room_name: name.map(str::to_owned),
            author_username: None,
            text: "hi".into(),
            created_at: 1_777_644_180_000,
        };
        assert_eq!(quote(&message("dm:1:2", None)).place, "direct message");
        assert_eq!(quote(&message("global", None)).place, "the global room");
        assert_eq!(
            quote(&message("rust-fans", Some("Rust-Fans"))).place,
            "#Rust-Fans"
        );
        assert_eq!(quote(&message("global", None)).author, "Deleted user");
        assert_eq!(quote(&message("global", None)).at, "2026-05-01 14:03 UTC");
    }
}
