//! The message writer: one task that commits messages in batches (group
//! commit) and only then broadcasts them, in id order, and answers each sender.

use std::sync::Arc;

use socketioxide::SocketIo;
use tokio::sync::{mpsc, oneshot};

use crate::db::messages::{self, NewMessage};
use crate::db::{rfc3339, Db};
use crate::error::AppError;
use crate::views::{Author, MessageView};

/// The room everyone is in.
pub const GLOBAL_ROOM: &str = "global";
/// Most messages committed in one transaction.
const MAX_BATCH: usize = 256;

/// One message to store, and where to send the outcome.
pub struct WriteJob {
    pub message: NewMessage,
    pub author: Arc<Author>,
    pub reply: oneshot::Sender<Result<MessageView, AppError>>,
}

/// Starts the writer; the returned sender feeds it.
pub fn spawn(db: Db, io: SocketIo) -> mpsc::Sender<WriteJob> {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(4096);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            commit_and_publish(&db, &io, &mut batch).await;
        }
    });
    tx
}

async fn commit_and_publish(db: &Db, io: &SocketIo, batch: &mut Vec<WriteJob>) {
    let rows: Vec<NewMessage> = batch.iter().map(|job| job.message.clone()).collect();
    match messages::insert_batch(db, &rows).await {
        Ok(ids) => {
            for (job, id) in batch.drain(..).zip(ids) {
                let view = MessageView {
                    id,
                    room: job.message.room,
                    author: Some((*job.author).clone()),
                    text: job.message.text,
                    created_at: rfc3339(job.message.created_at),
                };
                if let Err(err) = io.to(GLOBAL_ROOM).emit("message", &view).await {
                    tracing::warn!(error = %err, message_id = id, "broadcast failed");
                }
                let _ = job.reply.send(Ok(view));
            }
        }
        Err(err) => {
            tracing::error!(error = %err, count = batch.len(), "storing messages failed");
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(AppError::Unavailable(
                    "messages could not be stored".into(),
                )));
            }
        }
    }
}
