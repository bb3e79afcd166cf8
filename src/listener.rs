//! The main listener: bound with a listen backlog large enough for a
//! reconnect storm.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel queues before they are accepted. The default
/// (128) overflows when thousands of clients reconnect at once (a proxy
/// reload, a restart): the excess SYNs are dropped and retried a second
/// later. The kernel caps it at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

pub(crate) fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restart can bind again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// With the old default backlog (128), connections past the 129th
    /// wait for a listener that does not accept: their SYNs are dropped.
    #[tokio::test]
    async fn a_burst_of_connections_is_queued_not_dropped() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut streams = Vec::new();
        for _ in 0..600 {
            let connected = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            )
            .await;
            match connected {
                Ok(Ok(stream)) => streams.push(stream),
                _ => break,
            }
        }
        assert_eq!(streams.len(), 600, "connections queued before accepting");
        drop(listener);
    }
}
