//! [`SessionCore`]: every protocol decision of a client session, without I/O.
//!
//! In the manner of quinn-proto's `Connection` and of the server side's
//! [`crate::server::ServerSession`]: octets received and the current time go in
//! ([`SessionCore::handle_bytes`], [`SessionCore::handle_timeout`]), messages to send go in
//! when the core asks for them ([`SessionCore::fill`]), verdicts on inbound messages go in
//! ([`SessionCore::answer`]); octets to write and [`CoreEvent`]s come out
//! ([`SessionCore::poll_transmit`], [`SessionCore::poll_event`]), and
//! [`SessionCore::next_deadline`] says when the core next has something to do. The core owns
//! no socket, timer or channel, so its rules are tested in memory with a clock advanced by
//! hand (`pair.rs`), and the async [`crate::session::Session`] around it is a small loop.
//!
//! What the core decides:
//!
//! * **Bind**: the bind PDU goes out at construction; enquire_link is answered while the
//!   response is awaited; an error status, a generic_nack, an "OK" whose body does not decode
//!   or no answer within the bind timeout end the session.
//! * **Submits**: a message is taken only when the window has room, the rate allows a token,
//!   no throttle pause runs, a record place is free and the output is not backed up; its
//!   response settles it (accepted, failed for good, back to the head of the queue on
//!   throttling or a transient status within the retry limit).
//! * **Flushing**: a write carries every submit the window, the rate and the output limit
//!   allow at that moment ([`SessionCore::fill`] explains why). Answers to the SMSC (enquire_link_resp, deliver_sm_resp, unbind_resp) are
//!   appended as they are decided and leave with the next write.
//! * **Keep-alive**, the **response timeout** of every request, and a **graceful stop**:
//!   no new submits, wait for the window to empty (at most the drain timeout), unbind, wait
//!   for unbind_resp (at most the response timeout).
//!
//! Once the core has decided to end ([`SessionCore::finishing`]) it acts on nothing more it
//! reads; the driver writes what is left of the output until that deadline, then takes the
//! result ([`SessionCore::take_end`]) and every message without an outcome
//! ([`SessionCore::close`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;

use crate::codec::pdu::{Bind, DataSmResp, DeliverSmResp, SubmitSmResp};
use crate::codec::{
    COctetString, CommandId, CommandStatus, Frame, FrameError, Framer, Header, Pdu, StatusClass,
};
use crate::session::counters::Counters;
use crate::session::driver::EndReason;
use crate::session::error::{LinkPhase, SessionError};
use crate::session::keepalive::{KeepAlive, KeepAliveAction};
use crate::session::message::{FailureReason, InboundPdu, OutboundMessage, SubmitOutcome};
use crate::session::params::{BindMode, SessionParams};
use crate::session::rate::TokenBucket;
use crate::session::record::RecordWindow;
use crate::session::sequence::SequenceNumbers;
use crate::session::state::BindState;
use crate::session::throttle::Throttle;
use crate::session::window::Window;

/// Past this many octets waiting to be written, no further submits are encoded: the socket
/// is the bottleneck and the window deadlines should not start before the bytes can leave.
pub(crate) const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// What the core reports, in the order it happened: a submit's outcome always comes before
/// any PDU the SMSC sent after its response (a receipt for it, say).
#[derive(Debug)]
pub enum CoreEvent {
    /// A submitted message's final outcome.
    Outcome(SubmitOutcome),
    /// A message from the SMSC. Answer it with [`SessionCore::answer`], quoting `sequence`
    /// and `response`, once the layer above has decided.
    Inbound {
        /// The message itself.
        pdu: InboundPdu,
        /// Whether esm_class marks it as a delivery receipt.
        is_receipt: bool,
        /// Its sequence number, which the answer carries.
        sequence: u32,
        /// The response it takes (deliver_sm_resp or data_sm_resp).
        response: CommandId,
    },
}

/// What [`SessionCore::fill`] got from the layer above's queue.
#[derive(Debug)]
pub enum Pulled {
    /// The next message.
    Message(OutboundMessage),
    /// Nothing queued right now.
    Empty,
    /// The queue is closed: nothing will come any more.
    Closed,
}

/// Why [`SessionCore::fill`] stopped taking messages, which tells the driver what to wait on
/// besides [`SessionCore::next_deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// The queue ran empty while the core could take more: wake when a message arrives.
    WantsMessages,
    /// Every record place is held: wake when one is freed.
    WantsPlace,
    /// The output is backed up (past the core's high-water mark): write, then fill again.
    WantsWrite,
    /// Nothing to wait on but deadlines and input (window full, rate, throttle, stopping).
    Idle,
}

/// The per-connection state of the client side's rules.
#[derive(Debug)]
pub struct SessionCore {
    params: SessionParams,
    framer: Framer,
    out: BytesMut,
    state: BindState,
    sequence: SequenceNumbers,
    smsc_system_id: String,
    /// The bind's sequence number and the moment it times out, until it is answered.
    binding: Option<(u32, Instant)>,
    window: Window<OutboundMessage>,
    bucket: TokenBucket,
    keepalive: KeepAlive,
    throttle: Throttle,
    /// Taken from the queue (or handed back) and not written yet; sent before the queue.
    pending: VecDeque<OutboundMessage>,
    record: Option<RecordWindow>,
    counters: Arc<Counters>,
    queue_closed: bool,
    /// When the rate or a throttle pause next allows a submit, after one of them stopped the
    /// last [`SessionCore::fill`].
    resume_at: Option<Instant>,
    /// When a graceful stop stops waiting for in-flight responses.
    drain_deadline: Option<Instant>,
    /// Our unbind's sequence number and the deadline for its response.
    unbind: Option<(u32, Instant)>,
    /// Set once the core has decided to end; the driver ends after the output is written
    /// or at the deadline, whichever comes first.
    finish: Option<(Result<EndReason, SessionError>, Instant)>,
    /// Submits that timed out on a link that stopped answering: handed back first.
    unanswered: Vec<OutboundMessage>,
    events: VecDeque<CoreEvent>,
}

impl SessionCore {
    /// A session that has just connected: the bind the parameters describe is the first
    /// output, and its response is awaited until the bind timeout.
    pub fn new(params: SessionParams, now: Instant) -> SessionCore {
        let window = Window::new(params.window_size(), params.response_timeout());
        let mut core = SessionCore {
            framer: Framer::default(),
            out: BytesMut::new(),
            state: BindState::Open,
            sequence: SequenceNumbers::new(),
            smsc_system_id: String::new(),
            binding: None,
            window,
            bucket: TokenBucket::new(params.max_rate(), now),
            keepalive: KeepAlive::new(
                params.enquire_link_interval(),
                params.response_timeout(),
                now,
            ),
            throttle: Throttle::new(params.throttle_pause(), params.throttle_pause_max()),
            pending: VecDeque::new(),
            record: None,
            counters: Arc::default(),
            queue_closed: false,
            resume_at: None,
            drain_deadline: None,
            unbind: None,
            finish: None,
            unanswered: Vec::new(),
            events: VecDeque::new(),
            params,
        };
        let sequence = core.sequence.next_number();
        core.encode(&bind_pdu(&core.params), sequence, CommandStatus::EsmeRok);
        core.state.on_bind_sent(core.params.bind_mode());
        core.binding = Some((sequence, now + core.params.bind_timeout()));
        core
    }

    /// Starts the bound session's work at `now`: the keep-alive and the rate count from here,
    /// `counters` gets the totals, `record` (if any) bounds written submits without a
    /// recorded outcome, and `resend` (messages an earlier session handed back) goes out
    /// before anything from the queue.
    pub fn start(
        &mut self,
        now: Instant,
        counters: Arc<Counters>,
        record: Option<RecordWindow>,
        resend: VecDeque<OutboundMessage>,
    ) {
        let p = &self.params;
        self.bucket = TokenBucket::new(p.max_rate(), now);
        self.keepalive = KeepAlive::new(p.enquire_link_interval(), p.response_timeout(), now);
        self.counters = counters;
        self.record = record;
        self.pending.extend(resend);
    }

    /// The parameters the session runs with.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// The session state.
    pub fn state(&self) -> BindState {
        self.state
    }

    /// Whether the bind succeeded (and the session has not ended since).
    pub fn is_bound(&self) -> bool {
        self.binding.is_none() && self.state.bound_mode().is_some()
    }

    /// The SMSC's system_id from its bind response.
    pub fn smsc_system_id(&self) -> &str {
        &self.smsc_system_id
    }

    /// Submits awaiting their response.
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    /// Reads every whole PDU in `buf` and acts on it. While binding, PDUs after the bind's
    /// response are left in `buf` for the bound session ([`SessionCore::start`] first). Once
    /// the core has decided to end, input is discarded.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut, now: Instant) {
        loop {
            if self.finish.is_some() {
                buf.clear();
                return;
            }
            let frame = match self.framer.decode(buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => {
                    self.on_framing_error(e, now);
                    return;
                }
            };
            if self.binding.is_some() {
                self.on_binding_frame(frame, now);
                if self.binding.is_none() {
                    return;
                }
                continue;
            }
            self.keepalive.on_received(now);
            self.on_frame(frame, now);
        }
    }

    /// Acts on every deadline that has passed at `now`: the bind timeout, expired requests,
    /// keep-alive, and the steps of a graceful stop.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finish.is_some() {
            return;
        }
        if let Some((_, deadline)) = self.binding {
            if now >= deadline {
                self.state.on_bind_resp(false);
                self.end(
                    Err(SessionError::BindTimeout {
                        after: self.params.bind_timeout(),
                    }),
                    now,
                );
            }
            return;
        }
        self.expire(now);
        if self.finish.is_some() {
            return;
        }
        match self.keepalive.poll(now) {
            KeepAliveAction::Wait => {}
            // After unbind, enquire_link is no longer allowed; the unbind deadline rules.
            KeepAliveAction::SendEnquireLink if !self.state.may_send(CommandId::EnquireLink) => {}
            KeepAliveAction::SendEnquireLink => {
                let sequence = self.sequence.next_number();
                self.encode(&Pdu::EnquireLink, sequence, CommandStatus::EsmeRok);
                self.keepalive.on_sent(sequence, now);
            }
            KeepAliveAction::Dead => {
                let sequence = self.keepalive.pending_sequence().unwrap_or_default();
                let after = self.params.response_timeout();
                self.end(
                    Err(SessionError::EnquireLinkUnanswered { sequence, after }),
                    now,
                );
                return;
            }
        }
        if let Some(drain_deadline) = self.drain_deadline {
            match self.unbind {
                None if self.window.is_empty() || now >= drain_deadline => {
                    let sequence = self.sequence.next_number();
                    self.encode(&Pdu::Unbind, sequence, CommandStatus::EsmeRok);
                    self.state.on_unbind();
                    self.unbind = Some((sequence, now + self.params.response_timeout()));
                }
                Some((_, deadline)) if now >= deadline => {
                    // The SMSC did not answer our unbind: closing is all that is left.
                    self.end(Ok(EndReason::Stopped), now);
                }
                _ => {}
            }
        }
    }

    /// Expired submits: failed, or (when nothing sent after them was answered either) the
    /// sign that the link is dead.
    fn expire(&mut self, now: Instant) {
        let mut silent = None;
        for expired in self.window.expire(now) {
            if !expired.answered_since {
                silent = silent.or(Some(expired.sequence));
                // Nothing sent after it was answered either: the SMSC has stopped answering
                // this link, which says nothing about the message. It goes back with the rest
                // of the window, to be sent on the next link (at-least-once, as after a lost
                // link: the SMSC may have it already).
                self.unanswered.push(expired.item);
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
            self.fail(expired.item, FailureReason::NoResponse);
        }
        if let Some(sequence) = silent {
            let after = self.params.response_timeout();
            self.end(
                Err(SessionError::SubmitsUnanswered { sequence, after }),
                now,
            );
        }
    }

    /// When [`SessionCore::handle_timeout`] next has something to do (or, once finishing,
    /// when the driver stops writing what is left). `None` when nothing is timed.
    pub fn next_deadline(&self) -> Option<Instant> {
        if let Some((_, deadline)) = &self.finish {
            return Some(*deadline);
        }
        if let Some((_, deadline)) = self.binding {
            return Some(deadline);
        }
        [
            Some(self.keepalive.next_deadline()),
            self.window.next_deadline(),
            self.resume_at,
            // Once unbind is sent, the drain deadline is history (merging it would spin).
            self.drain_deadline.filter(|_| self.unbind.is_none()),
            self.unbind.map(|(_, d)| d),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Moves every octet due into `out`; `true` if there were any.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        crate::codec::hand_over(&mut self.out, out)
    }

    /// The next event for the layer above.
    pub fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    /// Takes messages through `next` (after any held back) and encodes their submit_sm, as
    /// long as the window, the rate, the throttle pause, the record window and the output
    /// allow. `unwritten` is how many octets the driver still has to write.
    ///
    /// The flush policy: everything taken here leaves in the driver's next write; the core
    /// neither splits what the window allows into several writes nor holds submits back to
    /// gather more. The SMSC's answers pace the writes: a read that brings `k` responses
    /// frees `k` places, and the next write carries `k` submits, so at any window the two
    /// ends exchange as few, as full, writes as the window lets them. Measured against
    /// writes of at most half a window, whole writes were 1.2–1.5× faster from window 2 to
    /// 50, on plain TCP and on TLS, at less CPU per message, and the same within the runs'
    /// spread at 100 and 1000 (see "The session across windows" in docs/performance.md).
    pub fn fill(
        &mut self,
        now: Instant,
        unwritten: usize,
        mut next: impl FnMut() -> Pulled,
    ) -> Fill {
        self.resume_at = None;
        let may_submit = self.finish.is_none()
            && self.binding.is_none()
            && self.drain_deadline.is_none()
            && self
                .state
                .bound_mode()
                .is_some_and(|mode| mode.can_submit());
        if !may_submit {
            return Fill::Idle;
        }
        while self.window.has_room() {
            if unwritten + self.out.len() >= OUTPUT_HIGH_WATER {
                return Fill::WantsWrite;
            }
            if let Some(until) = self.throttle.paused_until(now) {
                self.resume_at = Some(until);
                return Fill::Idle;
            }
            let mut message = match self.pending.pop_front() {
                Some(m) => m,
                None => match next() {
                    Pulled::Message(m) => m,
                    Pulled::Empty if self.queue_closed => return Fill::Idle,
                    Pulled::Empty => return Fill::WantsMessages,
                    Pulled::Closed => {
                        self.queue_closed = true;
                        return Fill::Idle;
                    }
                },
            };
            // Every place of the record window is held by a written submit whose outcome
            // the layer above has not recorded yet: wait for one before spending a token.
            let record = self.record.as_ref().filter(|_| !message.has_place());
            if record.is_some_and(|r| r.free() == 0) {
                self.pending.push_front(message);
                return Fill::WantsPlace;
            }
            if let Err(at) = self.bucket.try_take(now) {
                self.pending.push_front(message);
                self.resume_at = Some(at);
                return Fill::Idle;
            }
            if let Some(record) = record {
                match record.try_take() {
                    Some(place) => message.hold(place),
                    None => {
                        // Taken meanwhile by a sibling session of the slot.
                        self.pending.push_front(message);
                        return Fill::WantsPlace;
                    }
                }
            }
            let sequence = self.sequence.next_number();
            let before = self.out.len();
            if let Err(e) = message.submit.encode_submit(sequence, &mut self.out) {
                self.out.truncate(before);
                self.fail(message, FailureReason::Invalid(e));
                continue;
            }
            message.attempts += 1;
            self.counters.submitted(message.attempts > 1);
            if let Err(message) = self.window.insert(sequence, message, now) {
                // Unreachable (room was checked and numbers do not repeat within a window),
                // but never lose a message: withdraw the bytes and keep it queued.
                self.out.truncate(before);
                self.pending.push_front(message);
                return Fill::Idle;
            }
        }
        Fill::Idle
    }

    /// Holds a message taken from the queue outside [`SessionCore::fill`] (the driver waited
    /// on the queue and got one); it goes out before the queue's next.
    pub fn push(&mut self, message: OutboundMessage) {
        self.pending.push_back(message);
    }

    /// The queue closed while the driver waited on it.
    pub fn queue_closed(&mut self) {
        self.queue_closed = true;
    }

    /// Answers an inbound request ([`CoreEvent::Inbound`]) with `status`.
    pub fn answer(&mut self, sequence: u32, response: CommandId, status: CommandStatus) {
        if matches!(self.state, BindState::Closed) {
            return;
        }
        let pdu = match (response, status) {
            (CommandId::DeliverSmResp, CommandStatus::EsmeRok) => {
                Pdu::DeliverSmResp(Some(DeliverSmResp::default()))
            }
            (CommandId::DataSmResp, CommandStatus::EsmeRok) => {
                Pdu::DataSmResp(Some(DataSmResp::default()))
            }
            (id, status) => {
                Header::put_header_only(id, status, sequence, &mut self.out);
                return;
            }
        };
        self.encode(&pdu, sequence, status);
    }

    /// Starts a graceful stop: nothing new is submitted, in-flight submits get until the
    /// drain timeout to be answered, then unbind.
    pub fn stop(&mut self, now: Instant) {
        if self.drain_deadline.is_some() {
            return;
        }
        tracing::debug!(
            channel = self.params.channel(),
            event = "session_draining",
            in_flight = self.window.len(),
            "graceful stop requested"
        );
        self.drain_deadline = Some(now + self.params.drain_timeout());
    }

    /// Whether a graceful stop was requested.
    pub fn is_stopping(&self) -> bool {
        self.drain_deadline.is_some()
    }

    /// Once the core has decided to end: until when the driver may still write what is left.
    pub fn finishing(&self) -> Option<Instant> {
        self.finish.as_ref().map(|(_, deadline)| *deadline)
    }

    /// How the session ended, once it has ([`SessionCore::finishing`]); `None` before.
    pub fn take_end(&mut self) -> Option<Result<EndReason, SessionError>> {
        self.finish.take().map(|(result, _)| result)
    }

    /// The SMSC closed the connection: the end the core had decided on, or a lost link.
    pub fn peer_closed(&mut self) -> Result<EndReason, SessionError> {
        let phase = if self.binding.is_some() {
            LinkPhase::Binding
        } else {
            LinkPhase::Reading
        };
        self.take_end()
            .unwrap_or_else(|| Err(SessionError::eof(phase)))
    }

    /// Closes the session and hands back every message without an outcome, in send order:
    /// those that timed out on a silent link, the rest of the window, then those not written.
    pub fn close(&mut self) -> VecDeque<OutboundMessage> {
        self.state.on_closed();
        let mut unsent: VecDeque<OutboundMessage> = self.unanswered.drain(..).collect();
        unsent.extend(self.window.drain().into_iter().map(|(_, m)| m));
        self.counters.set_in_flight(0);
        unsent.extend(self.pending.drain(..));
        unsent
    }

    fn end(&mut self, result: Result<EndReason, SessionError>, deadline: Instant) {
        if self.finish.is_none() {
            self.finish = Some((result, deadline));
        }
    }

    fn fail(&mut self, message: OutboundMessage, reason: FailureReason) {
        self.counters.failed();
        self.events
            .push_back(CoreEvent::Outcome(SubmitOutcome::Failed {
                message,
                reason,
            }));
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

    /// The stream cannot be split into PDUs any more: say so and close.
    fn on_framing_error(&mut self, e: FrameError, now: Instant) {
        if self.binding.is_some() {
            self.state.on_bind_resp(false);
            self.end(Err(frame_violation(e)), now);
            return;
        }
        let sequence = match &e {
            FrameError::TooShort {
                sequence_number, ..
            }
            | FrameError::TooLong {
                sequence_number, ..
            } => *sequence_number,
        };
        Header::put_header_only(
            CommandId::GenericNack,
            CommandStatus::EsmeRinvcmdlen,
            sequence,
            &mut self.out,
        );
        self.end(
            Err(frame_violation(e)),
            now + self.params.response_timeout(),
        );
    }

    fn on_binding_frame(&mut self, frame: Frame, now: Instant) {
        let Some((bind_sequence, _)) = self.binding else {
            return;
        };
        let header = frame.header;
        if header.command_id == CommandId::EnquireLink {
            Header::put_header_only(
                CommandId::EnquireLinkResp,
                CommandStatus::EsmeRok,
                header.sequence_number,
                &mut self.out,
            );
            return;
        }
        let answered = matches!(
            header.command_id,
            CommandId::BindTransmitterResp
                | CommandId::BindReceiverResp
                | CommandId::BindTransceiverResp
                | CommandId::GenericNack
        );
        if header.sequence_number != bind_sequence || !answered {
            return;
        }
        let status = header.command_status;
        if status != CommandStatus::EsmeRok || header.command_id == CommandId::GenericNack {
            self.state.on_bind_resp(false);
            self.end(Err(SessionError::BindRejected { status }), now);
            return;
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
                self.end(Err(SessionError::BindRespMalformed { source }), now);
                return;
            }
        }
        self.state.on_bind_resp(true);
        self.binding = None;
        tracing::debug!(
            channel = self.params.channel(),
            event = "session_bound",
            smsc = %self.smsc_system_id,
            mode = ?self.params.bind_mode(),
            "bound"
        );
    }

    fn on_frame(&mut self, frame: Frame, now: Instant) {
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
                    return self.on_submit_resp(header, None, now);
                }
                e.reply().put(sequence, &mut self.out);
                return;
            }
        };
        let id = pdu.command_id();
        if !id.is_response() && !self.state.may_receive(id) {
            self.refuse(id, sequence);
            return;
        }
        match pdu {
            Pdu::SubmitSmResp(body) => self.on_submit_resp(header, body, now),
            Pdu::GenericNack => {
                if self.window.contains(sequence) {
                    self.on_submit_resp(header, None, now);
                } else if self.keepalive.pending_sequence() == Some(sequence) {
                    // A nack still proves the SMSC is there.
                    self.keepalive.on_response(sequence, now);
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
                    sequence,
                    InboundPdu::Deliver(body),
                    receipt,
                    CommandId::DeliverSmResp,
                );
            }
            Pdu::DataSm(body) => {
                let receipt = body.esm_class.is_delivery_receipt();
                self.hand_up(
                    sequence,
                    InboundPdu::Data(body),
                    receipt,
                    CommandId::DataSmResp,
                );
            }
            Pdu::EnquireLink => Header::put_header_only(
                CommandId::EnquireLinkResp,
                CommandStatus::EsmeRok,
                sequence,
                &mut self.out,
            ),
            Pdu::EnquireLinkResp => {
                self.keepalive.on_response(sequence, now);
            }
            Pdu::Unbind => {
                Header::put_header_only(
                    CommandId::UnbindResp,
                    CommandStatus::EsmeRok,
                    sequence,
                    &mut self.out,
                );
                self.state.on_unbind();
                self.end(
                    Ok(EndReason::UnboundBySmsc),
                    now + self.params.response_timeout(),
                );
            }
            Pdu::UnbindResp => {
                if self.unbind.is_some_and(|(s, _)| s == sequence) {
                    self.end(Ok(EndReason::Stopped), now);
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
                    self.refuse(id, sequence);
                }
            }
        }
    }

    /// Answers a request the session does not serve in its state with ESME_RINVBNDSTS,
    /// through the request's own response (generic_nack when it has none).
    fn refuse(&mut self, id: CommandId, sequence: u32) {
        Header::put_header_only(
            own_response(id),
            CommandStatus::EsmeRinvbndsts,
            sequence,
            &mut self.out,
        );
    }

    fn hand_up(&mut self, sequence: u32, pdu: InboundPdu, is_receipt: bool, response: CommandId) {
        self.counters.received(is_receipt);
        self.events.push_back(CoreEvent::Inbound {
            pdu,
            is_receipt,
            sequence,
            response,
        });
    }

    fn on_submit_resp(&mut self, header: Header, body: Option<SubmitSmResp>, now: Instant) {
        let Some(message) = self.window.complete(header.sequence_number) else {
            tracing::debug!(
                channel = self.params.channel(),
                event = "unexpected_response",
                command = header.command_id.name(),
                sequence = header.sequence_number,
                "response to no request in flight"
            );
            return;
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
                self.throttle.on_success();
                self.counters.acknowledged();
                let message_id = body
                    .map(|b| String::from_utf8_lossy(b.message_id.as_bytes()).into_owned())
                    .unwrap_or_default();
                self.events
                    .push_back(CoreEvent::Outcome(SubmitOutcome::Accepted {
                        message,
                        message_id,
                    }));
            }
            StatusClass::Transient if is_throttling(status) => {
                // Not the message's fault: back to the head of the queue, no retry spent.
                let until = self.throttle.on_throttled(now);
                tracing::debug!(
                    channel = self.params.channel(),
                    event = "smsc_throttling",
                    %status,
                    resume_in_ms = u64::try_from(until.saturating_duration_since(now).as_millis())
                        .unwrap_or(u64::MAX),
                    "SMSC throttling"
                );
                self.pending.push_front(message);
            }
            StatusClass::Transient => {
                let retries = message.attempts.saturating_sub(1);
                if retries < self.params.transient_retry_limit() {
                    self.throttle.on_throttled(now);
                    self.pending.push_front(message);
                } else {
                    self.fail(message, FailureReason::RetriesExhausted(status));
                }
            }
            StatusClass::Permanent => self.fail(message, FailureReason::Rejected(status)),
            StatusClass::Protocol => {
                // The SMSC thinks the session is in another state: re-bind, and hand the
                // message back with the others.
                self.pending.push_front(message);
                self.end(
                    Err(SessionError::ProtocolViolation {
                        detail: format!("submit_sm_resp {status}"),
                    }),
                    now,
                );
            }
        }
    }
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

/// The response that answers request `id` with an error: its own, or generic_nack for
/// requests without one (outbind, alert_notification) and unknown ids.
fn own_response(id: CommandId) -> CommandId {
    let response = id.response();
    if response.spec_name().is_some() {
        response
    } else {
        CommandId::GenericNack
    }
}

fn is_throttling(status: CommandStatus) -> bool {
    matches!(
        status,
        CommandStatus::EsmeRthrottled | CommandStatus::EsmeRmsgqful
    )
}

fn frame_violation(e: FrameError) -> SessionError {
    SessionError::ProtocolViolation {
        detail: e.to_string(),
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
        assert_eq!(own_response(CommandId::DeliverSm), CommandId::DeliverSmResp);
        assert_eq!(
            own_response(CommandId::EnquireLink),
            CommandId::EnquireLinkResp
        );
        // outbind and alert_notification have no response of their own.
        assert_eq!(own_response(CommandId::Outbind), CommandId::GenericNack);
        assert_eq!(
            own_response(CommandId::AlertNotification),
            CommandId::GenericNack
        );
    }
}
