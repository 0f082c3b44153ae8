//! [`ServerSession`]: the rules of one server-side connection, driven by calls with `now`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::BytesMut;
use tracing::debug;

use crate::codec::pdu::{
    Bind, BindResp, DataSmResp, DeliverSm, QuerySm, QuerySmResp, SubmitSmResp,
};
use crate::codec::{
    CommandId, CommandStatus, DecodeError, Frame, FrameError, Framer, Header, MessageId, Pdu,
    Reply, SystemId, Tlv, TlvTag, Tlvs,
};
use crate::secret::Secret;

use super::error::DeliverRefused;
use super::event::{BindMode, CloseReason, QueryAnswer, ServerEvent, Submitted, Token};
use super::outbound::DeliverWindow;
use super::params::ServerParams;
use super::pending::{Awaiting, Pending, Request};

/// The largest sequence number SMPP v3.4 allows (§3.2: 0x00000001 to 0x7FFFFFFF).
const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// The interface version smppd speaks, announced in bind_resp (sc_interface_version, §5.3.2.25).
const SMPP_V34: u8 = 0x34;

/// A bind handed to the daemon and not yet answered.
#[derive(Debug, Clone, Copy)]
struct PendingBind {
    token: Token,
    mode: BindMode,
    sequence_number: u32,
}

/// Where the connection is in its life; the diagram is in the [module documentation](super).
#[derive(Debug, Clone)]
enum State {
    /// Connected, not bound; `bind` awaits the daemon's answer.
    Open { bind: Option<PendingBind> },
    /// Bound: traffic flows in the directions the mode allows.
    Bound(BindMode),
    /// smppd sent unbind (`sequence_number`) at `since`; only responses still flow.
    Unbinding {
        reason: CloseReason,
        sequence_number: u32,
        since: Instant,
    },
    /// Finished: nothing more is read, the driver flushes and closes.
    Closed,
}

/// One server-side SMPP connection, without its socket: see the [module documentation](super)
/// for how a driver moves octets, time and answers through it.
#[derive(Debug)]
pub struct ServerSession {
    params: ServerParams,
    /// `params.system_id` as bind_resp carries it, checked once.
    system_id: SystemId,
    framer: Framer,
    state: State,
    opened: Instant,
    last_received: Instant,
    pending: Pending,
    window: DeliverWindow,
    next_sequence: u32,
    /// Encoded PDUs not yet taken by [`ServerSession::poll_transmit`].
    out: BytesMut,
    events: VecDeque<ServerEvent>,
}

impl ServerSession {
    /// A connection that opened at `now`: the bind timeout starts counting. Parameters are
    /// used as given ([`ServerParams::validate`] is the place to refuse them); a system_id
    /// that does not fit bind_resp is sent empty rather than refused here.
    pub fn new(params: ServerParams, now: Instant) -> Self {
        let system_id = SystemId::new(&params.system_id).unwrap_or_default();
        ServerSession {
            system_id,
            framer: Framer::new(params.max_pdu_len),
            state: State::Open { bind: None },
            opened: now,
            last_received: now,
            pending: Pending::new(params.max_pending),
            window: DeliverWindow::new(params.deliver_window),
            next_sequence: 1,
            out: BytesMut::new(),
            events: VecDeque::new(),
            params,
        }
    }

    /// Takes every complete PDU off the front of `buf` and acts on it; a partial PDU stays in
    /// `buf` for the next read. Once the connection is closed nothing more is taken.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut, now: Instant) {
        while !self.is_closed() {
            match self.framer.decode(buf) {
                Ok(Some(frame)) => self.handle_frame(frame, now),
                Ok(None) => break,
                Err(e) => {
                    let (FrameError::TooShort {
                        sequence_number, ..
                    }
                    | FrameError::TooLong {
                        sequence_number, ..
                    }) = e;
                    debug!(event = "server_framing_error", error = %e, "closing the connection");
                    self.header_only(
                        CommandId::GenericNack,
                        CommandStatus::EsmeRinvcmdlen,
                        sequence_number,
                    );
                    self.close(CloseReason::Framing(e));
                }
            }
        }
    }

    /// Acts on every deadline that has passed at `now`: bind timeout, unanswered deliver_sm
    /// or unbind, idle. Harmless to call early or often.
    pub fn handle_timeout(&mut self, now: Instant) {
        let passed = |deadline: Option<Instant>| deadline.is_some_and(|d| now >= d);
        let response_timeout = self.params.response_timeout;
        match &self.state {
            State::Closed => return,
            State::Open { .. } => {
                if passed(self.opened.checked_add(self.params.bind_timeout)) {
                    self.close(CloseReason::BindTimeout);
                }
                // Nothing can be in flight before a bind.
                return;
            }
            State::Bound(_) | State::Unbinding { .. } => {}
        }
        if passed(self.window.deadline(response_timeout)) {
            return self.close(CloseReason::NotReading);
        }
        match &self.state {
            State::Unbinding { reason, since, .. }
                if passed(since.checked_add(response_timeout)) =>
            {
                let reason = reason.clone();
                self.close(reason);
            }
            State::Bound(_) if passed(self.last_received.checked_add(self.params.idle_timeout)) => {
                self.start_unbind(CloseReason::Idle, now);
            }
            _ => {}
        }
    }

    /// When [`ServerSession::handle_timeout`] next has something to do; `None` once closed.
    pub fn next_deadline(&self) -> Option<Instant> {
        let response_timeout = self.params.response_timeout;
        let own = match &self.state {
            State::Closed => return None,
            State::Open { .. } => return self.opened.checked_add(self.params.bind_timeout),
            State::Bound(_) => self.last_received.checked_add(self.params.idle_timeout),
            State::Unbinding { since, .. } => since.checked_add(response_timeout),
        };
        [own, self.window.deadline(response_timeout)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Appends every encoded PDU due to `out`; `true` if it appended anything. What is queued
    /// is bounded by the pending and deliver limits and by what the last reads asked for.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        crate::codec::hand_over(&mut self.out, out)
    }

    /// The next event for the daemon, in the order their causes happened.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// True once the connection is finished: the driver writes what
    /// [`ServerSession::poll_transmit`] still gives, then closes the socket.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Answers [`ServerEvent::BindRequested`]: `Ok` binds and sends bind_*_resp ESME_ROK
    /// naming [`ServerParams::system_id`]; `Err(status)` sends that status (ESME_RBINDFAIL
    /// if it is ESME_ROK) and the connection stays open for another bind until the bind
    /// timeout. An unknown or already answered token does nothing.
    pub fn answer_bind(&mut self, token: Token, answer: Result<(), CommandStatus>, now: Instant) {
        let State::Open { bind: Some(bind) } = self.state else {
            return;
        };
        if bind.token != token {
            return;
        }
        let seq = bind.sequence_number;
        match answer {
            Ok(()) => {
                self.state = State::Bound(bind.mode);
                // Idle time counts from the bind, not from the last PDU before it.
                self.last_received = now;
                let body = BindResp {
                    system_id: self.system_id,
                    tlvs: Tlvs(
                        Tlv::u8(TlvTag::ScInterfaceVersion, SMPP_V34)
                            .into_iter()
                            .collect(),
                    ),
                };
                let resp = match bind.mode {
                    BindMode::Transmitter => Pdu::BindTransmitterResp(Some(body)),
                    BindMode::Receiver => Pdu::BindReceiverResp(Some(body)),
                    BindMode::Transceiver => Pdu::BindTransceiverResp(Some(body)),
                };
                debug!(event = "server_bound", mode = ?bind.mode, "client bound");
                self.respond(&resp, seq);
            }
            Err(status) => {
                self.state = State::Open { bind: None };
                let status = error_status(status, CommandStatus::EsmeRbindfail);
                self.header_only(bind_resp_id(bind.mode), status, seq);
            }
        }
    }

    /// Answers [`ServerEvent::Submit`]: `Ok(message_id)` sends submit_sm_resp (or
    /// data_sm_resp) ESME_ROK with that id; `Err(status)` sends the status (ESME_RSYSERR if it
    /// is ESME_ROK, so a client never reads success without an id). An id that cannot be sent
    /// (over 64 octets, or a NUL) is answered ESME_RSYSERR. Unknown, already answered, or
    /// query tokens do nothing; so does any answer once the connection is closed. `now` is
    /// taken, as by every call into the core, though an answer starts no timer.
    pub fn answer_submit(
        &mut self,
        token: Token,
        answer: Result<String, CommandStatus>,
        _now: Instant,
    ) {
        let Some(request) = self
            .pending
            .take_if(token, |a| matches!(a, Awaiting::Submit | Awaiting::Data))
        else {
            return;
        };
        let seq = request.sequence_number;
        let id = match request.awaiting {
            Awaiting::Data => CommandId::DataSmResp,
            _ => CommandId::SubmitSmResp,
        };
        let message_id = match answer {
            Ok(text) => match MessageId::new(&text) {
                Ok(message_id) => message_id,
                Err(e) => {
                    debug!(event = "server_bad_message_id", error = %e, "message id cannot be sent");
                    return self.header_only(id, CommandStatus::EsmeRsyserr, seq);
                }
            },
            Err(status) => {
                return self.header_only(id, error_status(status, CommandStatus::EsmeRsyserr), seq)
            }
        };
        let resp = match request.awaiting {
            Awaiting::Data => Pdu::DataSmResp(Some(DataSmResp {
                message_id,
                tlvs: Tlvs::default(),
            })),
            _ => Pdu::SubmitSmResp(Some(SubmitSmResp { message_id })),
        };
        self.respond(&resp, seq);
    }

    /// Answers [`ServerEvent::Query`] with query_sm_resp: `Ok` carries the state and echoes
    /// the queried message_id; `Err(status)` sends the status (ESME_RQUERYFAIL if it is
    /// ESME_ROK). Unknown, already answered or submit tokens do nothing.
    pub fn answer_query(
        &mut self,
        token: Token,
        answer: Result<QueryAnswer, CommandStatus>,
        _now: Instant,
    ) {
        let Some(request) = self
            .pending
            .take_if(token, |a| matches!(a, Awaiting::Query(_)))
        else {
            return;
        };
        let (seq, Awaiting::Query(message_id)) = (request.sequence_number, request.awaiting) else {
            return;
        };
        match answer {
            Ok(a) => {
                let resp = Pdu::QuerySmResp(Some(QuerySmResp {
                    message_id,
                    final_date: a.final_date,
                    message_state: a.message_state.value(),
                    error_code: a.error_code,
                }));
                self.respond(&resp, seq);
            }
            Err(status) => self.header_only(
                CommandId::QuerySmResp,
                error_status(status, CommandStatus::EsmeRqueryfail),
                seq,
            ),
        }
    }

    /// True when [`ServerSession::deliver`] would take a deliver_sm now: bound as receiver or
    /// transceiver, not unbinding, and fewer than `deliver_window` unanswered.
    pub fn can_deliver(&self) -> bool {
        matches!(self.state, State::Bound(mode) if mode.receives()) && self.window.has_room()
    }

    /// Queues `pdu` as a deliver_sm with a fresh sequence number; its answer comes back as
    /// [`ServerEvent::Delivered`] with `key` (or [`ServerEvent::Undelivered`] if the
    /// connection closes first). Refused, with nothing sent, when [`ServerSession::can_deliver`]
    /// is false or the PDU cannot be encoded.
    pub fn deliver(
        &mut self,
        key: u64,
        pdu: DeliverSm,
        now: Instant,
    ) -> Result<(), DeliverRefused> {
        match self.state {
            State::Bound(mode) if mode.receives() => {}
            State::Bound(_) | State::Open { .. } => return Err(DeliverRefused::NotReceiving),
            State::Unbinding { .. } | State::Closed => return Err(DeliverRefused::Closing),
        }
        if !self.window.has_room() {
            return Err(DeliverRefused::WindowFull {
                in_flight: self.window.len(),
            });
        }
        let seq = self.next_sequence();
        // The codec writes nothing when it refuses a PDU.
        Pdu::DeliverSm(pdu)
            .encode(seq, CommandStatus::EsmeRok, &mut self.out)
            .map_err(DeliverRefused::Encode)?;
        self.window.sent(seq, key, now);
        Ok(())
    }

    /// The operator ends the session: bound, smppd sends unbind, refuses new submits with
    /// ESME_RINVBNDSTS, and closes on unbind_resp or after `response_timeout`; not yet bound,
    /// it closes at once. Already unbinding or closed: nothing changes.
    pub fn unbind(&mut self, now: Instant) {
        match self.state {
            State::Bound(_) => self.start_unbind(CloseReason::OperatorUnbind, now),
            State::Open { .. } => self.close(CloseReason::OperatorUnbind),
            State::Unbinding { .. } | State::Closed => {}
        }
    }

    /// submit_sm, data_sm and query_sm awaiting the daemon's answer.
    #[cfg(test)]
    pub(super) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// deliver_sm awaiting the client's answer.
    #[cfg(test)]
    pub(super) fn window_len(&self) -> usize {
        self.window.len()
    }

    /// Lets a test reach the wrap without two billion PDUs.
    #[cfg(test)]
    pub(super) fn set_next_sequence(&mut self, next: u32) {
        self.next_sequence = next;
    }

    fn handle_frame(&mut self, frame: Frame, now: Instant) {
        self.last_received = now;
        let header = frame.header;
        let seq = header.sequence_number;
        let pdu = match frame.into_pdu() {
            Ok(pdu) => pdu,
            Err(e) => return self.malformed(&e),
        };
        match pdu {
            Pdu::BindTransmitter(b) => self.on_bind(BindMode::Transmitter, &b, seq),
            Pdu::BindReceiver(b) => self.on_bind(BindMode::Receiver, &b, seq),
            Pdu::BindTransceiver(b) => self.on_bind(BindMode::Transceiver, &b, seq),
            Pdu::SubmitSm(sm) => {
                self.on_submit(Awaiting::Submit, Submitted::SubmitSm(Box::new(sm)), seq)
            }
            Pdu::DataSm(sm) => self.on_submit(Awaiting::Data, Submitted::DataSm(Box::new(sm)), seq),
            Pdu::QuerySm(q) => self.on_query(&q, seq),
            Pdu::EnquireLink => self.respond(&Pdu::EnquireLinkResp, seq),
            Pdu::Unbind => self.on_unbind(seq),
            Pdu::DeliverSmResp(_) => self.on_answer(seq, header.command_status),
            Pdu::GenericNack => self.on_answer(seq, nack_status(header.command_status)),
            Pdu::UnbindResp => self.on_unbind_resp(seq),
            // Other responses answer nothing smppd sent (enquire_link_resp included: the
            // core never sends enquire_link, the idle timer covers a silent client).
            other if other.command_id().is_response() => {
                debug!(
                    event = "server_stray_response",
                    command = other.command_id().name(),
                    sequence_number = seq,
                    "ignored a response to nothing we sent"
                );
            }
            // Requests smppd does not serve. outbind and alert_notification have no response
            // PDU, so they get generic_nack.
            Pdu::Outbind(_) | Pdu::AlertNotification(_) => {
                self.header_only(CommandId::GenericNack, CommandStatus::EsmeRinvcmdid, seq)
            }
            other => self.header_only(
                other.command_id().response(),
                CommandStatus::EsmeRinvcmdid,
                seq,
            ),
        }
    }

    /// A well-framed PDU whose body does not decode: answered as the codec advises, and the
    /// connection goes on.
    fn malformed(&mut self, e: &DecodeError) {
        let seq = e.header.sequence_number;
        debug!(event = "server_malformed_pdu", error = %e, "answering a malformed PDU");
        match e.reply() {
            // A request without a response PDU of its own (outbind, alert_notification).
            Reply::Response {
                command_id: CommandId::Other(_),
                command_status,
            } => self.header_only(CommandId::GenericNack, command_status, seq),
            reply => reply.put(seq, &mut self.out),
        }
        // The header still says which PDU of ours was answered and how: waiting for a
        // well-formed answer that will never come would end the connection over a cosmetic
        // fault in the client's response body.
        match e.header.command_id {
            CommandId::DeliverSmResp => self.on_answer(seq, e.header.command_status),
            CommandId::GenericNack => self.on_answer(seq, nack_status(e.header.command_status)),
            CommandId::UnbindResp => self.on_unbind_resp(seq),
            _ => {}
        }
    }

    fn on_bind(&mut self, mode: BindMode, bind: &Bind, seq: u32) {
        match self.state {
            State::Open { bind: None } => {
                let token = self.pending.token();
                self.state = State::Open {
                    bind: Some(PendingBind {
                        token,
                        mode,
                        sequence_number: seq,
                    }),
                };
                let system_id = String::from_utf8_lossy(bind.system_id.as_bytes()).into_owned();
                debug!(
                    event = "server_bind_requested",
                    ?mode,
                    system_id,
                    "client asks to bind"
                );
                self.events.push_back(ServerEvent::BindRequested {
                    token,
                    mode,
                    system_id,
                    password: Secret::new(String::from_utf8_lossy(bind.password.as_bytes())),
                    interface_version: bind.interface_version,
                });
            }
            State::Open { bind: Some(_) } | State::Bound(_) | State::Unbinding { .. } => {
                self.header_only(bind_resp_id(mode), CommandStatus::EsmeRalybnd, seq)
            }
            State::Closed => {}
        }
    }

    /// The status to refuse a submit or query with in the current state, if any.
    fn refuse_request(&self) -> Option<CommandStatus> {
        match self.state {
            State::Bound(mode) if mode.transmits() => None,
            _ => Some(CommandStatus::EsmeRinvbndsts),
        }
    }

    fn on_submit(&mut self, awaiting: Awaiting, message: Submitted, seq: u32) {
        let resp_id = match awaiting {
            Awaiting::Data => CommandId::DataSmResp,
            _ => CommandId::SubmitSmResp,
        };
        if let Some(status) = self.refuse_request() {
            return self.header_only(resp_id, status, seq);
        }
        match self.pending.insert(Request {
            sequence_number: seq,
            awaiting,
        }) {
            Some(token) => self
                .events
                .push_back(ServerEvent::Submit { token, message }),
            None => self.header_only(resp_id, CommandStatus::EsmeRthrottled, seq),
        }
    }

    fn on_query(&mut self, query: &QuerySm, seq: u32) {
        if let Some(status) = self.refuse_request() {
            return self.header_only(CommandId::QuerySmResp, status, seq);
        }
        match self.pending.insert(Request {
            sequence_number: seq,
            awaiting: Awaiting::Query(query.message_id),
        }) {
            Some(token) => self.events.push_back(ServerEvent::Query {
                token,
                message_id: String::from_utf8_lossy(query.message_id.as_bytes()).into_owned(),
                source_addr: String::from_utf8_lossy(query.source_addr.as_bytes()).into_owned(),
            }),
            None => self.header_only(CommandId::QuerySmResp, CommandStatus::EsmeRthrottled, seq),
        }
    }

    fn on_unbind(&mut self, seq: u32) {
        let reason = match &self.state {
            State::Bound(_) => CloseReason::ClientUnbind,
            // Both sides unbound at once: answer, and keep our own reason.
            State::Unbinding { reason, .. } => reason.clone(),
            State::Open { .. } => {
                return self.header_only(CommandId::UnbindResp, CommandStatus::EsmeRinvbndsts, seq)
            }
            State::Closed => return,
        };
        self.respond(&Pdu::UnbindResp, seq);
        self.events.push_back(ServerEvent::Unbound);
        self.close(reason);
    }

    /// deliver_sm_resp or generic_nack with sequence number `seq`.
    fn on_answer(&mut self, seq: u32, status: CommandStatus) {
        if let Some(key) = self.window.answered(seq) {
            self.events
                .push_back(ServerEvent::Delivered { key, status });
        } else if matches!(self.state, State::Unbinding { sequence_number, .. } if sequence_number == seq)
        {
            // A generic_nack for our unbind: the client has heard it either way.
            self.on_unbind_resp(seq);
        } else {
            debug!(
                event = "server_unknown_answer",
                sequence_number = seq,
                "ignored an answer to no deliver_sm in flight"
            );
        }
    }

    fn on_unbind_resp(&mut self, seq: u32) {
        if let State::Unbinding {
            reason,
            sequence_number,
            ..
        } = &self.state
        {
            if *sequence_number == seq {
                let reason = reason.clone();
                self.close(reason);
            }
        }
    }

    fn start_unbind(&mut self, reason: CloseReason, now: Instant) {
        let seq = self.next_sequence();
        debug!(event = "server_unbinding", %reason, "sending unbind");
        self.respond(&Pdu::Unbind, seq);
        self.state = State::Unbinding {
            reason,
            sequence_number: seq,
            since: now,
        };
    }

    /// Ends the connection: pending answers can no longer be sent, deliver_sm in flight go
    /// back to the daemon.
    fn close(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        debug!(event = "server_closed", %reason, "connection finished");
        self.state = State::Closed;
        self.pending.clear();
        let keys = self.window.drain();
        if !keys.is_empty() {
            self.events.push_back(ServerEvent::Undelivered { keys });
        }
        self.events.push_back(ServerEvent::Closed { reason });
    }

    /// The sequence number of the next PDU smppd originates: 1..=0x7FFFFFFF, then 1 again.
    fn next_sequence(&mut self) -> u32 {
        let seq = self.next_sequence;
        self.next_sequence = if seq >= MAX_SEQUENCE { 1 } else { seq + 1 };
        seq
    }

    /// Encodes `pdu` (status ESME_ROK) into the output. The codec refuses only PDUs that break
    /// a rule spanning fields, which answers built here cannot: should it happen, the client
    /// still gets a header-only ESME_RSYSERR rather than silence.
    fn respond(&mut self, pdu: &Pdu, seq: u32) {
        if let Err(e) = pdu.encode(seq, CommandStatus::EsmeRok, &mut self.out) {
            debug!(event = "server_encode_failed", error = %e, "answering ESME_RSYSERR");
            self.header_only(pdu.command_id(), CommandStatus::EsmeRsyserr, seq);
        }
    }

    /// A PDU that is the header alone: every error response, and generic_nack.
    fn header_only(&mut self, id: CommandId, status: CommandStatus, seq: u32) {
        Header::put_header_only(id, status, seq, &mut self.out);
    }
}

/// The response id for a bind in `mode`.
fn bind_resp_id(mode: BindMode) -> CommandId {
    match mode {
        BindMode::Transmitter => CommandId::BindTransmitterResp,
        BindMode::Receiver => CommandId::BindReceiverResp,
        BindMode::Transceiver => CommandId::BindTransceiverResp,
    }
}

/// The status a generic_nack reports: a nack never means the PDU was taken, even when a
/// client sends it with ESME_ROK.
fn nack_status(status: CommandStatus) -> CommandStatus {
    error_status(status, CommandStatus::EsmeRsyserr)
}

/// `status`, unless the daemon passed ESME_ROK as an error: then `fallback`, so that a header
/// without the body a success needs never reads as success.
fn error_status(status: CommandStatus, fallback: CommandStatus) -> CommandStatus {
    if status == CommandStatus::EsmeRok {
        fallback
    } else {
        status
    }
}
