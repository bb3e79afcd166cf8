//! Prometheus metrics (docs/operations.md lists every one). Recording goes
//! through the `metrics` facade everywhere in the code; the Prometheus
//! recorder is installed once per process, and `GET /metrics` is served on
//! its own listener (`CHATROOM_METRICS_BIND`), never on the public one.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::state::AppState;

/// Latency buckets, in seconds: 1 ms … 10 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Writer batch sizes.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process's recorder, installed on first use.
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("chatroom_writer_batch_size".into()),
                        BATCH,
                    )
                });
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Help texts, shown by `GET /metrics`.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "chatroom_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "chatroom_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method and route template"
    );
    describe_gauge!(
        "chatroom_sockets_open",
        "Socket.IO connections open on this instance"
    );
    describe_counter!(
        "chatroom_messages_accepted_total",
        "New messages committed and acknowledged"
    );
    describe_counter!(
        "chatroom_messages_refused_total",
        "New messages refused, by reason (the error code)"
    );
    describe_counter!(
        "chatroom_messages_delivered_total",
        "Messages (new and changed) handed to this instance's sockets"
    );
    describe_histogram!(
        "chatroom_delivery_lag_seconds",
        Unit::Seconds,
        "From a new message's commit to its hand-over to this instance's sockets"
    );
    describe_histogram!(
        "chatroom_writer_batch_size",
        "Messages committed per transaction"
    );
    describe_histogram!(
        "chatroom_writer_commit_seconds",
        Unit::Seconds,
        "Time to commit one batch of messages"
    );
    describe_gauge!(
        "chatroom_db_pool_connections",
        "Database pool connections, by state (idle, in_use)"
    );
    describe_gauge!(
        "chatroom_db_pool_max_connections",
        "Database pool size limit"
    );
    describe_histogram!(
        "chatroom_relay_lag_seconds",
        Unit::Seconds,
        "With Redis: from publishing a message to receiving it back"
    );
    describe_counter!(
        "chatroom_relay_gap_fills_total",
        "With Redis: gaps in relayed ids filled from the database"
    );
    describe_counter!(
        "chatroom_relay_gap_filled_messages_total",
        "With Redis: messages handed on by gap fills"
    );
    describe_gauge!("chatroom_mail_queue_depth", "Mails waiting to be sent");
    describe_counter!(
        "chatroom_mail_sent_total",
        "Mails sent (or written to the outbox)"
    );
    describe_counter!(
        "chatroom_mail_failures_total",
        "Mail attempts that failed, by kind (retry, permanent)"
    );
    describe_counter!(
        "chatroom_logins_total",
        "Password logins, by outcome (succeeded, failed, rate_limited, suspended)"
    );
    describe_gauge!(
        "chatroom_draining",
        "1 while this instance is shutting down (readyz answers 503)"
    );
}

/// Installs the recorder (once per process) so that what the code records
/// is kept; returns whether metrics are kept.
pub fn install() -> bool {
    handle().is_some()
}

/// Serves `GET /metrics` on `addr` until the process ends; the bound
/// address is returned (port 0 picks one).
pub async fn serve(addr: SocketAddr, state: AppState) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/metrics", get(render))
        .with_state(state.clone());
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });
    spawn_sampler(state);
    Ok(bound)
}

async fn render() -> Response {
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Gauges read from the outside every few seconds: the database pool and
/// the mail queue; also the recorder's upkeep.
fn spawn_sampler(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let pool = &state.db.pool;
            let idle = pool.num_idle() as f64;
            let size = f64::from(pool.size());
            gauge!("chatroom_db_pool_connections", "state" => "idle").set(idle);
            gauge!("chatroom_db_pool_connections", "state" => "in_use").set((size - idle).max(0.0));
            gauge!("chatroom_db_pool_max_connections")
                .set(f64::from(pool.options().get_max_connections()));
            match crate::db::mail::queue_depth(&state.db).await {
                Ok(depth) => gauge!("chatroom_mail_queue_depth").set(depth as f64),
                Err(err) => tracing::debug!(error = %err, "mail queue depth unavailable"),
            }
            if let Some(handle) = handle() {
                handle.run_upkeep();
            }
        }
    });
}

/// Counts each HTTP request by its route template (never the raw path:
/// ids would make every path a new series).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!("chatroom_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    histogram!("chatroom_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A socket opened (`+1`) or closed (`-1`) on this instance.
pub fn socket_opened(open: bool) {
    if open {
        gauge!("chatroom_sockets_open").increment(1.0);
    } else {
        gauge!("chatroom_sockets_open").decrement(1.0);
    }
}

/// A new message was refused, by its error code.
pub fn message_refused(code: &'static str) {
    counter!("chatroom_messages_refused_total", "reason" => code).increment(1);
}

/// New messages were committed.
pub fn messages_accepted(count: usize, commit: Duration) {
    counter!("chatroom_messages_accepted_total").increment(count as u64);
    histogram!("chatroom_writer_batch_size").record(count as f64);
    histogram!("chatroom_writer_commit_seconds").record(commit.as_secs_f64());
}

/// A message was handed to this instance's sockets, `lag` after its commit.
pub fn message_delivered(lag: Option<Duration>) {
    counter!("chatroom_messages_delivered_total").increment(1);
    if let Some(lag) = lag {
        histogram!("chatroom_delivery_lag_seconds").record(lag.as_secs_f64());
    }
}

/// With Redis: a message came back from the channel `lag` after publishing.
pub fn relayed(lag: Duration) {
    histogram!("chatroom_relay_lag_seconds").record(lag.as_secs_f64());
}

/// With Redis: a gap in relayed ids was filled with `messages` messages.
pub fn gap_filled(messages: usize) {
    counter!("chatroom_relay_gap_fills_total").increment(1);
    counter!("chatroom_relay_gap_filled_messages_total").increment(messages as u64);
}

/// A mail went out, or failed (`permanent`: it will not be tried again).
pub fn mail_outcome(sent: bool, permanent: bool) {
    match (sent, permanent) {
        (true, _) => counter!("chatroom_mail_sent_total").increment(1),
        (false, true) => {
            counter!("chatroom_mail_failures_total", "kind" => "permanent").increment(1)
        }
        (false, false) => counter!("chatroom_mail_failures_total", "kind" => "retry").increment(1),
    }
}

/// A password login ended this way.
pub fn login(outcome: &'static str) {
    counter!("chatroom_logins_total", "outcome" => outcome).increment(1);
}

/// This instance started (`true`) or stopped draining.
pub fn draining(on: bool) {
    gauge!("chatroom_draining").set(if on { 1.0 } else { 0.0 });
}
