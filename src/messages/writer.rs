//! The message writer: one task that commits messages in batches (group
//! commit) and only then broadcasts them, in id order, and answers each sender.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::recent::Recent;
use crate::db::messages::{self, NewMessage};
use crate::db::{rfc3339, Backend, Db};
use crate::error::AppError;
use crate::live::Relay;
use crate::views::{AttachmentView, Author, MessageView};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 256;

/// One message to store, and where to send the outcome.
pub struct WriteJob {
    pub message: NewMessage,
    pub author: Arc<Author>,
    /// Echoed in the ack and the broadcast (never stored).
    pub client_id: Option<String>,
    /// The uploads it sends (claimed; attached in its transaction).
    pub attachments: Vec<AttachmentView>,
    pub reply: oneshot::Sender<Result<MessageView, AppError>>,
}

/// Starts the writer; the returned sender feeds it.
/// Each message is recorded in `recent` before it is broadcast.
pub fn spawn(db: Db, relay: Relay, recent: Arc<Recent>) -> mpsc::Sender<WriteJob> {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(4096);
    // Several instances on one PostgreSQL: commit and publish under a lock so
    // every instance broadcasts in id order.
    let shared = db.backend == Backend::Postgres && relay.is_shared();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            commit_and_publish(&db, &relay, &recent, shared, &mut batch).await;
        }
    });
    tx
}

async fn commit_and_publish(
    db: &Db,
    relay: &Relay,
    recent: &Recent,
    shared: bool,
    batch: &mut Vec<WriteJob>,
) {
    let started = std::time::Instant::now();
    let mut conn = match db.pool.acquire().await {
        Ok(conn) => conn,
        Err(err) => return fail(batch, &err),
    };
    if shared {
        if let Err(err) = messages::lock_publication(&mut conn).await {
            return fail(batch, &err);
        }
    }
    let rows: Vec<&NewMessage> = batch.iter().map(|job| &job.message).collect();
    let outcome = messages::insert_batch_on(&mut conn, db.backend, &rows).await;
    drop(rows);
    match outcome {
        Ok(ids) => {
            crate::monitoring::messages_accepted(ids.len(), started.elapsed());
            let mut published = Vec::with_capacity(batch.len());
            let mut replies = Vec::with_capacity(batch.len());
            for (job, id) in batch.drain(..).zip(ids) {
                let created_ms = job.message.created_at;
                let view = MessageView {
                    id,
                    room: job.message.room,
                    author: Some((*job.author).clone()),
                    text: job.message.text,
                    html: job.message.html,
                    created_at: rfc3339(job.message.created_at),
                    edited_at: None,
                    deleted: false,
                    reactions: Vec::new(),
                    reply_to: job.message.thread.map(|t| t.root_id),
                    in_room: job.message.thread.is_none_or(|t| t.in_room),
                    thread: None,
                    attachments: job.attachments,
                    client_id: job.client_id,
                };
                recent.record(&view);
                published.push((view, created_ms));
                replies.push(job.reply);
            }
            relay.publish_all(&published).await;
            for ((view, _), reply) in published.into_iter().zip(replies) {
                let _ = reply.send(Ok(view));
            }
        }
        Err(err) => fail(batch, &err),
    }
    if shared {
        if let Err(err) = messages::unlock_publication(&mut conn).await {
            // Closing the connection releases the lock.
            tracing::error!(error = %err, "could not release the publication lock");
            drop(conn.detach());
        }
    }
}

fn fail(batch: &mut Vec<WriteJob>, err: &sqlx::Error) {
    tracing::error!(error = %err, count = batch.len(), "storing messages failed");
    for job in batch.drain(..) {
        let _ = job.reply.send(Err(AppError::Unavailable(
            "messages could not be stored".into(),
        )));
    }
}
