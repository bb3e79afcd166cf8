//! The delivery worker: claims due mails, sends them, retries with backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::db::mail::{self as queue, QueuedMail};
use crate::db::{now_ms, Db};

/// Attempts before a mail is given up.
const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed mail stays invisible to other workers.
const LEASE_MS: i64 = 120_000;
/// Other instances may queue mail: look at the queue at least this often.
const POLL: Duration = Duration::from_secs(15);

/// Where mails go.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    /// SMTP from a `smtp://` / `smtps://` URL.
    pub fn smtp(url: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Transport::Smtp(transport))
    }

    /// `.eml` files in a directory (created when missing).
    pub fn outbox(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Transport::Outbox(AsyncFileTransport::new(dir)))
    }

    async fn send(&self, message: Message) -> Result<(), SendFailure> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendFailure::Permanent(e.to_string())
                } else {
                    SendFailure::Transient(e.to_string())
                }
            }),
            Transport::Outbox(files) => files
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendFailure::Transient(e.to_string())),
        }
    }
}

enum SendFailure {
    Transient(String),
    Permanent(String),
}

fn build(from: &Mailbox, mail: &QueuedMail) -> Result<Message, String> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    for header in extra_headers(&mail.headers)? {
        builder = builder.raw_header(header);
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.body_text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.body_html.clone()),
                ),
        )
        .map_err(|e| e.to_string())
}

/// The stored `Name: value` lines as headers. Only printable ASCII passes
/// (nothing can end a header line early or start another).
fn extra_headers(lines: &str) -> Result<Vec<HeaderValue>, String> {
    let mut headers = Vec::new();
    for line in lines.lines().filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("header line without a name: {line:?}"))?;
        let printable = |text: &str| text.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !printable(value) || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!("header {name:?} is not printable ASCII"));
        }
        let name = HeaderName::new_from_ascii(name.to_owned())
            .map_err(|_| format!("header name {name:?} is not valid"))?;
        headers.push(HeaderValue::new(name, value.to_owned()));
    }
    Ok(headers)
}

/// Backoff after the n-th failed attempt: 1 s, 2 s, 4 s … capped at 10 min.
fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (1000i64 << exp).min(600_000)
}

/// Runs the worker until the process ends.
pub fn spawn_worker(db: Db, transport: Transport, from: Mailbox, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let claimed = match queue::claim_due(&db, 20, LEASE_MS).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = %err, "mail queue unavailable");
                    Vec::new()
                }
            };
            for mail in &claimed {
                deliver(&db, &transport, &from, mail).await;
            }
            if !claimed.is_empty() {
                continue;
            }
            let wait = match queue::next_due_at(&db).await {
                Ok(Some(due)) => Duration::from_millis((due - now_ms()).clamp(0, 15_000) as u64),
                _ => POLL,
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    });
}

async fn deliver(db: &Db, transport: &Transport, from: &Mailbox, mail: &QueuedMail) {
    let outcome = match build(from, mail) {
        Ok(message) => transport.send(message).await,
        Err(reason) => Err(SendFailure::Permanent(reason)),
    };
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(mail_id = mail.id, "mail delivered");
            crate::monitoring::mail_outcome(true, false);
            queue::mark_sent(db, mail.id).await
        }
        Err(SendFailure::Transient(reason)) if mail.attempts + 1 < MAX_ATTEMPTS => {
            let delay = backoff_ms(mail.attempts);
            tracing::warn!(mail_id = mail.id, %reason, retry_in_ms = delay, "mail delivery failed; will retry");
            crate::monitoring::mail_outcome(false, false);
            queue::mark_failed(db, mail.id, &reason, Some(delay)).await
        }
        Err(SendFailure::Transient(reason) | SendFailure::Permanent(reason)) => {
            tracing::error!(mail_id = mail.id, %reason, "mail delivery failed for good");
            crate::monitoring::mail_outcome(false, true);
            queue::mark_failed(db, mail.id, &reason, None).await
        }
    };
    if let Err(err) = recorded {
        tracing::warn!(mail_id = mail.id, error = %err, "could not record mail outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(headers: &str) -> QueuedMail {
        QueuedMail {
            id: 1,
            recipient: "bob@example.com".into(),
            subject: "Subject".into(),
            body_text: "text".into(),
            body_html: "<p>html</p>".into(),
            attempts: 0,
            headers: headers.into(),
        }
    }

    #[test]
    fn extra_headers_reach_the_message_whole() {
        let from: Mailbox = "chatroom <noreply@localhost>".parse().unwrap();
        let url = format!(
            "http://chat.example.com:8080/unsubscribe/{}",
            "A".repeat(43)
        );
        let lines = format!(
            "List-Unsubscribe: <{url}>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
        );
        let message = build(&from, &queued(&lines)).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(
            raw.contains(&format!("\r\nList-Unsubscribe: <{url}>\r\n")),
            "{raw}"
        );
        assert!(raw.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(build(&from, &queued("")).is_ok());
    }

    #[test]
    fn header_lines_that_could_inject_are_refused() {
        let from: Mailbox = "chatroom <noreply@localhost>".parse().unwrap();
        for bad in [
            "X-Evil: a\rBcc: x@y",
            "Bad Name: x",
            "no separator",
            "X-Ok: caf\u{e9}",
        ] {
            assert!(build(&from, &queued(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(3), 8000);
        assert_eq!(backoff_ms(30), 600_000);
    }
}
