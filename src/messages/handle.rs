//! The message service's running parts: the writer that commits and
//! publishes new messages, and the per-account write budget. `AppState`
//! holds one; the service functions reach it through the state.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::budget::Budget;
use super::recent::Recent;
use super::writer::{self, WriteJob};
use crate::db::Db;
use crate::live::Live;

/// Handle on the message writer and the per-account write budget.
#[derive(Clone)]
pub struct Messages {
    pub(super) writer: mpsc::Sender<WriteJob>,
    pub(super) budget: Arc<Budget>,
    /// The newest messages of busy conversations (alone only).
    pub(super) recent: Arc<Recent>,
}

impl Messages {
    /// Starts the writer; `rate` writes per second per account are allowed
    /// (with bursts of `max(10, 5 × rate)`).
    pub fn start(db: Db, live: &Live, rate: f64) -> Messages {
        let relay = live.relay().clone();
        let recent = Arc::new(Recent::new(!relay.is_shared()));
        Messages {
            writer: writer::spawn(db, relay, recent.clone()),
            budget: Arc::new(Budget::new(rate)),
            recent,
        }
    }
}
