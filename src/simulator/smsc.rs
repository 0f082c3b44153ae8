//! The SMSC's rules for one connection, as plain data: a frame (or a delivery to make) goes
//! in with the current time, [`Action`]s come out. No sockets and no timers, so the rules can
//! be unit-tested directly; [`super::connection`] is the thin async driver around it.
//!
//! Bind state, as the simulator enforces it (SMPP 3.4 §2.3):
//!
//! ```text
//!   OPEN ──bind_* ok──> BOUND_TX / BOUND_RX / BOUND_TRX ──unbind──> (closed)
//!    │  └─bind refused (RINVPASWD, RINVSYSID)─> OPEN        │
//!    │                                   bind_* again ──> ESME_RALYBND, stays bound
//!    └─ submit_sm ──> ESME_RINVBNDSTS (also when bound as a receiver)
//! ```
//!
//! enquire_link is answered in every state. Everything is recorded as it is decided.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;
use tracing::debug;

use crate::codec::pdu::{Bind, BindResp, SubmitSm, SubmitSmResp};
use crate::codec::{COctetString, CommandId, CommandStatus, Frame, Pdu};
use crate::secret::Secret;

use super::faults::{AfterBind, Faults};
use super::receipt::receipt_text;
use super::record::{
    BindMode, BindRecord, ConnectionId, DeliverKind, DeliverRecord, SubmitOutcome, SubmitRecord,
};
use super::registry::Delivery;
use super::shared::{Credentials, Shared};
use super::wire;

/// The system_id the simulator names itself in bind responses.
pub(super) const SMSC_SYSTEM_ID: &str = "smppd-sim";

/// What the driver must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send a response after `after`; `submit_response` marks a submit_sm_resp, which the
    /// record stops counting as outstanding once it is written.
    Respond {
        bytes: Bytes,
        after: Duration,
        submit_response: bool,
    },
    /// Send a PDU now (unbind_resp, deliver_sm).
    Send(Bytes),
    /// Make this connection reachable for deliveries to the bound account, then record the
    /// bind: whoever sees the record can route to the connection at once.
    Register(BindRecord),
    /// Stop routing deliveries here.
    Unregister,
    /// Route a receipt to a receiver of its account after `after` (queued if none is bound).
    Receipt { delivery: Delivery, after: Duration },
    /// Flush what is queued, then close (after unbind).
    Close,
    /// The drop fault: send the answers already decided, then close without reading (or
    /// answering) anything more.
    Cut,
}

/// A deliver_sm sent and not yet answered.
struct Pending {
    answered: Option<oneshot::Sender<CommandStatus>>,
    /// For receipts: what to queue again if the connection closes before the answer.
    resend: Option<Delivery>,
    /// What was recorded when it was sent, to record its answer with (a limited record may
    /// have dropped its own copy by then).
    record: DeliverRecord,
    /// Where the record keeps it ([`super::record::Recorder::deliver_sent`]).
    place: u64,
}

/// One connection's SMSC state.
pub(crate) struct Smsc {
    id: ConnectionId,
    bound: Option<(String, BindMode)>,
    /// submit_sm accepted for processing on this connection (the fault counters' base).
    submits: u64,
    next_sequence: u32,
    pending: HashMap<u32, Pending>,
}

impl Smsc {
    pub(crate) fn new(id: ConnectionId) -> Self {
        Smsc {
            id,
            bound: None,
            submits: 0,
            next_sequence: 1,
            pending: HashMap::new(),
        }
    }

    /// Handles one frame from the client, collecting what to do in `out`.
    pub(crate) fn handle(
        &mut self,
        frame: &Frame,
        shared: &Shared,
        now: SystemTime,
        out: &mut Vec<Action>,
    ) {
        let faults = shared.faults();
        let seq = frame.header.sequence_number;
        let respond = |out: &mut Vec<Action>, bytes: Bytes, submit_response: bool| {
            out.push(Action::Respond {
                bytes,
                after: faults.response_delay,
                submit_response,
            })
        };
        let pdu = match Pdu::decode(frame) {
            Ok(pdu) => pdu,
            Err(e) => {
                // Malformed but well framed: answer as the codec advises and keep the link.
                debug!(
                    event = "simulator_malformed_pdu",
                    connection = self.id,
                    error = %e,
                    "simulator got a malformed PDU"
                );
                let mut answer = BytesMut::new();
                e.reply().put(seq, &mut answer);
                if !answer.is_empty() {
                    respond(out, answer.freeze(), false);
                }
                return;
            }
        };
        match pdu {
            Pdu::BindTransmitter(b) => {
                self.on_bind(BindMode::Transmitter, &b, seq, shared, &faults, out)
            }
            Pdu::BindReceiver(b) => self.on_bind(BindMode::Receiver, &b, seq, shared, &faults, out),
            Pdu::BindTransceiver(b) => {
                self.on_bind(BindMode::Transceiver, &b, seq, shared, &faults, out)
            }
            Pdu::SubmitSm(sm) => self.on_submit(&sm, seq, shared, &faults, now, out),
            Pdu::EnquireLink => {
                if !faults.ignore_enquire_link {
                    if let Some(b) =
                        wire::encode(&Pdu::EnquireLinkResp, seq, CommandStatus::EsmeRok)
                    {
                        respond(out, b, false);
                    }
                }
            }
            Pdu::Unbind => {
                self.bound = None;
                shared.recorder.unbind(self.id);
                out.push(Action::Unregister);
                // Sent at once, not delayed: the connection closes right after it.
                if let Some(b) = wire::encode(&Pdu::UnbindResp, seq, CommandStatus::EsmeRok) {
                    out.push(Action::Send(b));
                }
                out.push(Action::Close);
            }
            Pdu::DeliverSmResp(_) | Pdu::GenericNack => {
                self.on_deliver_answer(seq, frame.header.command_status, shared)
            }
            // Other responses (enquire_link_resp, unbind_resp, ...) need nothing from us.
            other if other.command_id().is_response() => {}
            // Requests SMPP defines but the simulator does not implement.
            other => {
                let id = other.command_id().response();
                respond(
                    out,
                    wire::header_only(id, CommandStatus::EsmeRinvcmdid, seq),
                    false,
                )
            }
        }
    }

    /// [`Smsc::handle`] returning the actions, for tests.
    #[cfg(test)]
    pub(crate) fn on_frame(
        &mut self,
        frame: &Frame,
        shared: &Shared,
        now: SystemTime,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle(frame, shared, now, &mut out);
        out
    }

    fn on_bind(
        &mut self,
        mode: BindMode,
        bind: &Bind,
        seq: u32,
        shared: &Shared,
        faults: &Faults,
        out: &mut Vec<Action>,
    ) {
        let system_id = wire::text(&bind.system_id);
        let status = if self.bound.is_some() {
            CommandStatus::EsmeRalybnd
        } else {
            let password = Secret::new(String::from_utf8_lossy(bind.password.as_bytes()));
            match shared.check(&system_id, &password) {
                Credentials::Valid => CommandStatus::EsmeRok,
                Credentials::UnknownSystemId => CommandStatus::EsmeRinvsysid,
                Credentials::WrongPassword => CommandStatus::EsmeRinvpaswd,
            }
        };
        let body = (status == CommandStatus::EsmeRok).then(|| BindResp {
            system_id: COctetString::new(SMSC_SYSTEM_ID).unwrap_or_default(),
            tlvs: Default::default(),
        });
        let resp = match mode {
            BindMode::Transmitter => Pdu::BindTransmitterResp(body),
            BindMode::Receiver => Pdu::BindReceiverResp(body),
            BindMode::Transceiver => Pdu::BindTransceiverResp(body),
        };
        let record = BindRecord {
            connection: self.id,
            system_id,
            mode,
            command_status: status,
        };
        if status == CommandStatus::EsmeRok {
            self.bound = Some((record.system_id.clone(), mode));
            out.push(Action::Register(record));
        } else {
            shared.recorder.bind(record);
        }
        if let Some(mut bytes) = wire::encode(&resp, seq, status) {
            if let Some(fault) = faults
                .after_bind
                .filter(|_| status == CommandStatus::EsmeRok)
            {
                // In the same buffer as the bind_resp, so that it follows it on the wire
                // whatever the response delay.
                let mut both = BytesMut::from(&bytes[..]);
                both.extend_from_slice(&self.after_bind(fault, out));
                bytes = both.freeze();
            }
            out.push(Action::Respond {
                bytes,
                after: faults.response_delay,
                submit_response: false,
            });
        }
    }

    /// The sequence number of our next request.
    fn next_sequence(&mut self) -> u32 {
        let seq = self.next_sequence;
        // Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4), then wrap.
        self.next_sequence = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
        seq
    }

    /// The octets of an [`AfterBind`] fault; an unbind also ends the session on our side.
    fn after_bind(&mut self, fault: AfterBind, out: &mut Vec<Action>) -> Bytes {
        let seq = self.next_sequence();
        match fault {
            AfterBind::Unbind => {
                self.bound = None;
                out.push(Action::Unregister);
                wire::encode(&Pdu::Unbind, seq, CommandStatus::EsmeRok).unwrap_or_default()
            }
            AfterBind::Garbage => {
                let mut garbage = BytesMut::from(
                    &wire::header_only(CommandId::EnquireLink, CommandStatus::EsmeRok, seq)[..],
                );
                garbage[..4].copy_from_slice(&4u32.to_be_bytes());
                garbage.freeze()
            }
            AfterBind::MalformedPdu => {
                wire::raw(CommandId::DeliverSm, CommandStatus::EsmeRok, seq, b"x")
            }
        }
    }

    fn on_submit(
        &mut self,
        sm: &SubmitSm,
        seq: u32,
        shared: &Shared,
        faults: &Faults,
        now: SystemTime,
        out: &mut Vec<Action>,
    ) {
        // This submit's actions start here (`out` may hold earlier frames' actions).
        let first = out.len();
        let short_message = match sm.tlvs.message_payload() {
            Some(p) if sm.short_message.is_empty() => p.to_vec(),
            _ => sm.short_message.as_bytes().to_vec(),
        };
        let mut record = SubmitRecord {
            connection: self.id,
            system_id: self.bound.as_ref().map(|b| b.0.clone()).unwrap_or_default(),
            sequence_number: seq,
            source_addr: wire::text(&sm.source_addr),
            destination_addr: wire::text(&sm.destination_addr),
            esm_class: sm.esm_class.0,
            data_coding: sm.data_coding.value(),
            short_message,
            user_message_reference: sm.tlvs.user_message_reference(),
            registered_delivery: sm.registered_delivery,
            outcome: SubmitOutcome::Withheld,
        };
        let refuse = |out: &mut Vec<Action>, status: CommandStatus| {
            out.push(Action::Respond {
                bytes: wire::header_only(CommandId::SubmitSmResp, status, seq),
                after: faults.response_delay,
                submit_response: true,
            })
        };
        if !matches!(&self.bound, Some((_, m)) if m.transmits()) {
            let status = CommandStatus::EsmeRinvbndsts;
            record.outcome = SubmitOutcome::Rejected {
                command_status: status,
            };
            shared.recorder.submit(record);
            return refuse(out, status);
        }
        self.submits += 1;
        let n = self.submits;
        if faults.drops_at(n) {
            record.outcome = SubmitOutcome::Dropped;
            shared.recorder.submit(record);
            return out.push(Action::Cut);
        }
        if faults.withhold_submit_responses {
            return shared.recorder.submit(record);
        }
        if faults.throttles(n) {
            record.outcome = SubmitOutcome::Throttled;
            shared.recorder.submit(record);
            return refuse(out, CommandStatus::EsmeRthrottled);
        }
        let message_id = shared.ids.next();
        record.outcome = SubmitOutcome::Accepted {
            message_id: message_id.clone(),
        };
        // registered_delivery bits 0-1: 1 = receipt on success or failure, 2 = on failure.
        // The simulator always delivers, so both get the DELIVRD receipt.
        if matches!(sm.registered_delivery & 0x03, 1 | 2) {
            let after = faults.response_delay + shared.receipt_delay;
            out.push(Action::Receipt {
                delivery: Delivery {
                    account: record.system_id.clone(),
                    source_addr: record.destination_addr.clone(),
                    destination_addr: record.source_addr.clone(),
                    short_message: receipt_text(
                        &message_id,
                        now,
                        now + after,
                        &record.short_message,
                    ),
                    kind: DeliverKind::Receipt {
                        message_id: message_id.clone(),
                    },
                    esm_class: 0,
                    answered: None,
                },
                after,
            });
        }
        shared.recorder.submit(record);
        let resp = Pdu::SubmitSmResp(Some(SubmitSmResp {
            message_id: COctetString::new(message_id.into_bytes()).unwrap_or_default(),
        }));
        match wire::encode(&resp, seq, CommandStatus::EsmeRok) {
            // The response goes before the receipt in the action list and on the wire.
            Some(bytes) => out.insert(
                first,
                Action::Respond {
                    bytes,
                    after: faults.response_delay,
                    submit_response: true,
                },
            ),
            // Keep the record honest even if our own encoding failed.
            None => shared.recorder.responded(self.id, 1),
        }
    }

    fn on_deliver_answer(&mut self, seq: u32, status: CommandStatus, shared: &Shared) {
        if let Some(p) = self.pending.remove(&seq) {
            let mut record = p.record;
            record.response_status = Some(status);
            shared.recorder.deliver_answered(record, p.place);
            if let Some(tx) = p.answered {
                let _ = tx.send(status);
            }
        }
    }

    /// Turns a routed delivery into a deliver_sm to send. A delivery that reaches an unbound
    /// connection (it unbound meanwhile) comes back in `Err` for re-queueing.
    pub(crate) fn deliver(
        &mut self,
        d: Delivery,
        shared: &Shared,
    ) -> Result<Option<Action>, Box<Delivery>> {
        let Some((system_id, _)) = self.bound.clone() else {
            return Err(Box::new(d));
        };
        let Some(pdu) = wire::deliver_sm(&d) else {
            debug!(
                event = "simulator_deliver_invalid",
                connection = self.id,
                "simulator dropped a deliver_sm with out-of-bounds fields"
            );
            return Ok(None);
        };
        let seq = self.next_sequence();
        let Some(bytes) = wire::encode(&pdu, seq, CommandStatus::EsmeRok) else {
            return Ok(None);
        };
        let record = DeliverRecord {
            connection: self.id,
            system_id,
            sequence_number: seq,
            kind: d.kind.clone(),
            short_message: d.short_message.clone(),
            response_status: None,
        };
        let resend = matches!(d.kind, DeliverKind::Receipt { .. }).then(|| d.resend());
        let place = shared.recorder.deliver_sent(record.clone());
        self.pending.insert(
            seq,
            Pending {
                answered: d.answered,
                resend,
                record,
                place,
            },
        );
        Ok(Some(Action::Send(bytes)))
    }

    /// Ends the session: receipts sent but never answered, to queue again (at-least-once,
    /// as a real SMSC retries them). MO injectors are told the session closed by their reply
    /// channel being dropped.
    pub(crate) fn close(self) -> Vec<Delivery> {
        self.pending
            .into_values()
            .filter_map(|p| p.resend)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Framer, Header, ShortMessage};
    use crate::simulator::config::{Account, SimulatorConfig};
    use std::time::UNIX_EPOCH;

    fn shared(faults: Faults) -> Shared {
        let mut c = SimulatorConfig::loopback(vec![Account::new("esme", "secret")]);
        c.faults = faults;
        c.receipt_delay = Duration::from_secs(60);
        let s = Shared::new(&c).unwrap();
        s.recorder.connected(1, ([127, 0, 0, 1], 1).into());
        s
    }

    fn frame(pdu: &Pdu, seq: u32) -> Frame {
        let mut buf = BytesMut::new();
        pdu.encode(seq, CommandStatus::EsmeRok, &mut buf).unwrap();
        Framer::default().decode(&mut buf).unwrap().unwrap()
    }

    fn bind(mode: fn(Bind) -> Pdu, password: &'static str) -> Frame {
        frame(
            &mode(Bind {
                system_id: COctetString::new("esme").unwrap(),
                password: COctetString::new(password).unwrap(),
                ..Bind::default()
            }),
            1,
        )
    }

    fn submit(registered_delivery: u8) -> Frame {
        frame(
            &Pdu::SubmitSm(SubmitSm {
                registered_delivery,
                short_message: ShortMessage::new("hi").unwrap(),
                ..SubmitSm::default()
            }),
            9,
        )
    }

    /// The command_status of the one response among `actions`.
    fn status(actions: &[Action]) -> Option<CommandStatus> {
        actions.iter().find_map(|a| match a {
            Action::Respond { bytes, .. } => Header::peek(bytes).map(|h| h.command_status),
            _ => None,
        })
    }

    #[test]
    fn bind_state_follows_the_specification() {
        let s = shared(Faults::default());
        let mut smsc = Smsc::new(1);
        let now = UNIX_EPOCH;
        let out = smsc.on_frame(&submit(0), &s, now);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRinvbndsts));
        let out = smsc.on_frame(&bind(Pdu::BindTransmitter, "wrong"), &s, now);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRinvpaswd));
        let out = smsc.on_frame(&bind(Pdu::BindReceiver, "secret"), &s, now);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRok));
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Register(BindRecord {
                mode: BindMode::Receiver,
                ..
            })
        )));
        // A receiver may not submit; a second bind is refused.
        let out = smsc.on_frame(&submit(0), &s, now);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRinvbndsts));
        let out = smsc.on_frame(&bind(Pdu::BindTransceiver, "secret"), &s, now);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRalybnd));
        assert!(!s.recorder.snapshot().connections[0].unbound);
        let out = smsc.on_frame(&frame(&Pdu::Unbind, 3), &s, now);
        assert!(matches!(
            out.as_slice(),
            [Action::Unregister, Action::Send(_), Action::Close]
        ));
        assert!(s.recorder.snapshot().connections[0].unbound);
    }

    #[test]
    fn a_receipt_follows_the_response_with_dates_from_the_given_clock() {
        let s = shared(Faults::default());
        let mut smsc = Smsc::new(1);
        smsc.on_frame(&bind(Pdu::BindTransceiver, "secret"), &s, UNIX_EPOCH);
        let out = smsc.on_frame(&submit(1), &s, UNIX_EPOCH);
        assert_eq!(status(&out), Some(CommandStatus::EsmeRok));
        let Some(Action::Receipt { delivery, after }) = out.get(1) else {
            panic!("expected a receipt after the response: {out:?}");
        };
        assert_eq!(*after, Duration::from_secs(60));
        let text = String::from_utf8(delivery.short_message.clone()).unwrap();
        assert!(
            text.contains("submit date:7001010000 done date:7001010001"),
            "{text}"
        );
        assert!(text.ends_with("text:hi"), "{text}");
        // No receipt asked for: none sent.
        let out = smsc.on_frame(&submit(0), &s, UNIX_EPOCH);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn actions_of_several_frames_keep_each_response_before_its_own_receipt() {
        let s = shared(Faults::default());
        let mut smsc = Smsc::new(1);
        let mut out = Vec::new();
        smsc.handle(
            &bind(Pdu::BindTransceiver, "secret"),
            &s,
            UNIX_EPOCH,
            &mut out,
        );
        smsc.handle(&submit(1), &s, UNIX_EPOCH, &mut out);
        smsc.handle(&submit(1), &s, UNIX_EPOCH, &mut out);
        let kinds: Vec<&str> = out
            .iter()
            .map(|a| match a {
                Action::Register(_) => "register",
                Action::Respond { .. } => "respond",
                Action::Receipt { .. } => "receipt",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            ["register", "respond", "respond", "receipt", "respond", "receipt"]
        );
    }

    #[test]
    fn faults_shape_the_answers() {
        let faults = Faults {
            throttle_every: Some(2),
            drop_after: Some(3),
            response_delay: Duration::from_millis(5),
            ..Faults::default()
        };
        let s = shared(faults);
        let mut smsc = Smsc::new(1);
        smsc.on_frame(&bind(Pdu::BindTransmitter, "secret"), &s, UNIX_EPOCH);
        let first = smsc.on_frame(&submit(0), &s, UNIX_EPOCH);
        assert!(matches!(
            first.as_slice(),
            [Action::Respond { after, submit_response: true, .. }] if *after == Duration::from_millis(5)
        ));
        let second = smsc.on_frame(&submit(0), &s, UNIX_EPOCH);
        assert_eq!(status(&second), Some(CommandStatus::EsmeRthrottled));
        let third = smsc.on_frame(&submit(0), &s, UNIX_EPOCH);
        assert!(matches!(third.as_slice(), [Action::Cut]));

        s.set_faults(Faults {
            withhold_submit_responses: true,
            ignore_enquire_link: true,
            ..Faults::default()
        });
        assert!(smsc.on_frame(&submit(0), &s, UNIX_EPOCH).is_empty());
        assert!(smsc
            .on_frame(&frame(&Pdu::EnquireLink, 4), &s, UNIX_EPOCH)
            .is_empty());
        let record = s.recorder.snapshot();
        // Nothing was written in this test, so every submit is still outstanding.
        assert_eq!(record.connections[0].outstanding, 4);
    }

    /// The octets of the one response among `actions`.
    fn response(actions: &[Action]) -> BytesMut {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Respond { bytes, .. } => Some(BytesMut::from(&bytes[..])),
                _ => None,
            })
            .expect("a response")
    }

    #[test]
    fn after_bind_faults_follow_an_accepted_bind_only() {
        let framer = Framer::default();
        for fault in [
            AfterBind::Unbind,
            AfterBind::Garbage,
            AfterBind::MalformedPdu,
        ] {
            let s = shared(Faults {
                after_bind: Some(fault),
                ..Faults::default()
            });
            let mut smsc = Smsc::new(1);
            // A refused bind is answered plainly.
            let out = smsc.on_frame(&bind(Pdu::BindTransceiver, "wrong"), &s, UNIX_EPOCH);
            let mut refused = response(&out);
            framer.decode(&mut refused).unwrap().unwrap();
            assert!(
                refused.is_empty(),
                "{fault:?}: nothing after a refused bind"
            );

            let out = smsc.on_frame(&bind(Pdu::BindTransceiver, "secret"), &s, UNIX_EPOCH);
            let mut bytes = response(&out);
            let first = framer.decode(&mut bytes).unwrap().unwrap();
            assert_eq!(first.header.command_id, CommandId::BindTransceiverResp);
            assert_eq!(first.header.command_status, CommandStatus::EsmeRok);
            match fault {
                AfterBind::Unbind => {
                    let next = framer.decode(&mut bytes).unwrap().unwrap();
                    assert_eq!(next.pdu(), Ok(Pdu::Unbind));
                    assert!(out.iter().any(|a| matches!(a, Action::Unregister)));
                }
                AfterBind::Garbage => {
                    assert!(framer.decode(&mut bytes).is_err(), "unframeable");
                }
                AfterBind::MalformedPdu => {
                    let next = framer.decode(&mut bytes).unwrap().unwrap();
                    assert_eq!(next.header.command_id, CommandId::DeliverSm);
                    assert!(next.pdu().is_err(), "does not decode");
                }
            }
        }
    }
}
