//! [`Session`]: the thin async driver around the sans-I/O session rules.
//!
//! One task, one loop: compute what the rules allow at `now` (expire requests, keep-alive,
//! fill the window within the rate), then wait for whichever comes first — bytes from the
//! SMSC, room in the socket for the bytes we owe it, a verdict on an inbound message, a new
//! message in the queue, a stop request, or the next deadline. Every PDU is appended to one
//! output buffer and written from there, so under load many PDUs leave in one write, and
//! answers to the SMSC (enquire_link_resp, unbind_resp) never wait behind a full window.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};

use crate::codec::pdu::{Bind, DataSmResp, DeliverSmResp, SubmitSmResp};
use crate::codec::{
    COctetString, CommandId, CommandStatus, Frame, FrameError, Framer, Header, Pdu, Reply,
    StatusClass,
};
use crate::session::counters::Counters;
use crate::session::error::SessionError;
use crate::session::gate::SendGate;
use crate::session::keepalive::{KeepAlive, KeepAliveAction};
use crate::session::message::{
    Ack, AckVerdict, FailureReason, Inbound, InboundPdu, OutboundMessage, SessionEvent,
    SubmitOutcome,
};
use crate::session::params::{BindMode, SessionParams};
use crate::session::rate::TokenBucket;
use crate::session::record::RecordWindow;
use crate::session::sequence::SequenceNumbers;
use crate::session::state::BindState;
use crate::session::throttle::Throttle;
use crate::session::window::Window;

/// Past this many octets waiting to be written, no further submits are encoded: the socket
/// is the bottleneck and the window deadlines should not start before the bytes can leave.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
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
    params: SessionParams,
    framer: Framer,
    inbuf: BytesMut,
    out: BytesMut,
    /// Bytes were written since the last flush: a TLS stream may hold them until flushed.
    unflushed: bool,
    state: BindState,
    sequence: SequenceNumbers,
    smsc_system_id: String,
}

impl<S> std::fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("smsc_system_id", &self.smsc_system_id)
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

/// The per-run state of the sans-I/O rules.
struct Rules {
    window: Window<OutboundMessage>,
    bucket: TokenBucket,
    keepalive: KeepAlive,
    throttle: Throttle,
    pending: VecDeque<OutboundMessage>,
    acks_tx: mpsc::UnboundedSender<AckVerdict>,
    acks_rx: mpsc::UnboundedReceiver<AckVerdict>,
    queue_closed: bool,
    /// When a graceful stop stops waiting for in-flight responses.
    drain_deadline: Option<Instant>,
    /// Our unbind's sequence number and the deadline for its response.
    unbind: Option<(u32, Instant)>,
    /// Set once the session has decided to end; it does after the output is written.
    finish: Option<(Result<EndReason, SessionError>, Instant)>,
    /// Submits that timed out on a link that stopped answering: handed back first.
    unanswered: Vec<OutboundMessage>,
    /// The next message waits for a place in the record window.
    wants_place: bool,
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

fn bind_pdu(params: &SessionParams) -> Pdu {
    let body = Bind {
        system_id: field(params.system_id()),
        password: field(params.password().expose()),
        system_type: field(params.system_type()),
        interface_version: params.interface_version(),
        addr_ton: params.addr_ton().into(),
        addr_npi: params.addr_npi().into(),
        address_range: field(params.address_range()),
    };
    match params.bind_mode() {
        BindMode::Transmitter => Pdu::BindTransmitter(body),
        BindMode::Receiver => Pdu::BindReceiver(body),
        BindMode::Transceiver => Pdu::BindTransceiver(body),
    }
}

/// A bind field from a parameter. [`SessionParams`] already enforced SMPP's limits (stricter
/// than the codec's: ASCII, no NUL, within the length), so this cannot fail; the empty string
/// is only a fallback that keeps the code free of panics.
fn field<const MAX: usize>(value: &str) -> COctetString<MAX> {
    COctetString::new(value.as_bytes()).unwrap_or_default()
}

/// A header-only (or minimal) response with `id`, for answering with an error status.
fn empty_response(id: CommandId) -> Pdu {
    use CommandId as C;
    match id {
        C::BindTransmitterResp => Pdu::BindTransmitterResp(None),
        C::BindReceiverResp => Pdu::BindReceiverResp(None),
        C::BindTransceiverResp => Pdu::BindTransceiverResp(None),
        C::SubmitSmResp => Pdu::SubmitSmResp(None),
        C::SubmitMultiResp => Pdu::SubmitMultiResp(None),
        C::DeliverSmResp => Pdu::DeliverSmResp(None),
        C::DataSmResp => Pdu::DataSmResp(None),
        C::QuerySmResp => Pdu::QuerySmResp(None),
        C::CancelSmResp => Pdu::CancelSmResp,
        C::ReplaceSmResp => Pdu::ReplaceSmResp,
        C::EnquireLinkResp => Pdu::EnquireLinkResp,
        C::UnbindResp => Pdu::UnbindResp,
        // Requests without a response of their own (outbind, alert_notification) and
        // unknown ids are answered with generic_nack.
        _ => Pdu::GenericNack,
    }
}

/// Writes what it can of `out`, or, once it is all written, flushes (a TLS stream may keep
/// the last record until flushed). Cancel-safe: either call leaves `out` consistent.
/// Writes (or flushes) once, unless the gate has closed: checked at every poll, so also
/// right before a write that had to wait for the socket.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    out: &mut BytesMut,
    gate: &SendGate,
) -> Event {
    std::future::poll_fn(|cx| {
        if !gate.is_open_now() {
            return Poll::Ready(Event::Fenced);
        }
        if out.is_empty() {
            Pin::new(&mut *writer).poll_flush(cx).map(Event::Flushed)
        } else {
            Pin::new(&mut *writer)
                .poll_write(cx, out)
                .map(|r| Event::Wrote(r.inspect(|&n| out.advance(n))))
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

fn is_throttling(status: CommandStatus) -> bool {
    matches!(
        status,
        CommandStatus::EsmeRthrottled | CommandStatus::EsmeRmsgqful
    )
}

fn eof(during: &'static str) -> SessionError {
    SessionError::LinkLost {
        during,
        source: io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the SMSC",
        ),
    }
}

fn frame_violation(e: FrameError) -> SessionError {
    SessionError::ProtocolViolation {
        detail: e.to_string(),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Sends the bind the parameters describe over `stream` and waits (at most the bind
    /// timeout) for its response. enquire_link from the SMSC is answered meanwhile.
    pub async fn bind(stream: S, params: SessionParams) -> Result<Self, SessionError> {
        let (reader, writer) = tokio::io::split(stream);
        let mut session = Session {
            reader,
            writer,
            framer: Framer::default(),
            inbuf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::new(),
            unflushed: false,
            state: BindState::Open,
            sequence: SequenceNumbers::new(),
            smsc_system_id: String::new(),
            params,
        };
        let after = session.params.bind_timeout();
        match tokio::time::timeout(after, session.bind_exchange()).await {
            Ok(Ok(())) => Ok(session),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SessionError::BindTimeout { after }),
        }
    }

    async fn bind_exchange(&mut self) -> Result<(), SessionError> {
        let sequence = self.sequence.next_number();
        self.encode(&bind_pdu(&self.params), sequence, CommandStatus::EsmeRok);
        self.state.on_bind_sent(self.params.bind_mode());
        self.flush("binding").await?;
        loop {
            let frame = self.read_frame("binding").await?;
            let header = frame.header;
            if header.command_id == CommandId::EnquireLink {
                self.encode(
                    &Pdu::EnquireLinkResp,
                    header.sequence_number,
                    CommandStatus::EsmeRok,
                );
                self.flush("binding").await?;
                continue;
            }
            if header.sequence_number != sequence {
                continue;
            }
            let status = header.command_status;
            let answered = matches!(
                header.command_id,
                CommandId::BindTransmitterResp
                    | CommandId::BindReceiverResp
                    | CommandId::BindTransceiverResp
                    | CommandId::GenericNack
            );
            if !answered {
                continue;
            }
            if status != CommandStatus::EsmeRok || header.command_id == CommandId::GenericNack {
                self.state.on_bind_resp(false);
                return Err(SessionError::BindRejected { status });
            }
            // An "OK" whose body does not decode is no acceptance: the SMSC broke the
            // protocol, and nothing it says on this link can be trusted.
            match frame.pdu() {
                Ok(
                    Pdu::BindTransmitterResp(Some(body))
                    | Pdu::BindReceiverResp(Some(body))
                    | Pdu::BindTransceiverResp(Some(body)),
                ) => {
                    self.smsc_system_id = String::from_utf8_lossy(body.system_id.as_bytes()).into();
                }
                // Header only: no system_id to learn, but nothing malformed either.
                Ok(_) => {}
                Err(source) => {
                    self.state.on_bind_resp(false);
                    return Err(SessionError::BindRespMalformed { source });
                }
            }
            self.state.on_bind_resp(true);
            tracing::debug!(
                channel = self.params.channel(),
                event = "session_bound",
                smsc = %self.smsc_system_id,
                mode = ?self.params.bind_mode(),
                "bound"
            );
            return Ok(());
        }
    }

    /// The SMSC's system_id from its bind response.
    pub fn smsc_system_id(&self) -> &str {
        &self.smsc_system_id
    }

    /// The session state (bound, after [`Session::bind`]).
    pub fn state(&self) -> BindState {
        self.state
    }

    fn encode(&mut self, pdu: &Pdu, sequence: u32, status: CommandStatus) {
        // Only our own submit_sm bodies can fail to encode; those are checked before this
        // is reached, so anything else is a bug worth a log line, not a crash.
        if let Err(e) = pdu.encode(sequence, status, &mut self.out) {
            tracing::error!(
                channel = self.params.channel(),
                event = "encode_failed",
                error = %e,
                command = pdu.command_id().name(),
                "cannot encode PDU"
            );
        }
    }

    async fn flush(&mut self, during: &'static str) -> Result<(), SessionError> {
        self.writer
            .write_all_buf(&mut self.out)
            .await
            .and(self.writer.flush().await)
            .map_err(|source| SessionError::LinkLost { during, source })
    }

    async fn read_frame(&mut self, during: &'static str) -> Result<Frame, SessionError> {
        loop {
            if let Some(frame) = self
                .framer
                .decode(&mut self.inbuf)
                .map_err(frame_violation)?
            {
                return Ok(frame);
            }
            self.inbuf.reserve(READ_CHUNK);
            match self.reader.read_buf(&mut self.inbuf).await {
                Ok(0) => return Err(eof(during)),
                Ok(_) => {}
                Err(source) => return Err(SessionError::LinkLost { during, source }),
            }
        }
    }

    /// Runs the bound session until it is stopped, unbound by the SMSC, or fails. Every
    /// message taken from `io.queue` or `io.resend` ends up in an outcome or in
    /// [`SessionEnd::unsent`].
    pub async fn run(mut self, mut io: SessionIo<'_>) -> SessionEnd {
        let start = now();
        let p = &self.params;
        let (acks_tx, acks_rx) = mpsc::unbounded_channel();
        let mut rules = Rules {
            window: Window::new(p.window_size(), p.response_timeout()),
            bucket: TokenBucket::new(p.max_rate(), start),
            keepalive: KeepAlive::new(p.enquire_link_interval(), p.response_timeout(), start),
            throttle: Throttle::new(p.throttle_pause(), p.throttle_pause_max()),
            pending: std::mem::take(&mut io.resend),
            acks_tx,
            acks_rx,
            queue_closed: false,
            drain_deadline: None,
            unbind: None,
            finish: None,
            unanswered: Vec::new(),
            wants_place: false,
        };
        if *io.stop.borrow() {
            rules.drain_deadline = Some(start + self.params.drain_timeout());
        }
        let result = self.run_loop(&mut rules, &mut io).await;
        self.state.on_closed();
        // Best effort: the session is over either way.
        let _ = tokio::time::timeout(self.params.response_timeout(), self.writer.shutdown()).await;
        // In send order: the ones that timed out were sent before the rest of the window.
        let mut unsent: VecDeque<OutboundMessage> = rules.unanswered.drain(..).collect();
        unsent.extend(rules.window.drain().into_iter().map(|(_, m)| m));
        io.counters.set_in_flight(0);
        unsent.extend(rules.pending.drain(..));
        SessionEnd { result, unsent }
    }

    async fn run_loop(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
    ) -> Result<EndReason, SessionError> {
        // PDUs that came in the same read as the bind_resp (an unbind, a deliver_sm) are
        // already buffered: no further read would wake the loop for them.
        if !self.inbuf.is_empty() {
            self.on_readable(rules, io, now())?;
        }
        loop {
            let now = now();
            if !io.gate.is_open_now() {
                return Ok(EndReason::Fenced);
            }
            if let Some((_, deadline)) = &rules.finish {
                if (self.out.is_empty() && !self.unflushed) || now >= *deadline {
                    if let Some((result, _)) = rules.finish.take() {
                        return result;
                    }
                }
            } else {
                self.on_tick(rules, io, now)?;
            }
            let mut wake = rules.keepalive.next_deadline();
            let mut merge = |at: Option<Instant>| {
                if let Some(at) = at {
                    wake = wake.min(at);
                }
            };
            merge(rules.window.next_deadline());
            merge(rules.throttle.paused_until(now));
            // Once unbind is sent, the drain deadline is history (merging it would spin).
            if rules.unbind.is_none() {
                merge(rules.drain_deadline);
            }
            merge(rules.unbind.map(|(_, d)| d));
            merge(rules.finish.as_ref().map(|(_, d)| *d));
            // Wake when the gate closes, to close the connection even while idle.
            merge(io.gate.deadline());
            let want_queue = rules.finish.is_none() && self.fill_window(rules, io, now, &mut merge);
            // Once per turn of the loop, after every event that could change it.
            io.counters.set_in_flight(rules.window.len());

            self.inbuf.reserve(READ_CHUNK);
            let event = tokio::select! {
                // An SMSC that sends requests but never reads our answers must not grow the
                // output buffer without bound: stop reading until it drains.
                r = self.reader.read_buf(&mut self.inbuf), if self.out.len() < OUTPUT_READ_LIMIT => Event::Read(r),
                e = write_or_flush(&mut self.writer, &mut self.out, &io.gate), if !self.out.is_empty() || self.unflushed => e,
                Some(v) = rules.acks_rx.recv() => Event::Ack(v),
                m = io.queue.recv(), if want_queue => Event::Queued(m.map(Box::new)),
                _ = place_freed(io.record.as_ref()), if rules.wants_place => Event::Timer,
                r = io.stop.changed(), if rules.drain_deadline.is_none() => {
                    if r.is_err() || *io.stop.borrow() { Event::Stop } else { Event::Timer }
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => Event::Timer,
            };
            let now = self::now();
            match event {
                Event::Read(Ok(0)) => {
                    return match rules.finish.take() {
                        // The SMSC closed after our last words: that is how a session ends.
                        Some((result, _)) => result,
                        None => Err(eof("reading")),
                    };
                }
                // Once ending, further PDUs are not acted on (only the output is flushed).
                Event::Read(Ok(_)) if rules.finish.is_some() => self.inbuf.clear(),
                Event::Read(Ok(_)) => self.on_readable(rules, io, now)?,
                Event::Read(Err(source)) => {
                    return Err(SessionError::LinkLost {
                        during: "reading",
                        source,
                    })
                }
                Event::Wrote(Ok(0)) => {
                    return Err(SessionError::LinkLost {
                        during: "writing",
                        source: io::ErrorKind::WriteZero.into(),
                    })
                }
                Event::Fenced => return Ok(EndReason::Fenced),
                Event::Wrote(Ok(_)) => self.unflushed = true,
                Event::Flushed(Ok(())) => self.unflushed = false,
                Event::Flushed(Err(source)) => {
                    return Err(SessionError::LinkLost {
                        during: "writing",
                        source,
                    })
                }
                Event::Wrote(Err(source)) => {
                    return Err(SessionError::LinkLost {
                        during: "writing",
                        source,
                    })
                }
                Event::Ack(v) => {
                    // Every verdict already waiting is answered in this turn: the sink gives
                    // a whole commit's worth at once, and one turn (one write) per verdict
                    // made the answers to a window of receipts that many system calls.
                    let mut next = Some(v);
                    while let Some(v) = next {
                        if !matches!(self.state, BindState::Closed) {
                            let pdu = match (v.response, v.status) {
                                (CommandId::DeliverSmResp, CommandStatus::EsmeRok) => {
                                    Pdu::DeliverSmResp(Some(DeliverSmResp::default()))
                                }
                                (CommandId::DataSmResp, CommandStatus::EsmeRok) => {
                                    Pdu::DataSmResp(Some(DataSmResp::default()))
                                }
                                (id, _) => empty_response(id),
                            };
                            self.encode(&pdu, v.sequence, v.status);
                        }
                        next = rules.acks_rx.try_recv().ok();
                    }
                }
                Event::Queued(Some(m)) => rules.pending.push_back(*m),
                Event::Queued(None) => rules.queue_closed = true,
                Event::Stop => {
                    tracing::debug!(
                        channel = self.params.channel(),
                        event = "session_draining",
                        in_flight = rules.window.len(),
                        "graceful stop requested"
                    );
                    rules.drain_deadline = Some(now + self.params.drain_timeout());
                }
                Event::Timer => {}
            }
        }
    }

    /// Deadlines: expired requests, keep-alive, and the steps of a graceful stop.
    fn on_tick(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        now: Instant,
    ) -> Result<(), SessionError> {
        let mut silent = None;
        for expired in rules.window.expire(now) {
            if !expired.answered_since {
                silent = silent.or(Some(expired.sequence));
                // Nothing sent after it was answered either: the SMSC has stopped answering
                // this link, which says nothing about the message. It goes back with the rest
                // of the window, to be sent on the next link (at-least-once, as after a lost
                // link: the SMSC may have it already).
                rules.unanswered.push(expired.item);
                continue;
            }
            // The SMSC answers what came after it, just not this one: it may still deliver
            // it, so it is not sent again (the Genesys meaning of the response timeout).
            tracing::warn!(
                channel = self.params.channel(),
                event = "submit_timeout",
                sequence = expired.sequence,
                id = expired.item.id,
                "no submit_sm_resp within the response timeout"
            );
            io.counters.failed();
            let _ = io.events.send(SessionEvent::Outcome(SubmitOutcome::Failed {
                message: expired.item,
                reason: FailureReason::NoResponse,
            }));
        }
        if let Some(sequence) = silent {
            return Err(SessionError::SubmitsUnanswered {
                sequence,
                after: self.params.response_timeout(),
            });
        }
        match rules.keepalive.poll(now) {
            KeepAliveAction::Wait => {}
            // After unbind, enquire_link is no longer allowed; the unbind deadline rules.
            KeepAliveAction::SendEnquireLink if !self.state.may_send(CommandId::EnquireLink) => {}
            KeepAliveAction::SendEnquireLink => {
                let sequence = self.sequence.next_number();
                self.encode(&Pdu::EnquireLink, sequence, CommandStatus::EsmeRok);
                rules.keepalive.on_sent(sequence, now);
            }
            KeepAliveAction::Dead => {
                return Err(SessionError::EnquireLinkUnanswered {
                    sequence: rules.keepalive.pending_sequence().unwrap_or_default(),
                    after: self.params.response_timeout(),
                })
            }
        }
        if let Some(drain_deadline) = rules.drain_deadline {
            match rules.unbind {
                None if rules.window.is_empty() || now >= drain_deadline => {
                    let sequence = self.sequence.next_number();
                    self.encode(&Pdu::Unbind, sequence, CommandStatus::EsmeRok);
                    self.state.on_unbind();
                    rules.unbind = Some((sequence, now + self.params.response_timeout()));
                }
                Some((_, deadline)) if now >= deadline => {
                    // The SMSC did not answer our unbind: closing is all that is left.
                    rules.finish = Some((Ok(EndReason::Stopped), now));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends as many queued messages as the window, the rate, the throttle pause and the
    /// output buffer allow. Returns whether the loop should wait on the queue for more.
    fn fill_window(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        now: Instant,
        wake: &mut impl FnMut(Option<Instant>),
    ) -> bool {
        rules.wants_place = false;
        let may_submit = rules.drain_deadline.is_none()
            && self
                .state
                .bound_mode()
                .is_some_and(|mode| mode.can_submit());
        if !may_submit {
            return false;
        }
        while rules.window.has_room() && self.out.len() < OUTPUT_HIGH_WATER {
            if let Some(until) = rules.throttle.paused_until(now) {
                wake(Some(until));
                return false;
            }
            let mut message = match rules.pending.pop_front() {
                Some(m) => m,
                None => match io.queue.try_recv() {
                    Ok(m) => m,
                    Err(mpsc::error::TryRecvError::Empty) => return !rules.queue_closed,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        rules.queue_closed = true;
                        return false;
                    }
                },
            };
            // Every place of the record window is held by a written submit whose outcome
            // the layer above has not recorded yet: wait for one before spending a token.
            let record = io.record.as_ref().filter(|_| !message.has_place());
            if record.is_some_and(|r| r.free() == 0) {
                rules.pending.push_front(message);
                rules.wants_place = true;
                return false;
            }
            if let Err(at) = rules.bucket.try_take(now) {
                rules.pending.push_front(message);
                wake(Some(at));
                return false;
            }
            if let Some(record) = record {
                match record.try_take() {
                    Some(place) => message.hold(place),
                    None => {
                        // Taken meanwhile by a sibling session of the slot.
                        rules.pending.push_front(message);
                        rules.wants_place = true;
                        return false;
                    }
                }
            }
            let sequence = self.sequence.next_number();
            let before = self.out.len();
            if let Err(e) = message.submit.encode_submit(sequence, &mut self.out) {
                self.out.truncate(before);
                io.counters.failed();
                let _ = io.events.send(SessionEvent::Outcome(SubmitOutcome::Failed {
                    message,
                    reason: FailureReason::Invalid(e),
                }));
                continue;
            }
            message.attempts += 1;
            io.counters.submitted(message.attempts > 1);
            if let Err(message) = rules.window.insert(sequence, message, now) {
                // Unreachable (room was checked and numbers do not repeat within a window),
                // but never lose a message: withdraw the bytes and keep it queued.
                self.out.truncate(before);
                rules.pending.push_front(message);
                return false;
            }
        }
        false
    }

    fn on_readable(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        now: Instant,
    ) -> Result<(), SessionError> {
        loop {
            let frame = match self.framer.decode(&mut self.inbuf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // The stream cannot be split into PDUs any more: say so and close.
                    let sequence = match &e {
                        FrameError::TooShort {
                            sequence_number, ..
                        }
                        | FrameError::TooLong {
                            sequence_number, ..
                        } => *sequence_number,
                    };
                    self.encode(&Pdu::GenericNack, sequence, CommandStatus::EsmeRinvcmdlen);
                    rules.finish = Some((
                        Err(frame_violation(e)),
                        now + self.params.response_timeout(),
                    ));
                    return Ok(());
                }
            };
            rules.keepalive.on_received(now);
            self.on_frame(frame, rules, io, now)?;
            if rules.finish.is_some() {
                return Ok(());
            }
        }
    }

    fn on_frame(
        &mut self,
        frame: Frame,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        now: Instant,
    ) -> Result<(), SessionError> {
        let header = frame.header;
        let sequence = header.sequence_number;
        let pdu = match frame.pdu() {
            Ok(pdu) => pdu,
            Err(e) => {
                tracing::warn!(
                    channel = self.params.channel(),
                    event = "malformed_pdu",
                    command = header.command_id.name(),
                    sequence,
                    error = %e,
                    "malformed PDU from the SMSC"
                );
                // A malformed response to one of our submits still tells its fate.
                if header.command_id == CommandId::SubmitSmResp {
                    return self.on_submit_resp(rules, io, header, None, now);
                }
                match e.reply() {
                    Reply::GenericNack(status) => self.encode(&Pdu::GenericNack, sequence, status),
                    Reply::Response {
                        command_id,
                        command_status,
                    } => self.encode(&empty_response(command_id), sequence, command_status),
                    Reply::Nothing => {}
                }
                return Ok(());
            }
        };
        let id = pdu.command_id();
        if !id.is_response() && !self.state.may_receive(id) {
            self.encode(
                &empty_response(id.response()),
                sequence,
                CommandStatus::EsmeRinvbndsts,
            );
            return Ok(());
        }
        match pdu {
            Pdu::SubmitSmResp(body) => self.on_submit_resp(rules, io, header, body, now)?,
            Pdu::GenericNack => {
                if rules.window.contains(sequence) {
                    self.on_submit_resp(rules, io, header, None, now)?;
                } else if rules.keepalive.pending_sequence() == Some(sequence) {
                    // A nack still proves the SMSC is there.
                    rules.keepalive.on_response(sequence, now);
                } else {
                    tracing::warn!(
                        channel = self.params.channel(),
                        event = "generic_nack",
                        sequence,
                        status = %header.command_status,
                        "generic_nack from the SMSC"
                    );
                }
            }
            Pdu::DeliverSm(body) => {
                let receipt = body.esm_class.is_delivery_receipt();
                self.hand_up(
                    rules,
                    io,
                    header,
                    InboundPdu::Deliver(body),
                    receipt,
                    CommandId::DeliverSmResp,
                );
            }
            Pdu::DataSm(body) => {
                let receipt = body.esm_class.is_delivery_receipt();
                self.hand_up(
                    rules,
                    io,
                    header,
                    InboundPdu::Data(body),
                    receipt,
                    CommandId::DataSmResp,
                );
            }
            Pdu::EnquireLink => {
                self.encode(&Pdu::EnquireLinkResp, sequence, CommandStatus::EsmeRok)
            }
            Pdu::EnquireLinkResp => {
                rules.keepalive.on_response(sequence, now);
            }
            Pdu::Unbind => {
                self.encode(&Pdu::UnbindResp, sequence, CommandStatus::EsmeRok);
                self.state.on_unbind();
                rules.finish = Some((
                    Ok(EndReason::UnboundBySmsc),
                    now + self.params.response_timeout(),
                ));
            }
            Pdu::UnbindResp => {
                if rules.unbind.is_some_and(|(s, _)| s == sequence) {
                    rules.finish = Some((Ok(EndReason::Stopped), now));
                }
            }
            Pdu::AlertNotification(_) => {
                tracing::debug!(
                    channel = self.params.channel(),
                    event = "alert_notification_ignored",
                    "alert_notification from the SMSC ignored"
                );
            }
            other => {
                if !other.command_id().is_response() {
                    self.encode(
                        &empty_response(id.response()),
                        sequence,
                        CommandStatus::EsmeRinvbndsts,
                    );
                }
            }
        }
        Ok(())
    }

    fn hand_up(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        header: Header,
        pdu: InboundPdu,
        receipt: bool,
        response: CommandId,
    ) {
        io.counters.received(receipt);
        let ack = Ack {
            sequence: header.sequence_number,
            response,
            tx: rules.acks_tx.clone(),
        };
        // If the layer above is gone, the returned Inbound is dropped here, which answers the
        // SMSC with a temporary error: it will deliver again later.
        let _ = io
            .events
            .send(SessionEvent::Inbound(Inbound::new(pdu, receipt, ack)));
    }

    fn on_submit_resp(
        &mut self,
        rules: &mut Rules,
        io: &mut SessionIo<'_>,
        header: Header,
        body: Option<SubmitSmResp>,
        now: Instant,
    ) -> Result<(), SessionError> {
        let Some(message) = rules.window.complete(header.sequence_number) else {
            tracing::debug!(
                channel = self.params.channel(),
                event = "unexpected_response",
                command = header.command_id.name(),
                sequence = header.sequence_number,
                "response to no request in flight"
            );
            return Ok(());
        };
        let status = header.command_status;
        // A generic_nack or an unparseable submit_sm_resp saying "OK" is no acceptance.
        let status = match (header.command_id, status, &body) {
            (CommandId::SubmitSmResp, CommandStatus::EsmeRok, None)
            | (CommandId::GenericNack, CommandStatus::EsmeRok, _) => CommandStatus::EsmeRsyserr,
            _ => status,
        };
        match status.class() {
            StatusClass::Ok => {
                rules.throttle.on_success();
                io.counters.acknowledged();
                let message_id = body
                    .map(|b| String::from_utf8_lossy(b.message_id.as_bytes()).into_owned())
                    .unwrap_or_default();
                let _ = io
                    .events
                    .send(SessionEvent::Outcome(SubmitOutcome::Accepted {
                        message,
                        message_id,
                    }));
            }
            StatusClass::Transient if is_throttling(status) => {
                // Not the message's fault: back to the head of the queue, no retry spent.
                let until = rules.throttle.on_throttled(now);
                tracing::debug!(
                    channel = self.params.channel(),
                    event = "smsc_throttling",
                    %status,
                    resume_in_ms = u64::try_from(until.saturating_duration_since(now).as_millis())
                        .unwrap_or(u64::MAX),
                    "SMSC throttling"
                );
                rules.pending.push_front(message);
            }
            StatusClass::Transient => {
                let retries = message.attempts.saturating_sub(1);
                if retries < self.params.transient_retry_limit() {
                    rules.throttle.on_throttled(now);
                    rules.pending.push_front(message);
                } else {
                    io.counters.failed();
                    let _ = io.events.send(SessionEvent::Outcome(SubmitOutcome::Failed {
                        message,
                        reason: FailureReason::RetriesExhausted(status),
                    }));
                }
            }
            StatusClass::Permanent => {
                io.counters.failed();
                let _ = io.events.send(SessionEvent::Outcome(SubmitOutcome::Failed {
                    message,
                    reason: FailureReason::Rejected(status),
                }));
            }
            StatusClass::Protocol => {
                // The SMSC thinks the session is in another state: re-bind, and hand the
                // message back with the others.
                rules.pending.push_front(message);
                return Err(SessionError::ProtocolViolation {
                    detail: format!("submit_sm_resp {status}"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn bind_carries_every_parameter_even_at_the_length_limits() {
        let params = SessionParams::new("abcdefghijklmno", Secret::new("12345678"))
            .unwrap()
            .with_system_type("typetypetype")
            .unwrap()
            .with_address_range(&"9".repeat(40))
            .unwrap()
            .with_addr_ton_npi(1, 1)
            .with_bind_mode(BindMode::Receiver);
        let Pdu::BindReceiver(b) = bind_pdu(&params) else {
            panic!("expected bind_receiver");
        };
        assert_eq!(b.system_id.as_bytes(), b"abcdefghijklmno");
        assert_eq!(b.password.as_bytes(), b"12345678");
        assert_eq!(b.system_type.as_bytes(), b"typetypetype");
        assert_eq!(b.address_range.as_bytes(), "9".repeat(40).as_bytes());
        assert_eq!(b.interface_version, 0x34);
        assert_eq!(u8::from(b.addr_ton), 1);
    }

    #[test]
    fn error_answers_use_the_request_s_own_response() {
        assert_eq!(
            empty_response(CommandId::DeliverSmResp),
            Pdu::DeliverSmResp(None)
        );
        assert_eq!(
            empty_response(CommandId::EnquireLinkResp),
            Pdu::EnquireLinkResp
        );
        // outbind has no response of its own.
        assert_eq!(
            empty_response(CommandId::Outbind.response()),
            Pdu::GenericNack
        );
    }
}
