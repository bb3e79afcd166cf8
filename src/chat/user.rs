//! The user behind a socket, kept in its extensions from the handshake on.

use std::sync::{Arc, Mutex};

use crate::auth::rate_limit::TokenBucket;
use crate::error::AppError;
use crate::views::Author;

/// Who a socket belongs to, and its allowance of events.
#[derive(Debug, Clone)]
pub struct ChatUser {
    pub id: i64,
    pub username: String,
    /// The session the socket was opened with (ended → socket cut).
    pub session_id: i64,
    pub author: Author,
    /// Every event of this socket takes a token: a flood gets error acks.
    events: Arc<Mutex<TokenBucket>>,
}

impl ChatUser {
    /// A socket's user; `chat_rate` sizes its allowance of events: at least
    /// 20 per second (bursts of three seconds' worth), and twice the chat
    /// rate.
    pub fn new(id: i64, username: String, session_id: i64, author: Author, chat_rate: f64) -> Self {
        let rate = (chat_rate * 2.0).max(20.0);
        ChatUser {
            id,
            username,
            session_id,
            author,
            events: Arc::new(Mutex::new(TokenBucket::new(rate, rate * 3.0))),
        }
    }

    /// Takes one event of the socket's allowance.
    pub fn allow_event(&self) -> Result<(), AppError> {
        let mut bucket = self.events.lock().unwrap_or_else(|e| e.into_inner());
        bucket
            .take()
            .map_err(|retry_after| AppError::RateLimited { retry_after })
    }
}
