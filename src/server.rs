//! The HTTP/1.1 server loop: header timeout, WebSocket upgrades, client
//! addresses, request logs and graceful shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::severable::Severable;

/// A client must send a complete request head within this time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// A request body must arrive within this time.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// In-flight requests get this long to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts open connections per client address.
#[derive(Clone, Default)]
struct ConnectionCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// Releases a connection's slot when the connection ends.
struct Slot {
    counts: ConnectionCounts,
    ip: IpAddr,
}

impl ConnectionCounts {
    fn acquire(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    live: crate::live::Live,
    max_per_ip: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let counts = ConnectionCounts::default();
    // Every connection task holds a sender; when all are gone, all are done.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = counts.acquire(peer.ip(), max_per_ip) else {
            tracing::warn!(ip = %peer.ip(), "too many connections from one address; refused");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (stream, severance) = Severable::new(stream);
        let service = router.clone().map_request(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                if request.uri().path().starts_with("/socket.io") {
                    detach_head(&mut request);
                }
                let extensions = request.extensions_mut();
                extensions.insert(ConnectInfo::<SocketAddr>(peer));
                extensions.insert(severance.clone());
                request
            },
        );
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: closing live chat connections");
    drop(listener);
    live.close().await;
    let _ = stop_tx.send(true);
    drop(alive_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish in time");
    }
    tracing::info!("stopped");
}

/// Copies a request's URI and header values out of the connection's read
/// buffer into one buffer of their own. hyper parses them as slices of that
/// buffer (8 KiB or more), and socket.io keeps a socket's request head for
/// as long as the socket lives, so each idle socket would otherwise hold its
/// connection's whole read buffer.
fn detach_head<B>(request: &mut hyper::Request<B>) {
    let uri = request.uri().to_string();
    let headers = std::mem::take(request.headers_mut());
    let size = uri.len() + headers.values().map(|v| v.len()).sum::<usize>();
    let mut buf = Vec::with_capacity(size);
    buf.extend_from_slice(uri.as_bytes());
    for value in headers.values() {
        buf.extend_from_slice(value.as_bytes());
    }
    let buf = bytes::Bytes::from(buf);
    if let Ok(copied) = axum::http::Uri::from_maybe_shared(buf.slice(..uri.len())) {
        *request.uri_mut() = copied;
    }
    let mut copied = axum::http::HeaderMap::with_capacity(headers.len());
    let mut at = uri.len();
    for (name, value) in &headers {
        let slice = buf.slice(at..at + value.len());
        at += value.len();
        let value = match axum::http::HeaderValue::from_maybe_shared(slice) {
            Ok(mut owned) => {
                owned.set_sensitive(value.is_sensitive());
                owned
            }
            Err(_) => value.clone(),
        };
        copied.append(name.clone(), value);
    }
    *request.headers_mut() = copied;
}

/// A request path as logged: the token of an unsubscribe link (a secret
/// in the path, SECURITY.md) is left out.
fn loggable_path(path: &str) -> String {
    if path.starts_with("/unsubscribe/") {
        "/unsubscribe/{token}".to_owned()
    } else {
        path.to_owned()
    }
}

/// One log line per request: method, path (never the query, which may hold
/// tokens, nor a token in the path), status and latency.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = loggable_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if path.starts_with("/socket.io") {
        tracing::debug!(%method, %path, status, latency_ms, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, "request");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{detach_head, loggable_path};

    #[test]
    fn tokens_in_paths_are_not_logged() {
        assert_eq!(
            loggable_path("/unsubscribe/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"),
            "/unsubscribe/{token}"
        );
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }

    #[test]
    fn a_detached_head_keeps_its_uri_and_every_header() {
        let mut request = hyper::Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("cookie", "chatroom_session=abc")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2")
            .header("origin", "http://localhost")
            .body(())
            .unwrap();
        let before = request.headers().clone();
        detach_head(&mut request);
        assert_eq!(request.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(request.uri().query(), Some("EIO=4&transport=websocket"));
        assert_eq!(request.headers(), &before);
        let forwarded: Vec<_> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .collect();
        assert_eq!(forwarded, ["10.0.0.1", "10.0.0.2"]);
    }
}
