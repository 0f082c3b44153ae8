//! The hand-over types between the session and the layer above.
//!
//! Ownership of every message is always in exactly one place, so none can be lost:
//!
//! * the layer above owns its queue; the session takes an [`OutboundMessage`] from it only
//!   when it can send it;
//! * once taken, the message either comes back up as a [`SubmitOutcome`] (accepted or
//!   failed for good), or is returned untouched in [`crate::session::SessionEnd::unsent`]
//!   when the session ends (graceful stop, link lost) for the layer above to send again;
//! * an inbound message is answered (deliver_sm_resp / data_sm_resp) only after the layer
//!   above has accepted its [`Inbound`]; dropping an `Inbound` unaccepted answers with a
//!   temporary error so the SMSC delivers it again (at-least-once).

use tokio::sync::mpsc;

use super::record::RecordPlace;
use crate::codec::pdu::{DataSm, DeliverSm, SubmitSm};
use crate::codec::{CommandId, CommandStatus, EncodeError};

/// A message the layer above wants submitted.
#[derive(Debug)]
pub struct OutboundMessage {
    /// The layer above's identifier; comes back in the outcome.
    pub id: u64,
    /// The submit_sm to send (its sequence number is the session's business).
    pub submit: SubmitSm,
    /// How many times this message was written to an SMSC so far (re-sends after a lost link,
    /// throttling or a transient error all count).
    pub attempts: u32,
    /// Its place in the session's [`crate::session::RecordWindow`], taken when it was first
    /// written; held until the layer above has recorded its outcome.
    place: Option<RecordPlace>,
}

impl OutboundMessage {
    /// A message not written yet.
    pub fn new(id: u64, submit: SubmitSm) -> OutboundMessage {
        OutboundMessage {
            id,
            submit,
            attempts: 0,
            place: None,
        }
    }

    /// Whether it holds a place in a record window (it was written under one).
    pub fn has_place(&self) -> bool {
        self.place.is_some()
    }

    /// Gives it a place in a record window.
    pub(crate) fn hold(&mut self, place: RecordPlace) {
        self.place = Some(place);
    }

    /// Takes its place out, for the layer above to drop once the outcome is durable.
    pub fn take_place(&mut self) -> Option<RecordPlace> {
        self.place.take()
    }
}

/// Why a message failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The SMSC refused it with a permanent status.
    Rejected(CommandStatus),
    /// The SMSC kept answering with transient statuses until the retry limit ran out.
    RetriesExhausted(CommandStatus),
    /// No submit_sm_resp arrived within the response timeout. The SMSC may still deliver
    /// it, so it is not re-sent (that could duplicate it).
    NoResponse,
    /// The submit_sm cannot be encoded (fields that contradict each other).
    Invalid(EncodeError),
}

/// What became of a submitted message.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// The SMSC accepted the message and gave it this id.
    Accepted {
        /// The message as submitted (attempts counted).
        message: OutboundMessage,
        /// The SMSC's message_id, which delivery receipts will quote.
        message_id: String,
    },
    /// The message will not be delivered.
    Failed {
        /// The message as submitted (attempts counted).
        message: OutboundMessage,
        /// Why.
        reason: FailureReason,
    },
}

impl SubmitOutcome {
    /// The message it is about.
    pub fn message_mut(&mut self) -> &mut OutboundMessage {
        match self {
            SubmitOutcome::Accepted { message, .. } | SubmitOutcome::Failed { message, .. } => {
                message
            }
        }
    }
}

/// What a session reports to the layer above, in the order it happened: a submit's outcome
/// always comes before any PDU the SMSC sent after its response (a receipt for it, say).
#[derive(Debug)]
pub enum SessionEvent {
    /// A submitted message's final outcome.
    Outcome(SubmitOutcome),
    /// A message from the SMSC, to accept or reject.
    Inbound(Inbound),
}

/// The body of an inbound message.
#[derive(Debug, Clone)]
pub enum InboundPdu {
    /// deliver_sm: a mobile-originated message or a delivery receipt.
    Deliver(DeliverSm),
    /// data_sm.
    Data(DataSm),
}

/// A message from the SMSC, awaiting the layer above's verdict.
#[derive(Debug)]
pub struct Inbound {
    /// The message itself.
    pub pdu: InboundPdu,
    /// Whether esm_class marks it as a delivery receipt (message type 1, bit 0x04).
    pub is_receipt: bool,
    ack: Option<Ack>,
}

/// The verdict on an inbound message, sent back to the session that answers the SMSC.
#[derive(Debug)]
pub(crate) struct Ack {
    pub(crate) sequence: u32,
    pub(crate) response: CommandId,
    pub(crate) tx: mpsc::UnboundedSender<AckVerdict>,
}

/// An answer to send for one inbound request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckVerdict {
    pub(crate) sequence: u32,
    pub(crate) response: CommandId,
    pub(crate) status: CommandStatus,
}

impl Inbound {
    pub(crate) fn new(pdu: InboundPdu, is_receipt: bool, ack: Ack) -> Self {
        Inbound {
            pdu,
            is_receipt,
            ack: Some(ack),
        }
    }

    /// The message is safely stored: the session answers the SMSC with ESME_ROK.
    pub fn accept(mut self) {
        self.answer(CommandStatus::EsmeRok);
    }

    /// Refuses the message with `status` (ESME_RX_T_APPN asks the SMSC to retry later,
    /// ESME_RX_P_APPN refuses it for good).
    pub fn reject(mut self, status: CommandStatus) {
        self.answer(status);
    }

    fn answer(&mut self, status: CommandStatus) {
        if let Some(ack) = self.ack.take() {
            // The session may be gone (link lost): the SMSC then delivers again after the next
            // bind, which at-least-once allows.
            let _ = ack.tx.send(AckVerdict {
                sequence: ack.sequence,
                response: ack.response,
                status,
            });
        }
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        // Dropped without a verdict: ask the SMSC to try again rather than lose the message.
        self.answer(CommandStatus::EsmeRxTAppn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An inbound deliver_sm numbered 9, and where its verdict goes.
    fn inbound() -> (Inbound, mpsc::UnboundedReceiver<AckVerdict>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ack = Ack {
            sequence: 9,
            response: CommandId::DeliverSmResp,
            tx,
        };
        (
            Inbound::new(InboundPdu::Deliver(DeliverSm::default()), false, ack),
            rx,
        )
    }

    /// Every verdict sent so far.
    fn verdicts(
        rx: &mut mpsc::UnboundedReceiver<AckVerdict>,
    ) -> Vec<(u32, CommandId, CommandStatus)> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|v| (v.sequence, v.response, v.status))
            .collect()
    }

    #[test]
    fn an_accepted_message_is_answered_once_with_success() {
        let (message, mut rx) = inbound();
        message.accept();
        assert_eq!(
            verdicts(&mut rx),
            [(9, CommandId::DeliverSmResp, CommandStatus::EsmeRok)]
        );
    }

    #[test]
    fn a_rejected_message_is_answered_once_with_its_status() {
        let (message, mut rx) = inbound();
        message.reject(CommandStatus::EsmeRxPAppn);
        assert_eq!(
            verdicts(&mut rx),
            [(9, CommandId::DeliverSmResp, CommandStatus::EsmeRxPAppn)]
        );
    }

    /// A layer above that is gone (its stream closed) drops what the session hands it: the
    /// SMSC is asked to deliver it again, never told it was taken.
    #[test]
    fn a_message_dropped_without_a_verdict_is_refused_for_now() {
        let (message, mut rx) = inbound();
        let (events, closed) = mpsc::unbounded_channel::<Inbound>();
        drop(closed);
        assert!(events.send(message).is_err());
        assert_eq!(
            verdicts(&mut rx),
            [(9, CommandId::DeliverSmResp, CommandStatus::EsmeRxTAppn)]
        );
    }

    #[test]
    fn a_verdict_for_a_session_that_is_gone_is_dropped_quietly() {
        let (message, rx) = inbound();
        drop(rx);
        message.accept();
    }
}
