//! Serving the router over HTTP/1.1 with hyper, one task per connection.
//!
//! hyper is driven directly rather than through `axum::serve` to give every connection a
//! timer, hence a header-read timeout: an idle or trickling client cannot hold a connection
//! open for ever. hyper closes a connection whose headers did not arrive in time without a
//! word; smppd answers such a request with the documented 408 itself, on the socket it
//! shares with hyper ([`ConnectionIo`]). A connection on which nothing of a new request
//! arrived (a client idling between requests) is closed silently, as keep-alive clients
//! expect. (One case is closed silently too: a pipelined client whose unfinished request
//! arrived in the same read as the complete one before it.)

use super::error::ApiError;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// How long a client may take to send a request's headers (slow-loris protection), from the
/// connection's start or the end of the previous answer.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a closing connection may take to write a 408 and to stop sending.
const LINGER_BOUND: Duration = Duration::from_secs(2);

/// The most bytes read and dropped from a closing connection.
const LINGER_BYTES: usize = 8 * 1024 * 1024;

struct Shared {
    stream: TcpStream,
    /// Whether the client sent anything since the last byte we wrote: a request begun.
    request_begun: bool,
}

/// The connection's socket, shared between hyper and the code that answers a header timeout
/// once hyper has given up on the connection.
#[derive(Clone)]
struct ConnectionIo(Arc<Mutex<Shared>>);

impl ConnectionIo {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AsyncRead for ConnectionIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut shared = self.lock();
        let before = buf.filled().len();
        let polled = Pin::new(&mut shared.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            shared.request_begun = true;
        }
        polled
    }
}

impl AsyncWrite for ConnectionIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.lock();
        let polled = Pin::new(&mut shared.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            shared.request_begun = false;
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.lock();
        let polled = Pin::new(&mut shared.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            shared.request_begun = false;
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.lock().stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.lock().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.lock().stream).poll_shutdown(cx)
    }
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` completes, then waits for the
/// connections in flight to finish their current request. Handlers can extract the client's
/// address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, app, shutdown, HEADER_TIMEOUT).await
}

/// [`serve`] with another header-read timeout (tests use a short one).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_timeout: Duration,
) -> io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait for some to free up
                    // instead of spinning or giving up on the listener.
                    tracing::warn!(event = "http_accept_failed", %error, "HTTP API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let service = hyper_util::service::TowerToHyperService::new(app);
        let io = ConnectionIo(Arc::new(Mutex::new(Shared {
            stream,
            request_begun: false,
        })));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout);
        let connection =
            builder.serve_connection(hyper_util::rt::TokioIo::new(io.clone()), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let timed_out = match connection.await {
                Ok(()) => false,
                Err(error) if error.is_timeout() => true,
                Err(error) => {
                    tracing::debug!(
                        event = "http_connection_error",
                        remote = %peer,
                        %error,
                        "HTTP API connection ended with an error"
                    );
                    false
                }
            };
            finish(io, timed_out, header_timeout, peer).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After hyper is done with a connection: answer 408 when it gave up waiting for headers that
/// had begun to arrive (it waits for headers only between answers, so nothing of an answer is
/// on the wire), then close without losing what was sent.
///
/// Closing a socket with unread data makes the kernel reset the connection, and a client
/// still sending (a body refused with 413 from its Content-Length, the rest of a request
/// that timed out) may then lose the answer before reading it. So the socket is shut for
/// writing first and what the client still sends is read and dropped, for a bounded time
/// and amount, before it is closed ("lingering close").
async fn finish(io: ConnectionIo, timed_out: bool, header_timeout: Duration, peer: SocketAddr) {
    // hyper has dropped its handle with the connection: the socket is ours alone.
    let Ok(shared) = Arc::try_unwrap(io.0) else {
        return;
    };
    let shared = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut stream = shared.stream;
    let answer = (timed_out && shared.request_begun).then(|| {
        tracing::debug!(
            event = "http_header_timeout",
            remote = %peer,
            "request headers did not arrive in time; answered 408"
        );
        let error = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request headers did not arrive within {} s",
                header_timeout.as_secs_f64()
            ),
        );
        let body = serde_json::to_vec(&error).unwrap_or_default();
        let mut bytes = format!(
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    });
    let _ = tokio::time::timeout(LINGER_BOUND, async {
        if let Some(answer) = answer {
            stream.write_all(&answer).await?;
        }
        stream.shutdown().await?;
        let mut sink = [0u8; 8192];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match stream.read(&mut sink).await? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}
