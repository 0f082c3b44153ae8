//! [`Stream`]: the one connection type the session reads and writes, whatever the TLS mode.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::classify::{self, looks_like_tls_record, ReadEnd};
use super::error::TransportError;
use super::settings::{TlsMode, TlsVersion};
use super::sniff::Sniff;

/// The socket under a [`Stream`].
pub(crate) enum Io {
    Plain(TcpStream),
    Rustls(Box<tokio_rustls::client::TlsStream<Sniff<TcpStream>>>),
    #[cfg(feature = "tls11")]
    OpenSsl(Box<tokio_openssl::SslStream<Sniff<TcpStream>>>),
}

/// An open connection to the SMSC: plain TCP, rustls, or OpenSSL (TLS 1.1).
///
/// It remembers whether any application byte has been read yet, so that a failure of the
/// first read (the bind response) can be told apart from a later disconnect: see
/// [`Stream::classify_read_end`]. Reads do that classification themselves: until the first
/// byte arrives, an EOF or a read error comes back as an `io::Error` whose inner error is the
/// [`TransportError`] (find it with [`TransportError::from_io`]), and first bytes that are a
/// TLS record on a plain channel come back as [`TransportError::TlsServerOnPlainChannel`].
pub struct Stream {
    io: Io,
    peer: SocketAddr,
    mode: TlsMode,
    version: Option<TlsVersion>,
    received_data: bool,
}

impl Stream {
    pub(crate) fn new(
        io: Io,
        peer: SocketAddr,
        mode: TlsMode,
        version: Option<TlsVersion>,
    ) -> Self {
        Stream {
            io,
            peer,
            mode,
            version,
            received_data: false,
        }
    }

    /// The SMSC's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The channel's TLS mode.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The TLS version negotiated, `None` on plain TCP.
    pub fn tls_version(&self) -> Option<TlsVersion> {
        self.version
    }

    /// Whether any application byte has been read from this connection.
    pub fn received_data(&self) -> bool {
        self.received_data
    }

    /// Classifies a read that ended with EOF or an error.
    ///
    /// Before the first application byte, this is the TLS 1.3 window where a mutual-mode
    /// certificate rejection shows up ([`classify::classify_first_read_error`]); after it,
    /// the result is always [`TransportError::LinkLost`].
    pub fn classify_read_end(&self, end: ReadEnd<'_>) -> TransportError {
        if self.received_data {
            classify::link_lost(end, self.peer)
        } else {
            classify::classify_first_read_error(end, self.mode, self.version, self.peer)
        }
    }

    /// On a plain channel, recognises first bytes that are a TLS record: the SMSC probably
    /// requires TLS. Pass the first bytes read; `None` when they look like anything else.
    pub fn check_first_bytes(&self, bytes: &[u8]) -> Option<TransportError> {
        (self.mode == TlsMode::Off && looks_like_tls_record(bytes))
            .then_some(TransportError::TlsServerOnPlainChannel { address: self.peer })
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("peer", &self.peer)
            .field("mode", &self.mode)
            .field("version", &self.version)
            .field("received_data", &self.received_data)
            .finish()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Rustls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "tls11")]
            Io::OpenSsl(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if self.received_data {
            return result;
        }
        // Before the first application byte, say what an early end or odd first bytes mean
        // (the SMSC rejected our certificate, it speaks TLS on a plain channel...) so the
        // layer above can log the precise reason: the error carries a `TransportError`.
        match result {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.received_data = true;
                match self.check_first_bytes(&buf.filled()[before..]) {
                    Some(e) => Poll::Ready(Err(io::Error::other(e))),
                    None => Poll::Ready(Ok(())),
                }
            }
            Poll::Ready(Ok(())) if buf.remaining() > 0 => {
                let e = self.classify_read_end(ReadEnd::Eof);
                Poll::Ready(Err(io::Error::new(io::ErrorKind::UnexpectedEof, e)))
            }
            Poll::Ready(Err(err)) => {
                let e = self.classify_read_end(ReadEnd::Error(&err));
                Poll::Ready(Err(io::Error::new(err.kind(), e)))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Rustls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "tls11")]
            Io::OpenSsl(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(feature = "tls11")]
            Io::OpenSsl(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Rustls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(feature = "tls11")]
            Io::OpenSsl(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
