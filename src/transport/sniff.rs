//! A pass-through socket wrapper that remembers the first bytes the server sent.
//!
//! TLS libraries report "corrupt message" or "EOF" during a handshake; whether the server sent
//! nothing at all, or sent bytes that are not TLS, is what tells a plain SMPP server on a TLS
//! channel apart from a TLS server that refused us.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many leading bytes are kept: a TLS record header.
const HEAD_LEN: usize = 5;

/// What the server has sent so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sniffed {
    /// Bytes received in total.
    pub received: u64,
    /// The first bytes received, at most a record header.
    pub head: Vec<u8>,
}

/// A shared view of a [`Sniff`]'s record, still readable after the stream is gone (for
/// instance when a handshake timed out and its future was dropped).
#[derive(Clone, Debug, Default)]
pub(crate) struct SniffLog(Arc<Mutex<Sniffed>>);

impl SniffLog {
    /// A copy of what was recorded.
    pub(crate) fn snapshot(&self) -> Sniffed {
        // A poisoned lock only means a panic elsewhere; the record itself is still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, bytes: &[u8]) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.received += bytes.len() as u64;
        let room = HEAD_LEN.saturating_sub(s.head.len());
        s.head.extend(bytes.iter().take(room));
    }
}

/// Wraps a socket and records what it reads into a [`SniffLog`].
#[derive(Debug)]
pub(crate) struct Sniff<T> {
    inner: T,
    log: SniffLog,
}

impl<T> Sniff<T> {
    pub(crate) fn new(inner: T) -> (Self, SniffLog) {
        let log = SniffLog::default();
        (
            Sniff {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Sniff<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                self.log.record(new);
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Sniff<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
