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
//!
//! A request head hyper cannot parse, or larger than [`MAX_HEAD_BYTES`], never reaches the
//! router either: hyper answers it with a bare 400, 431 or 414 of its own and closes.
//! smppd keeps that answer from the socket and sends the documented JSON error in its place
//! ([`head_errors`] says what hyper does and how its answer is recognised).

use super::head_errors::{self, HeadEnd, MAX_HEAD_BYTES};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// How long a client may take to send a request's headers (slow-loris protection), from the
/// connection's start or the end of the previous answer.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a closing connection may take to write a last answer and to stop sending.
const LINGER_BOUND: Duration = Duration::from_secs(2);

/// The most bytes read and dropped from a closing connection.
const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// The router's answers on one connection, counted as their bodies are made and dropped.
#[derive(Default)]
struct Answers {
    /// Answers whose bodies hyper has not finished with: their bytes are still to be written.
    open: AtomicUsize,
    /// Answers hyper has finished with: the next request head is a new one.
    done: AtomicUsize,
}

/// A router answer's body, counted in [`Answers`] until hyper drops it. hyper drops a body
/// when it has taken its last bytes (or gives up on it), before it reads the next request
/// head, so once none is open and hyper has flushed, every byte of the router's answers is
/// on the socket.
struct CountedBody {
    inner: Body,
    answers: Arc<Answers>,
}

impl CountedBody {
    fn wrap(response: Response, answers: &Arc<Answers>) -> Response {
        answers.open.fetch_add(1, Ordering::Relaxed);
        let answers = answers.clone();
        response.map(|inner| Body::new(CountedBody { inner, answers }))
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        self.answers.open.fetch_sub(1, Ordering::Relaxed);
        self.answers.done.fetch_add(1, Ordering::Relaxed);
    }
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

struct Shared {
    stream: TcpStream,
    /// Whether the client sent anything since the last byte we wrote: a request begun.
    request_begun: bool,
    answers: Arc<Answers>,
    /// Whether the next write begins an answer: hyper had written all it had (it flushes
    /// only then) and no router answer was still being written.
    at_answer_start: bool,
    /// hyper's own answer to a request head it could not parse, kept from the socket: its
    /// status (the JSON answer is written in its place once hyper is done).
    refused: Option<StatusCode>,
    /// The request head being read, up to [`MAX_HEAD_BYTES`], to say what is wrong with it
    /// if hyper refuses it. Only head bytes are kept, never a body's.
    head: Vec<u8>,
    /// Where `head` ends, while it is being captured.
    head_end: Option<HeadEnd>,
    /// `answers.done` when `head` began: a change means a new request head comes next.
    head_after: usize,
}

impl Shared {
    /// Keeps the part of `new` (bytes just read) that belongs to the request head.
    fn capture_head(&mut self, new: &[u8]) {
        let done = self.answers.done.load(Ordering::Relaxed);
        if done != self.head_after {
            self.head_after = done;
            self.head.clear();
            self.head_end = Some(HeadEnd::default());
        }
        let Some(end) = &mut self.head_end else {
            return;
        };
        let in_head = match end.feed(new) {
            Some(n) => {
                self.head_end = None;
                n
            }
            None => new.len(),
        };
        let room = MAX_HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&new[..in_head.min(room)]);
        if self.head.len() >= MAX_HEAD_BYTES {
            self.head_end = None;
        }
    }

    /// Whether `data`, about to be written, is hyper's refusal of a request head; if so it
    /// is kept from the socket and remembered.
    fn refuses(&mut self, data: &[u8]) -> bool {
        if !self.at_answer_start {
            return false;
        }
        match head_errors::hyper_refusal(data) {
            Some(status) => {
                self.refused = Some(status);
                true
            }
            None => false,
        }
    }

    fn wrote(&mut self, polled: &Poll<io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.request_begun = false;
            self.at_answer_start = false;
        }
    }
}

/// The connection's socket, shared between hyper and the code that answers once hyper has
/// given up on the connection: a header timeout, or a request head hyper refused.
///
/// Why hyper's refusal is replaced on the write path rather than prevented: the alternatives
/// weighed were (1) an official hook, and hyper 1.x has none; (2) reading and checking every
/// request head with httparse before hyper does, which needs a second HTTP/1 framing of the
/// request stream (Content-Length, chunked bodies, pipelining) that must agree with hyper's
/// byte for byte, or a valid request would be cut in the wrong place; a disagreement would
/// break good requests, where a gap here only lets hyper's bare answer through. hyper's
/// refusal is one fixed, bodiless head ([`head_errors::hyper_refusal`]), written only
/// after the router's answers to earlier requests are complete, and nothing the router
/// writes has that shape; so it is looked for only in the first write after everything
/// before went out, and the request stream is never touched. The cost on the hot path is a
/// few byte comparisons per answer and a copy of each request head (not of its body).
///
/// One case still gets hyper's bare answer: a client that pipelines a malformed request
/// behind one whose answer has not left yet (it stopped reading, the socket's buffer is
/// full), because hyper then writes its refusal together with the end of that answer.
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
            shared.capture_head(&buf.filled()[before..]);
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
        // After its refusal hyper writes nothing more; should it, it is not sent either, so
        // that the JSON answer is the only one the client sees.
        if shared.refused.is_some() || shared.refuses(data) {
            return Poll::Ready(Ok(data.len()));
        }
        let polled = Pin::new(&mut shared.stream).poll_write(cx, data);
        shared.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut shared = self.lock();
        let total = bufs.iter().map(|b| b.len()).sum();
        // hyper's refusal is one head in one buffer; an answer with a body is in several.
        let mut parts = bufs.iter().filter(|b| !b.is_empty());
        let single = match (parts.next(), parts.next()) {
            (Some(only), None) => Some(&**only),
            _ => None,
        };
        if shared.refused.is_some() || single.is_some_and(|data| shared.refuses(data)) {
            return Poll::Ready(Ok(total));
        }
        let polled = Pin::new(&mut shared.stream).poll_write_vectored(cx, bufs);
        shared.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.lock().stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = self.lock();
        // hyper flushes the socket only once its own buffer is empty.
        shared.at_answer_start = shared.answers.open.load(Ordering::Relaxed) == 0;
        Pin::new(&mut shared.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = self.lock();
        if shared.refused.is_some() {
            // The JSON answer is still to be written; `finish` shuts the socket after it.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut shared.stream).poll_shutdown(cx)
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
        let answers = Arc::new(Answers::default());
        let counted = answers.clone();
        let app = app
            .clone()
            .map_request(
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            )
            .map_response(move |response| CountedBody::wrap(response, &counted));
        let service = hyper_util::service::TowerToHyperService::new(app);
        let io = ConnectionIo(Arc::new(Mutex::new(Shared {
            stream,
            request_begun: false,
            answers,
            at_answer_start: true,
            refused: None,
            head: Vec::new(),
            head_end: Some(HeadEnd::default()),
            head_after: 0,
        })));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_header_size(MAX_HEAD_BYTES);
        let connection =
            builder.serve_connection(hyper_util::rt::TokioIo::new(io.clone()), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let ended = connection.await;
            finish(io, ended, header_timeout, peer).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After hyper is done with a connection: answer what hyper refused or gave up on, then
/// close without losing what was sent.
///
/// A request head hyper refused gets the documented JSON error in place of hyper's bare
/// answer (see [`ConnectionIo`]). A 408 goes to a client whose headers had begun to arrive
/// when hyper gave up waiting for them (it waits for headers only between answers, so
/// nothing of an answer is on the wire).
///
/// Closing a socket with unread data makes the kernel reset the connection, and a client
/// still sending (a body refused with 413 from its Content-Length, the rest of a request
/// that timed out or of a head too large) may then lose the answer before reading it. So the
/// socket is shut for writing first and what the client still sends is read and dropped,
/// for a bounded time and amount, before it is closed ("lingering close").
async fn finish(
    io: ConnectionIo,
    ended: Result<(), hyper::Error>,
    header_timeout: Duration,
    peer: SocketAddr,
) {
    // hyper has dropped its handle with the connection: the socket is ours alone.
    let Ok(shared) = Arc::try_unwrap(io.0) else {
        return;
    };
    let shared = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
    let timed_out = matches!(&ended, Err(error) if error.is_timeout());
    let answer = if let Some(status) = shared.refused {
        let hyper_error = ended.as_ref().err().map(|e| e.to_string());
        let message =
            head_errors::describe(status, hyper_error.as_deref().unwrap_or(""), &shared.head);
        tracing::debug!(
            event = "http_request_refused",
            remote = %peer,
            status = status.as_u16(),
            reason = %message,
            "a request head could not be parsed; answered {}",
            status.as_u16()
        );
        Some(head_errors::answer(status, message))
    } else if timed_out && shared.request_begun {
        tracing::debug!(
            event = "http_header_timeout",
            remote = %peer,
            "request headers did not arrive in time; answered 408"
        );
        let message = format!(
            "the request headers did not arrive within {} s",
            header_timeout.as_secs_f64()
        );
        Some(head_errors::answer(StatusCode::REQUEST_TIMEOUT, message))
    } else {
        if let Err(error) = &ended {
            if !timed_out {
                tracing::debug!(
                    event = "http_connection_error",
                    remote = %peer,
                    %error,
                    "HTTP API connection ended with an error"
                );
            }
        }
        None
    };
    let mut stream = shared.stream;
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
