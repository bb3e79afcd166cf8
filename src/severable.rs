//! A connection that can be cut from elsewhere. Each accepted stream is
//! wrapped, and its [`Severance`] rides in the extensions of the requests
//! it carries, so the chat can end a WebSocket whose client has stopped
//! reading: once severed, every read and write fails at once, even one
//! already waiting for the network.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
struct Cut {
    severed: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

/// The handle that cuts one connection.
#[derive(Clone, Default)]
pub struct Severance(Arc<Cut>);

impl Severance {
    /// Ends the connection: pending and later reads and writes fail.
    pub fn sever(&self) {
        self.0.severed.store(true, Ordering::Release);
        self.0.reader.wake();
        self.0.writer.wake();
    }

    fn is_severed(&self) -> bool {
        self.0.severed.load(Ordering::Acquire)
    }
}

/// A stream with a [`Severance`].
pub struct Severable<S> {
    inner: S,
    cut: Severance,
}

impl<S> Severable<S> {
    pub fn new(inner: S) -> (Self, Severance) {
        let cut = Severance::default();
        (
            Severable {
                inner,
                cut: cut.clone(),
            },
            cut,
        )
    }
}

fn severed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection severed")
}

impl<S: AsyncRead + Unpin> AsyncRead for Severable<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.cut.0.reader.register(cx.waker());
        if self.cut.is_severed() {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Severable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.cut.0.writer.register(cx.waker());
        if self.cut.is_severed() {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.cut.0.writer.register(cx.waker());
        if self.cut.is_severed() {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.cut.0.writer.register(cx.waker());
        if self.cut.is_severed() {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cut.is_severed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_pending_read_fails_once_severed() {
        let (near, mut far) = tokio::io::duplex(64);
        let (mut stream, cut) = Severable::new(near);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            stream.read(&mut buf).await
        });
        tokio::task::yield_now().await;
        cut.sever();
        let outcome = reader.await.unwrap();
        assert_eq!(
            outcome.unwrap_err().kind(),
            io::ErrorKind::ConnectionAborted
        );
        // The other end sees the stream go away.
        let mut buf = [0u8; 1];
        assert_eq!(far.read(&mut buf).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_write_blocked_on_a_full_peer_fails_once_severed() {
        let (near, _far) = tokio::io::duplex(16);
        let (mut stream, cut) = Severable::new(near);
        let writer = tokio::spawn(async move { stream.write_all(&[0u8; 1024]).await });
        tokio::task::yield_now().await;
        cut.sever();
        assert!(writer.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn untouched_it_passes_bytes_through() {
        let (near, mut far) = tokio::io::duplex(64);
        let (mut stream, _cut) = Severable::new(near);
        stream.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        far.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }
}
