//! A connection that can be cut from elsewhere. Each accepted stream is
//! wrapped, and its [`Severance`] rides in the extensions of the requests
//! it carries, so the chat can end a WebSocket whose client has stopped
//! reading: once severed, every read and write fails at once, even one
//! already waiting for the network.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
struct Cut {
    severed: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
    /// When a write last found the peer's window full and has not gone
    /// through since ([`since_start`] milliseconds; 0: not blocked).
    blocked_since: AtomicU64,
}

/// Milliseconds since the first call, never 0.
fn since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
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

    /// How long writes have been waiting for the peer to read, if they are.
    pub fn blocked_for(&self) -> Option<Duration> {
        match self.0.blocked_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(since_start().saturating_sub(since))),
        }
    }

    fn note_write<T>(&self, poll: &Poll<T>) {
        let blocked = &self.0.blocked_since;
        match poll {
            Poll::Pending => {
                if blocked.load(Ordering::Relaxed) == 0 {
                    blocked.store(since_start(), Ordering::Relaxed);
                }
            }
            Poll::Ready(_) => blocked.store(0, Ordering::Relaxed),
        }
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

impl<S: AsyncWrite + Unpin> Severable<S> {
    /// A write to the inner stream, unless severed; notes whether it waits.
    fn poll_writing<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        self.cut.0.writer.register(cx.waker());
        if self.cut.is_severed() {
            return Poll::Ready(Err(severed()));
        }
        let poll = write(Pin::new(&mut self.inner), cx);
        self.cut.note_write(&poll);
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Severable<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_writing(cx, |inner, cx| inner.poll_write(cx, data))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_writing(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
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
    async fn a_write_the_peer_does_not_read_counts_as_blocked_until_it_goes_through() {
        let (near, mut far) = tokio::io::duplex(16);
        let (mut stream, cut) = Severable::new(near);
        assert_eq!(cut.blocked_for(), None);
        let writer = tokio::spawn(async move {
            stream.write_all(&[7u8; 64]).await.unwrap();
            stream
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(cut
            .blocked_for()
            .is_some_and(|d| d >= Duration::from_millis(20)));
        let mut buf = [0u8; 64];
        far.read_exact(&mut buf).await.unwrap();
        let _stream = writer.await.unwrap();
        assert_eq!(cut.blocked_for(), None);
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
