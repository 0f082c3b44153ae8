//! [`Session`]: the thin async driver around [`SessionCore`].
//!
//! One task, one poll function ([`Session::run`]): let the core act on the time (deadlines)
//! and take what it can send, write it, then look at every source in turn — bytes from the
//! SMSC, a verdict on an inbound message, a new message in the queue, a freed record place,
//! a stop request, the core's next deadline — and start over after anything that made
//! progress. It returns to the runtime only after a whole pass found nothing to do, so
//! every source then holds the task's waker. Every decision is the core's; the driver only
//! moves bytes, messages and verdicts, and checks the send gate right before every write.
//!
//! Why a poll function and not a `select!` over futures: a `select!` builds, polls and drops
//! a future per source for every event, and returns after one event; at a window of 1 that
//! was most of the session's cost per message. The stream is one value for both
//! directions (no split, no lock between halves), read and written in the same poll.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::session::core::{CoreEvent, Fill, Pulled, SessionCore};
use crate::session::counters::Counters;
use crate::session::error::{LinkPhase, SessionError};
use crate::session::gate::SendGate;
use crate::session::message::{Ack, AckVerdict, Inbound, OutboundMessage, SessionEvent};
use crate::session::params::SessionParams;
use crate::session::record::RecordWindow;
use crate::session::state::BindState;

/// Past this many octets waiting to be written, the SMSC is not read from.
const OUTPUT_READ_LIMIT: usize = 1024 * 1024;
/// Read buffer headroom reserved before each read.
const READ_CHUNK: usize = 8 * 1024;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A bound SMPP session over the stream `S` (plain TCP, TLS, or an in-memory pipe in tests).
pub struct Session<S> {
    /// One stream for both directions: the driver reads and writes it from one task, in
    /// one poll, so it needs no split (and no lock between the halves).
    stream: S,
    core: SessionCore,
    inbuf: BytesMut,
    out: BytesMut,
    /// Bytes were written since the last flush: a TLS stream may hold them until flushed.
    unflushed: bool,
}

impl<S> std::fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.core.state())
            .field("smsc_system_id", &self.core.smsc_system_id())
            .finish_non_exhaustive()
    }
}

/// What the layer above lends a running session.
#[derive(Debug)]
pub struct SessionIo<'a> {
    /// The layer above's queue; the session takes a message only when it can send it.
    pub queue: &'a mut mpsc::Receiver<OutboundMessage>,
    /// Messages handed back by an earlier session ([`SessionEnd::unsent`]); sent first.
    pub resend: VecDeque<OutboundMessage>,
    /// Where outcomes (accepted / failed) and inbound messages go, in order. An inbound
    /// message is answered to the SMSC only once accepted there. Unbounded on purpose: the
    /// window and the SMSC's own window bound how many are outstanding.
    pub events: mpsc::UnboundedSender<SessionEvent>,
    /// Set to `true` to stop gracefully (a dropped sender also stops).
    pub stop: watch::Receiver<bool>,
    /// Channel totals to update.
    pub counters: Arc<Counters>,
    /// The licence to write: once it closes, the session writes nothing more and closes
    /// the connection ([`EndReason::Fenced`]).
    pub gate: SendGate,
    /// Places for written submits whose outcome the layer above has not recorded yet
    /// ([`RecordWindow`]); `None` when an outcome is the end of the session's concern.
    pub record: Option<RecordWindow>,
}

/// How a session ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A graceful stop was requested and the session unbound.
    Stopped,
    /// The SMSC sent unbind; the session answered it and closed.
    UnboundBySmsc,
    /// The send gate closed (the right to send on this channel ran out): the session
    /// closed the connection without writing anything more.
    Fenced,
}

/// The end of a session: why, and every message taken from the queue that has no outcome.
#[derive(Debug)]
pub struct SessionEnd {
    /// Why the session ended.
    pub result: Result<EndReason, SessionError>,
    /// Messages to send again (in-flight ones without a response first, in send order, then
    /// those not sent yet), untouched except for their attempt counts.
    pub unsent: VecDeque<OutboundMessage>,
}

/// What one attempt to write and flush came to.
enum Written {
    /// Something was written; the rest (if any) waits for room in the socket.
    Wrote(io::Result<usize>),
    /// Everything was written and flushed.
    Flushed(io::Result<()>),
    /// The send gate was found closed right before a write.
    Fenced,
}

/// Writes `out` and, once it is all written, flushes (a TLS stream may keep the last record
/// until flushed), as far as the socket takes it without waiting. Ready when something was
/// written or flushed, or at once when the gate is closed: checked right before every write
/// and before the flush. `out` only loses what was written.
fn poll_write_and_flush<W: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    writer: &mut W,
    out: &mut BytesMut,
    gate: &SendGate,
) -> Poll<Written> {
    let mut wrote = 0;
    while !out.is_empty() {
        if !gate.is_open_now() {
            return Poll::Ready(Written::Fenced);
        }
        match Pin::new(&mut *writer).poll_write(cx, out) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Written::Wrote(Ok(0))),
            Poll::Ready(Ok(n)) => {
                out.advance(n);
                wrote += n;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Written::Wrote(Err(e))),
            Poll::Pending if wrote > 0 => return Poll::Ready(Written::Wrote(Ok(wrote))),
            Poll::Pending => return Poll::Pending,
        }
    }
    // A TLS stream's flush writes the records it still holds: a write like any other.
    if !gate.is_open_now() {
        return Poll::Ready(Written::Fenced);
    }
    match Pin::new(&mut *writer).poll_flush(cx) {
        Poll::Ready(r) => Poll::Ready(Written::Flushed(r)),
        Poll::Pending if wrote > 0 => Poll::Ready(Written::Wrote(Ok(wrote))),
        Poll::Pending => Poll::Pending,
    }
}

/// A wait that outlives one poll of the loop, boxed because it is rare (a stop request, a
/// record place) and must keep its registration between polls.
type Wait<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Whether `waker` is the one a wait was last registered with: a registration stays valid
/// for as long as the task is polled with the same waker, so it need not be renewed.
fn registered(last: &Option<Waker>, waker: &Waker) -> bool {
    last.as_ref().is_some_and(|w| w.will_wake(waker))
}

/// The wait for a stop request. Polled only when the flag changed or the task's waker did:
/// polling a `watch` wait takes a lock, and the loop looks at it on every pass.
struct StopWait {
    /// A receiver of the flag, to see a change without polling the wait.
    seen: watch::Receiver<bool>,
    wait: Wait<(watch::Receiver<bool>, bool)>,
    polled_with: Option<Waker>,
}

impl StopWait {
    fn new(stop: watch::Receiver<bool>) -> StopWait {
        let seen = stop.clone();
        let wait = Box::pin(async move {
            let mut stop = stop;
            let stopping = stop.changed().await.is_err() || *stop.borrow_and_update();
            (stop, stopping)
        });
        StopWait {
            seen,
            wait,
            polled_with: None,
        }
    }

    /// Ready with whether the session should stop (the flag is set or its sender is gone)
    /// once the flag changed; a change that does not stop renews the wait.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let changed = self.seen.has_changed().unwrap_or(true);
        if !changed && registered(&self.polled_with, cx.waker()) {
            return Poll::Pending;
        }
        match self.wait.as_mut().poll(cx) {
            Poll::Ready((receiver, true)) => {
                self.seen = receiver;
                Poll::Ready(true)
            }
            Poll::Ready((receiver, false)) => {
                *self = StopWait::new(receiver);
                Poll::Ready(false)
            }
            Poll::Pending => {
                self.polled_with = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Sleeps until `at`, or forever without a deadline.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// One timer for the whole run. It moves earlier at once but later only after it rang: the
/// response deadline of the oldest submit moves with every response, and moving the timer
/// each time re-registered a timer-wheel entry per PDU. A ring before the deadline wanted
/// re-arms the timer for that deadline instead of waking the core.
struct Alarm {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// The deadline wanted.
    at: Option<Instant>,
    /// The deadline the timer is set to: at or before `at` whenever `at` is set.
    armed: Option<Instant>,
    /// The waker the timer holds since it was last armed: polled again only when it rang or
    /// the waker changed.
    polled_with: Option<Waker>,
}

impl Alarm {
    fn new() -> Alarm {
        Alarm {
            sleep: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)),
            at: None,
            armed: None,
            polled_with: None,
        }
    }

    fn set(&mut self, at: Option<Instant>) {
        self.at = at;
        if let Some(at) = at {
            if self.armed.is_none_or(|armed| at < armed) {
                self.arm(at);
            }
        }
    }

    fn arm(&mut self, at: Instant) {
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::from_std(at));
        self.armed = Some(at);
        self.polled_with = None;
    }

    /// Ready once the deadline last set has passed; pending forever without one (a timer
    /// still armed for an earlier deadline then wakes the task once, to no effect).
    fn poll_ring(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        if !self.sleep.is_elapsed() && registered(&self.polled_with, cx.waker()) {
            return Poll::Pending;
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            if self.armed.is_none_or(|armed| armed >= at) {
                return Poll::Ready(());
            }
            self.arm(at);
            if self.sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        self.polled_with = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn link_lost(during: LinkPhase) -> impl FnOnce(io::Error) -> SessionError {
    move |source| SessionError::LinkLost { during, source }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Sends the bind the parameters describe over `stream` and waits (at most the bind
    /// timeout) for its response. enquire_link from the SMSC is answered meanwhile.
    pub async fn bind(stream: S, params: SessionParams) -> Result<Self, SessionError> {
        let mut session = Session {
            stream,
            core: SessionCore::new(params, now()),
            inbuf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::new(),
            unflushed: false,
        };
        let after = session.core.params().bind_timeout();
        // The core times the bind out too; this bounds a write the SMSC never reads.
        match tokio::time::timeout(after, session.bind_exchange()).await {
            Ok(Ok(())) => Ok(session),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SessionError::BindTimeout { after }),
        }
    }

    async fn bind_exchange(&mut self) -> Result<(), SessionError> {
        loop {
            if self.core.is_bound() {
                return Ok(());
            }
            if self.core.finishing().is_some() {
                return Err(match self.core.take_end() {
                    Some(Err(e)) => e,
                    _ => SessionError::eof(LinkPhase::Binding),
                });
            }
            self.core.poll_transmit(&mut self.out);
            self.stream
                .write_all_buf(&mut self.out)
                .await
                .map_err(link_lost(LinkPhase::Binding))?;
            self.stream
                .flush()
                .await
                .map_err(link_lost(LinkPhase::Binding))?;
            self.inbuf.reserve(READ_CHUNK);
            tokio::select! {
                r = tokio::io::AsyncReadExt::read_buf(&mut self.stream, &mut self.inbuf) => {
                    match r.map_err(link_lost(LinkPhase::Binding))? {
                        0 => return Err(SessionError::eof(LinkPhase::Binding)),
                        _ => self.core.handle_bytes(&mut self.inbuf, now()),
                    }
                }
                _ = sleep_until(self.core.next_deadline()) => self.core.handle_timeout(now()),
            }
        }
    }

    /// The SMSC's system_id from its bind response.
    pub fn smsc_system_id(&self) -> &str {
        self.core.smsc_system_id()
    }

    /// The session state (bound, after [`Session::bind`]).
    pub fn state(&self) -> BindState {
        self.core.state()
    }

    /// Runs the bound session until it is stopped, unbound by the SMSC, or fails. Every
    /// message taken from `io.queue` or `io.resend` ends up in an outcome or in
    /// [`SessionEnd::unsent`].
    pub async fn run(mut self, mut io: SessionIo<'_>) -> SessionEnd {
        let start = now();
        let resend = std::mem::take(&mut io.resend);
        self.core
            .start(start, io.counters.clone(), io.record.clone(), resend);
        if *io.stop.borrow() {
            self.core.stop(start);
        }
        let (acks_tx, mut acks_rx) = mpsc::unbounded_channel();
        let result = self.run_loop(&mut io, &acks_tx, &mut acks_rx).await;
        // Whatever the core decided last goes up before the hand-back.
        forward_events(&mut self.core, &io, &acks_tx);
        let unsent = self.core.close();
        // Best effort: the session is over either way.
        let timeout = self.core.params().response_timeout();
        let _ = tokio::time::timeout(timeout, self.stream.shutdown()).await;
        SessionEnd { result, unsent }
    }

    async fn run_loop(
        &mut self,
        io: &mut SessionIo<'_>,
        acks_tx: &mpsc::UnboundedSender<AckVerdict>,
        acks_rx: &mut mpsc::UnboundedReceiver<AckVerdict>,
    ) -> Result<EndReason, SessionError> {
        // PDUs that came in the same read as the bind_resp (an unbind, a deliver_sm) are
        // already buffered: no further read would wake the loop for them.
        if !self.inbuf.is_empty() {
            self.core.handle_bytes(&mut self.inbuf, now());
        }
        let mut waits = Waits {
            alarm: Alarm::new(),
            stop: Some(StopWait::new(io.stop.clone())),
            place: None,
        };
        std::future::poll_fn(|cx| self.poll_run(cx, io, acks_tx, acks_rx, &mut waits)).await
    }

    /// One wake-up of the session: acts on everything that is ready, in passes, until a
    /// whole pass finds nothing to do (every source then has this task's waker) or the
    /// session ends. A pass lets the core act on the time and take what it can send, writes
    /// it, then reads; any progress starts a new pass, so the answers to one read leave
    /// before the next read and the next submits leave as soon as responses free the
    /// window. Polling the sources directly, instead of building and dropping a future per
    /// source for every event, keeps a window-1 round trip to one pass per direction.
    fn poll_run(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut SessionIo<'_>,
        acks_tx: &mpsc::UnboundedSender<AckVerdict>,
        acks_rx: &mut mpsc::UnboundedReceiver<AckVerdict>,
        waits: &mut Waits,
    ) -> Poll<Result<EndReason, SessionError>> {
        loop {
            let now = now();
            if !io.gate.is_open_now() {
                return Poll::Ready(Ok(EndReason::Fenced));
            }
            self.core.handle_timeout(now);
            let fill = self
                .core
                .fill(now, self.out.len(), || match io.queue.try_recv() {
                    Ok(m) => Pulled::Message(m),
                    Err(mpsc::error::TryRecvError::Empty) => Pulled::Empty,
                    Err(mpsc::error::TryRecvError::Disconnected) => Pulled::Closed,
                });
            self.core.poll_transmit(&mut self.out);
            forward_events(&mut self.core, io, acks_tx);
            io.counters.set_in_flight(self.core.in_flight());
            if let Some(deadline) = self.core.finishing() {
                if (self.out.is_empty() && !self.unflushed) || now >= deadline {
                    return Poll::Ready(self.core.take_end().unwrap_or(Ok(EndReason::Stopped)));
                }
            }

            if !self.out.is_empty() || self.unflushed {
                match poll_write_and_flush(cx, &mut self.stream, &mut self.out, &io.gate) {
                    Poll::Ready(Written::Fenced) => return Poll::Ready(Ok(EndReason::Fenced)),
                    Poll::Ready(Written::Wrote(Ok(0))) => {
                        return Poll::Ready(Err(link_lost(LinkPhase::Writing)(
                            io::ErrorKind::WriteZero.into(),
                        )))
                    }
                    // The socket took part of it and has this task's waker for the rest.
                    Poll::Ready(Written::Wrote(Ok(_))) => self.unflushed = true,
                    Poll::Ready(Written::Flushed(Ok(()))) => {
                        self.unflushed = false;
                        // Submits held back for this write go next; a finishing session may
                        // be done now.
                        if fill == Fill::WantsWrite || self.core.finishing().is_some() {
                            continue;
                        }
                    }
                    Poll::Ready(Written::Wrote(Err(source)))
                    | Poll::Ready(Written::Flushed(Err(source))) => {
                        return Poll::Ready(Err(link_lost(LinkPhase::Writing)(source)))
                    }
                    Poll::Pending => {}
                }
            }

            // An SMSC that sends requests but never reads our answers must not grow the
            // output buffer without bound: stop reading until it drains.
            if self.out.len() < OUTPUT_READ_LIMIT {
                self.inbuf.reserve(READ_CHUNK);
                let read = std::pin::pin!(tokio::io::AsyncReadExt::read_buf(
                    &mut self.stream,
                    &mut self.inbuf
                ))
                .poll(cx);
                match read {
                    Poll::Ready(Ok(0)) => return Poll::Ready(self.core.peer_closed()),
                    Poll::Ready(Ok(_)) => {
                        self.core.handle_bytes(&mut self.inbuf, now);
                        continue;
                    }
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(link_lost(LinkPhase::Reading)(source)))
                    }
                    Poll::Pending => {}
                }
            }

            if let Poll::Ready(Some(v)) = acks_rx.poll_recv(cx) {
                // Every verdict already waiting is answered in this pass: the sink gives a
                // whole commit's worth at once, and one write per verdict made the answers
                // to a window of receipts that many system calls.
                let mut next = Some(v);
                while let Some(v) = next {
                    self.core.answer(v.sequence, v.response, v.status);
                    next = acks_rx.try_recv().ok();
                }
                continue;
            }

            if fill == Fill::WantsMessages {
                match io.queue.poll_recv(cx) {
                    Poll::Ready(Some(m)) => {
                        self.core.push(m);
                        continue;
                    }
                    Poll::Ready(None) => {
                        self.core.queue_closed();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }

            match (&fill, io.record.as_ref()) {
                (Fill::WantsPlace, Some(record)) => {
                    let freed = waits.place.get_or_insert_with(|| {
                        let record = record.clone();
                        Box::pin(async move { record.freed().await })
                    });
                    if freed.as_mut().poll(cx).is_ready() {
                        waits.place = None;
                        continue;
                    }
                }
                _ => waits.place = None,
            }

            if !self.core.is_stopping() {
                if let Some(stop) = waits.stop.as_mut() {
                    if let Poll::Ready(stopping) = stop.poll(cx) {
                        if stopping {
                            waits.stop = None;
                            self.core.stop(now);
                        }
                        continue;
                    }
                }
            }

            // Wake when the gate closes, to close the connection even while idle.
            waits.alarm.set(
                [self.core.next_deadline(), io.gate.deadline()]
                    .into_iter()
                    .flatten()
                    .min(),
            );
            if waits.alarm.poll_ring(cx).is_ready() {
                continue;
            }
            return Poll::Pending;
        }
    }
}

/// The run loop's waits that keep state between polls.
struct Waits {
    alarm: Alarm,
    stop: Option<StopWait>,
    place: Option<Wait<()>>,
}

/// Hands the core's events to the layer above, in order; an inbound message carries what
/// its verdict needs to come back to this session.
fn forward_events(
    core: &mut SessionCore,
    io: &SessionIo<'_>,
    acks_tx: &mpsc::UnboundedSender<AckVerdict>,
) {
    while let Some(event) = core.poll_event() {
        let event = match event {
            CoreEvent::Outcome(outcome) => SessionEvent::Outcome(outcome),
            CoreEvent::Inbound {
                pdu,
                is_receipt,
                sequence,
                response,
            } => SessionEvent::Inbound(Inbound::new(
                pdu,
                is_receipt,
                Ack {
                    sequence,
                    response,
                    tx: acks_tx.clone(),
                },
            )),
        };
        // If the layer above is gone, an Inbound is dropped here, which answers the SMSC with
        // a temporary error: it will deliver again later.
        let _ = io.events.send(event);
    }
}
