//! [`Session`]: the thin async driver around [`SessionCore`].
//!
//! One task, one loop: let the core act on the time (deadlines) and take what it can send,
//! then wait for whichever comes first — bytes from the SMSC, room in the socket for the
//! bytes the core produced, a verdict on an inbound message, a new message in the queue, a
//! freed record place, a stop request, or the core's next deadline. Every decision is the
//! core's; the driver only moves bytes, messages and verdicts, and checks the send gate
//! right before every write.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
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
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
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

enum Event {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Flushed(io::Result<()>),
    Ack(AckVerdict),
    Queued(Option<Box<OutboundMessage>>),
    Stop,
    Timer,
    /// The send gate was found closed right before a write.
    Fenced,
}

/// Writes `out` and, once it is all written, flushes (a TLS stream may keep the last record
/// until flushed), as far as the socket takes it without waiting. Completes when something
/// was written or flushed, or at once when the gate is closed: checked right before every
/// write, so also before one that had to wait for the socket. Cancel-safe: `out` only loses
/// what was written. Writing and flushing in one poll saves a turn of the loop per write.
async fn write_and_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut BytesMut,
    gate: &SendGate,
) -> Event {
    std::future::poll_fn(|cx| {
        let mut wrote = 0;
        while !out.is_empty() {
            if !gate.is_open_now() {
                return Poll::Ready(Event::Fenced);
            }
            match Pin::new(&mut *writer).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Event::Wrote(Ok(0))),
                Poll::Ready(Ok(n)) => {
                    out.advance(n);
                    wrote += n;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Event::Wrote(Err(e))),
                Poll::Pending if wrote > 0 => return Poll::Ready(Event::Wrote(Ok(wrote))),
                Poll::Pending => return Poll::Pending,
            }
        }
        // A TLS stream's flush writes the records it still holds: a write like any other.
        if !gate.is_open_now() {
            return Poll::Ready(Event::Fenced);
        }
        match Pin::new(&mut *writer).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(Event::Flushed(r)),
            Poll::Pending if wrote > 0 => Poll::Ready(Event::Wrote(Ok(wrote))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Completes when `record` has a free place; never without a record window.
async fn place_freed(record: Option<&RecordWindow>) {
    match record {
        Some(r) => r.freed().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever without a deadline.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// One timer for the whole run, moved only when the core's next deadline moves: a new timer
/// per turn of the loop would register and cancel a timer-wheel entry for every PDU.
struct Alarm {
    sleep: Pin<Box<tokio::time::Sleep>>,
    at: Option<Instant>,
}

impl Alarm {
    fn new() -> Alarm {
        Alarm {
            sleep: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)),
            at: None,
        }
    }

    fn set(&mut self, at: Option<Instant>) {
        if at != self.at {
            if let Some(at) = at {
                self.sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(at));
            }
            self.at = at;
        }
    }

    /// Completes at the deadline last set; never without one.
    async fn ring(&mut self) {
        match self.at {
            Some(_) => self.sleep.as_mut().await,
            None => std::future::pending().await,
        }
    }
}

fn link_lost(during: LinkPhase) -> impl FnOnce(io::Error) -> SessionError {
    move |source| SessionError::LinkLost { during, source }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Sends the bind the parameters describe over `stream` and waits (at most the bind
    /// timeout) for its response. enquire_link from the SMSC is answered meanwhile.
    pub async fn bind(stream: S, params: SessionParams) -> Result<Self, SessionError> {
        let (reader, writer) = tokio::io::split(stream);
        let mut session = Session {
            reader,
            writer,
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
            self.writer
                .write_all_buf(&mut self.out)
                .await
                .map_err(link_lost(LinkPhase::Binding))?;
            self.writer
                .flush()
                .await
                .map_err(link_lost(LinkPhase::Binding))?;
            self.inbuf.reserve(READ_CHUNK);
            tokio::select! {
                r = tokio::io::AsyncReadExt::read_buf(&mut self.reader, &mut self.inbuf) => {
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
        let _ = tokio::time::timeout(timeout, self.writer.shutdown()).await;
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
        let mut alarm = Alarm::new();
        loop {
            let now = now();
            if !io.gate.is_open_now() {
                return Ok(EndReason::Fenced);
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
                    return self.core.take_end().unwrap_or(Ok(EndReason::Stopped));
                }
            }
            // Wake when the gate closes, to close the connection even while idle.
            alarm.set(
                [self.core.next_deadline(), io.gate.deadline()]
                    .into_iter()
                    .flatten()
                    .min(),
            );
            let want_queue = fill == Fill::WantsMessages;
            let want_place = fill == Fill::WantsPlace;
            let may_stop = !self.core.is_stopping();

            self.inbuf.reserve(READ_CHUNK);
            let event = tokio::select! {
                // An SMSC that sends requests but never reads our answers must not grow the
                // output buffer without bound: stop reading until it drains.
                r = tokio::io::AsyncReadExt::read_buf(&mut self.reader, &mut self.inbuf), if self.out.len() < OUTPUT_READ_LIMIT => Event::Read(r),
                e = write_and_flush(&mut self.writer, &mut self.out, &io.gate), if !self.out.is_empty() || self.unflushed => e,
                Some(v) = acks_rx.recv() => Event::Ack(v),
                m = io.queue.recv(), if want_queue => Event::Queued(m.map(Box::new)),
                _ = place_freed(io.record.as_ref()), if want_place => Event::Timer,
                r = io.stop.changed(), if may_stop => {
                    if r.is_err() || *io.stop.borrow() { Event::Stop } else { Event::Timer }
                }
                _ = alarm.ring() => Event::Timer,
            };
            let now = self::now();
            match event {
                Event::Read(Ok(0)) => return self.core.peer_closed(),
                Event::Read(Ok(_)) => self.core.handle_bytes(&mut self.inbuf, now),
                Event::Read(Err(source)) => return Err(link_lost(LinkPhase::Reading)(source)),
                Event::Wrote(Ok(0)) => {
                    return Err(link_lost(LinkPhase::Writing)(
                        io::ErrorKind::WriteZero.into(),
                    ))
                }
                Event::Wrote(Ok(_)) => self.unflushed = true,
                Event::Flushed(Ok(())) => self.unflushed = false,
                Event::Wrote(Err(source)) | Event::Flushed(Err(source)) => {
                    return Err(link_lost(LinkPhase::Writing)(source))
                }
                Event::Fenced => return Ok(EndReason::Fenced),
                Event::Ack(v) => {
                    // Every verdict already waiting is answered in this turn: the sink gives
                    // a whole commit's worth at once, and one turn (one write) per verdict
                    // made the answers to a window of receipts that many system calls.
                    let mut next = Some(v);
                    while let Some(v) = next {
                        self.core.answer(v.sequence, v.response, v.status);
                        next = acks_rx.try_recv().ok();
                    }
                }
                Event::Queued(Some(m)) => self.core.push(*m),
                Event::Queued(None) => self.core.queue_closed(),
                Event::Stop => self.core.stop(now),
                Event::Timer => {}
            }
        }
    }
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
