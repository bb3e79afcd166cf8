//! Outgoing mail: queued in the database, delivered by a background worker
//! through SMTP or, without SMTP, written as `.eml` files to the outbox.

mod templates;
mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

pub use templates::{Mail, MissedLinks, Quoted};
pub use worker::{spawn_worker, Transport};

use crate::db::{self, Db};

/// Queues mails and wakes the worker.
#[derive(Clone)]
pub struct Mailer {
    db: Db,
    wake: Arc<Notify>,
    /// Links are logged for people running without SMTP.
    log_links: bool,
}

impl Mailer {
    pub fn new(db: Db, log_links: bool) -> Self {
        Mailer {
            db,
            wake: Arc::new(Notify::new()),
            log_links,
        }
    }

    /// The signal the worker waits on.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stores the mail for delivery; it survives restarts and outages.
    pub async fn send(&self, to: &str, mail: Mail) -> sqlx::Result<()> {
        let headers = db::mail::header_lines(&mail.headers);
        db::mail::enqueue(&self.db, mail.outgoing(to, &headers)).await?;
        self.queued(&mail);
        Ok(())
    }

    /// After a mail was queued by other means (inside a transaction of
    /// the caller's): logs its link in outbox mode and wakes the worker.
    pub fn queued(&self, mail: &Mail) {
        if self.log_links {
            if let Some(link) = &mail.link {
                tracing::info!(%link, subject = %mail.subject, "mail queued to the outbox; its link");
            }
        }
        self.wake.notify_one();
    }
}
