//! One client connection: a reader loop that frames, decodes and answers PDUs, and a writer
//! task that owns the socket's write half.
//!
//! Responses go through a channel to the writer so that a response delay (a fault) can hold
//! one response without holding up reading: that is what lets the record see how many submits
//! a client really keeps in flight. The channel is bounded: a client that keeps sending but
//! never reads fills it, and is then disconnected instead of growing the server's memory.
//! A misbehaving client only ever ends its own connection; nothing here panics on input.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::debug;

use crate::codec::pdu::{Bind, BindResp, SubmitSm, SubmitSmResp};
use crate::codec::{COctetString, CommandId, CommandStatus, Frame, Framer, Pdu, Reply};
use crate::secret::Secret;

use super::receipt::receipt_text;
use super::record::{
    BindMode, BindRecord, ConnectionId, DeliverKind, DeliverRecord, SubmitOutcome, SubmitRecord,
};
use super::registry::Delivery;
use super::shared::{Credentials, Shared};
use super::wire;

/// The system_id the simulator names itself in bind responses.
pub const SMSC_SYSTEM_ID: &str = "smppd-sim";

/// How long a closing connection waits for its last PDUs (unbind_resp, generic_nack) to be
/// written: only a hang guard against a client that stopped reading.
const FLUSH_GUARD: Duration = Duration::from_secs(5);

/// PDUs queued for one client's socket before the client counts as not reading.
const WRITE_QUEUE: usize = 4096;

/// What the writer task is told.
enum Out {
    /// Write these octets; if `submit_response`, the record counts one outstanding less.
    Pdu(Bytes, bool),
    /// Flush and close the write side.
    Close,
}

/// How the reader loop goes on after a PDU.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    /// Flush what is queued, then close (unbind, framing error).
    Close,
    /// Close now without flushing (the drop fault).
    Abort,
}

/// A deliver_sm sent and not yet answered.
struct Pending {
    record: DeliverRecord,
    answered: Option<oneshot::Sender<u32>>,
    /// For receipts: what to queue again if the connection closes before the answer.
    resend: Option<Delivery>,
}

/// Serves one connection until it closes or the simulator shuts down.
pub(crate) async fn serve<S>(
    stream: S,
    id: ConnectionId,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let (out, out_rx) = mpsc::channel(WRITE_QUEUE);
    let writer = tokio::spawn(write_loop(wr, out_rx, shared.clone(), id));
    let (deliveries, mut deliveries_rx) = mpsc::unbounded_channel();
    let framer = Framer::new(u32::try_from(shared.max_pdu_size).unwrap_or(u32::MAX));
    let mut conn = Connection {
        id,
        shared,
        out,
        deliveries,
        bound: None,
        submits: 0,
        next_sequence: 1,
        pending: HashMap::new(),
        stalled: false,
    };
    let mut buf = BytesMut::with_capacity(4096);
    let flow = 'session: loop {
        if conn.stalled {
            debug!(connection = id, "simulator client stopped reading; closing");
            break Flow::Abort;
        }
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let flow = conn.on_frame(frame);
                    if flow != Flow::Continue {
                        break 'session flow;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream can no longer be split into PDUs: say so and hang up.
                    debug!(connection = id, error = %e, "simulator framing error");
                    let seq = crate::codec::Header::peek(&buf).map_or(0, |h| h.sequence_number);
                    conn.send_now(wire::header_only(
                        CommandId::GenericNack,
                        CommandStatus::EsmeRinvcmdlen,
                        seq,
                    ));
                    break 'session Flow::Close;
                }
            }
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break Flow::Abort,
                Ok(_) => {}
            },
            Some(d) = deliveries_rx.recv() => conn.send_delivery(d),
            _ = shutdown.wait_for(|stop| *stop) => break Flow::Abort,
        }
    };
    conn.shared.registry.unregister(id);
    // Deliveries routed here but never sent, and receipts sent but never answered, go back to
    // the account's queue: at-least-once, as a real SMSC retries them.
    deliveries_rx.close();
    while let Ok(d) = deliveries_rx.try_recv() {
        conn.requeue(d);
    }
    for (_, p) in conn.pending.drain() {
        if let Some(d) = p.resend {
            conn.shared
                .registry
                .route_or_queue(&p.record.system_id, None, d);
        }
    }
    if flow == Flow::Close {
        let _ = conn.out.try_send(Out::Close);
        drop(conn);
        let _ = tokio::time::timeout(FLUSH_GUARD, writer).await;
    } else {
        writer.abort();
    }
}

async fn write_loop<W: AsyncWrite>(
    mut wr: WriteHalf<W>,
    mut rx: mpsc::Receiver<Out>,
    shared: Arc<Shared>,
    id: ConnectionId,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Out::Pdu(bytes, submit_response) => {
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
                if submit_response {
                    shared.recorder.responded(id);
                }
            }
            Out::Close => {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                break;
            }
        }
    }
}

struct Connection {
    id: ConnectionId,
    shared: Arc<Shared>,
    out: mpsc::Sender<Out>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    bound: Option<(String, BindMode)>,
    submits: u64,
    next_sequence: u32,
    pending: HashMap<u32, Pending>,
    /// Set when the write queue overflowed: the client is not reading its responses.
    stalled: bool,
}

impl Connection {
    fn on_frame(&mut self, frame: Frame) -> Flow {
        let seq = frame.header.sequence_number;
        let pdu = match Pdu::decode(&frame) {
            Ok(pdu) => pdu,
            Err(e) => {
                // Malformed but well framed: answer as the codec advises and keep the link.
                debug!(connection = self.id, error = %e, "simulator got a malformed PDU");
                match e.reply() {
                    Reply::GenericNack(status) => self.respond(
                        wire::header_only(CommandId::GenericNack, status, seq),
                        false,
                    ),
                    Reply::Response {
                        command_id,
                        command_status,
                    } => self.respond(wire::header_only(command_id, command_status, seq), false),
                    Reply::Nothing => {}
                }
                return Flow::Continue;
            }
        };
        match pdu {
            Pdu::BindTransmitter(b) => self.on_bind(BindMode::Transmitter, b, seq),
            Pdu::BindReceiver(b) => self.on_bind(BindMode::Receiver, b, seq),
            Pdu::BindTransceiver(b) => self.on_bind(BindMode::Transceiver, b, seq),
            Pdu::SubmitSm(sm) => return self.on_submit(sm, seq),
            Pdu::EnquireLink => {
                if !self.shared.faults().ignore_enquire_link {
                    self.respond_pdu(&Pdu::EnquireLinkResp, seq, CommandStatus::EsmeRok, false);
                }
            }
            Pdu::Unbind => {
                self.shared.registry.unregister(self.id);
                self.bound = None;
                // Sent at once, not delayed: the connection closes right after it.
                if let Some(b) = wire::encode(&Pdu::UnbindResp, seq, CommandStatus::EsmeRok) {
                    self.send_now(b);
                }
                return Flow::Close;
            }
            Pdu::DeliverSmResp(_) => self.on_deliver_answer(seq, frame.header.command_status),
            Pdu::GenericNack => self.on_deliver_answer(seq, frame.header.command_status),
            // Other responses (enquire_link_resp, unbind_resp, ...) need nothing from us.
            other if other.command_id().is_response() => {}
            // Requests SMPP defines but the simulator does not implement.
            other => self.respond(
                wire::header_only(
                    other.command_id().response(),
                    CommandStatus::EsmeRinvcmdid,
                    seq,
                ),
                false,
            ),
        }
        Flow::Continue
    }

    fn on_bind(&mut self, mode: BindMode, bind: Bind, seq: u32) {
        let system_id = wire::text(&bind.system_id);
        let status = if self.bound.is_some() {
            CommandStatus::EsmeRalybnd
        } else {
            let password = Secret::new(String::from_utf8_lossy(bind.password.as_bytes()));
            match self.shared.check(&system_id, &password) {
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
        if status == CommandStatus::EsmeRok {
            self.bound = Some((system_id.clone(), mode));
            self.shared
                .registry
                .register(self.id, &system_id, mode, self.deliveries.clone());
        }
        self.shared.recorder.bind(BindRecord {
            connection: self.id,
            system_id,
            mode,
            command_status: status.value(),
        });
        self.respond_pdu(&resp, seq, status, false);
    }

    fn on_submit(&mut self, sm: SubmitSm, seq: u32) -> Flow {
        let faults = self.shared.faults();
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
            short_message,
            user_message_reference: sm.tlvs.user_message_reference(),
            registered_delivery: sm.registered_delivery,
            outcome: SubmitOutcome::Withheld,
        };
        let may_submit = matches!(&self.bound, Some((_, m)) if m.transmits());
        if !may_submit {
            let status = CommandStatus::EsmeRinvbndsts;
            record.outcome = SubmitOutcome::Rejected {
                command_status: status.value(),
            };
            self.shared.recorder.submit(record);
            self.respond(
                wire::header_only(CommandId::SubmitSmResp, status, seq),
                true,
            );
            return Flow::Continue;
        }
        self.submits += 1;
        let n = self.submits;
        if faults.drops_at(n) {
            record.outcome = SubmitOutcome::Dropped;
            self.shared.recorder.submit(record);
            return Flow::Abort;
        }
        if faults.withhold_submit_responses {
            self.shared.recorder.submit(record);
            return Flow::Continue;
        }
        if faults.throttles(n) {
            record.outcome = SubmitOutcome::Throttled;
            self.shared.recorder.submit(record);
            let status = CommandStatus::EsmeRthrottled;
            self.respond(
                wire::header_only(CommandId::SubmitSmResp, status, seq),
                true,
            );
            return Flow::Continue;
        }
        let message_id = self.shared.ids.next();
        record.outcome = SubmitOutcome::Accepted {
            message_id: message_id.clone(),
        };
        let wants_receipt = matches!(sm.registered_delivery & 0x03, 1 | 2);
        let receipt = wants_receipt.then(|| Delivery {
            source_addr: record.destination_addr.clone(),
            destination_addr: record.source_addr.clone(),
            short_message: Vec::new(),
            kind: DeliverKind::Receipt {
                message_id: message_id.clone(),
            },
            answered: None,
        });
        let text = record.short_message.clone();
        let system_id = record.system_id.clone();
        self.shared.recorder.submit(record);
        let resp = Pdu::SubmitSmResp(Some(SubmitSmResp {
            message_id: COctetString::new(message_id.clone().into_bytes()).unwrap_or_default(),
        }));
        self.respond_pdu(&resp, seq, CommandStatus::EsmeRok, true);
        if let Some(mut receipt) = receipt {
            let submitted = SystemTime::now();
            let delay = faults.response_delay + self.shared.receipt_delay;
            let shared = self.shared.clone();
            let preferred = Some(self.id);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                receipt.short_message =
                    receipt_text(&message_id, submitted, SystemTime::now(), &text);
                shared
                    .registry
                    .route_or_queue(&system_id, preferred, receipt);
            });
        }
        Flow::Continue
    }

    fn on_deliver_answer(&mut self, seq: u32, status: CommandStatus) {
        if let Some(p) = self.pending.remove(&seq) {
            self.shared
                .recorder
                .deliver_answered(self.id, seq, status.value());
            if let Some(tx) = p.answered {
                let _ = tx.send(status.value());
            }
        }
    }

    fn send_delivery(&mut self, d: Delivery) {
        let Some((system_id, _)) = self.bound.clone() else {
            self.requeue(d);
            return;
        };
        let Some(pdu) = wire::deliver_sm(&d) else {
            debug!(
                connection = self.id,
                "simulator dropped a deliver_sm with out-of-bounds fields"
            );
            return;
        };
        let seq = self.next_sequence;
        // Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4), then wrap.
        self.next_sequence = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
        let Some(bytes) = wire::encode(&pdu, seq, CommandStatus::EsmeRok) else {
            return;
        };
        let record = DeliverRecord {
            connection: self.id,
            system_id,
            sequence_number: seq,
            kind: d.kind.clone(),
            response_status: None,
        };
        let resend = matches!(d.kind, DeliverKind::Receipt { .. }).then(|| d.resend());
        self.shared.recorder.deliver_sent(record.clone());
        self.pending.insert(
            seq,
            Pending {
                record,
                answered: d.answered,
                resend,
            },
        );
        self.send_now(bytes);
    }

    /// Puts an undelivered receipt back in its account's queue; MO deliveries are not
    /// queued (the injector is told the session closed instead).
    fn requeue(&self, d: Delivery) {
        if matches!(d.kind, DeliverKind::Receipt { .. }) {
            if let Some((system_id, _)) = &self.bound {
                self.shared.registry.route_or_queue(system_id, None, d);
            }
        }
    }

    fn respond_pdu(&mut self, pdu: &Pdu, seq: u32, status: CommandStatus, submit: bool) {
        match wire::encode(pdu, seq, status) {
            Some(bytes) => self.respond(bytes, submit),
            // Keep the record honest even if our own encoding failed.
            None if submit => self.shared.recorder.responded(self.id),
            None => {}
        }
    }

    /// Queues a response, after the response-delay fault if one is set.
    fn respond(&mut self, bytes: Bytes, submit_response: bool) {
        let delay = self.shared.faults().response_delay;
        if delay.is_zero() {
            self.queue(Out::Pdu(bytes, submit_response));
        } else {
            let out = self.out.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                // Waiting for room is fine here: this task holds nothing else up, and it ends
                // when the connection does (the receiver goes away).
                let _ = out.send(Out::Pdu(bytes, submit_response)).await;
            });
        }
    }

    fn send_now(&mut self, bytes: Bytes) {
        self.queue(Out::Pdu(bytes, false));
    }

    fn queue(&mut self, out: Out) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(out) {
            self.stalled = true;
        }
    }
}
