//! [`BindState`]: the SMPP v3.4 session state, and which PDUs each state allows.
//!
//! ```text
//!                 bind_* sent                  bind_resp ESME_ROK
//!   Open ───────────────────────► BindPending ──────────────────────► Bound{Tx, Rx, Trx}
//!    │                              │  bind_resp error or               │  unbind sent
//!    │                              │  malformed, bind timeout          │  or received
//!    │                              ▼                                   ▼
//!    └──── link lost ─────────►  Closed  ◄──── unbind_resp ───────  Unbinding
//!                          (from every state)     (sent or received), or link lost
//! ```
//!
//! SMPP v3.4 §2.3 and §2.4 decide what may travel in each state. Bound as transmitter, the
//! ESME submits and the SMSC answers; bound as receiver, the SMSC delivers and the ESME
//! answers; a transceiver does both. enquire_link, unbind and generic_nack work in every
//! bound state. After unbind only responses still flow: what was in flight may be answered.
//! A request that arrives in the wrong state is answered with ESME_RINVBNDSTS (§5.1.3).

use crate::codec::CommandId;
use crate::session::params::BindMode;

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindState {
    /// Connected, nothing sent yet.
    Open,
    /// A bind request was sent; its response is awaited.
    BindPending(BindMode),
    /// Bound: traffic flows in the directions the mode allows.
    Bound(BindMode),
    /// unbind was sent or received; only responses still flow.
    Unbinding,
    /// Finished: the connection is (or is about to be) closed.
    Closed,
}

impl BindState {
    /// A bind request goes out.
    pub fn on_bind_sent(&mut self, mode: BindMode) {
        if *self == BindState::Open {
            *self = BindState::BindPending(mode);
        }
    }

    /// The bind response arrived: `accepted` when its status is ESME_ROK and its body
    /// decodes (an "OK" that does not decode is a protocol violation, not a bind).
    pub fn on_bind_resp(&mut self, accepted: bool) {
        if let BindState::BindPending(mode) = *self {
            *self = if accepted {
                BindState::Bound(mode)
            } else {
                BindState::Closed
            };
        }
    }

    /// unbind went out or came in.
    pub fn on_unbind(&mut self) {
        *self = match *self {
            BindState::Bound(_) => BindState::Unbinding,
            // Unbinding before the bind completed: nothing to drain, just close.
            BindState::Open
            | BindState::BindPending(_)
            | BindState::Unbinding
            | BindState::Closed => BindState::Closed,
        };
    }

    /// unbind_resp went out or came in, a bind timed out, or the link dropped.
    pub fn on_closed(&mut self) {
        *self = BindState::Closed;
    }

    /// The mode the session is bound in, if it is bound.
    pub fn bound_mode(&self) -> Option<BindMode> {
        match self {
            BindState::Bound(mode) => Some(*mode),
            _ => None,
        }
    }

    /// Whether the ESME may send a request with this command id now (responses are always
    /// allowed while the link is up: a request received must be answered).
    pub fn may_send(&self, id: CommandId) -> bool {
        use CommandId as C;
        if id.is_response() {
            return !matches!(self, BindState::Closed);
        }
        match self {
            BindState::Open => matches!(
                id,
                C::BindTransmitter | C::BindReceiver | C::BindTransceiver
            ),
            BindState::BindPending(_) | BindState::Unbinding | BindState::Closed => false,
            BindState::Bound(mode) => match id {
                C::EnquireLink | C::Unbind => true,
                C::SubmitSm
                | C::SubmitMulti
                | C::DataSm
                | C::QuerySm
                | C::CancelSm
                | C::ReplaceSm => mode.can_submit(),
                _ => false,
            },
        }
    }

    /// Whether the SMSC may send a request with this command id now. A request refused here
    /// is answered with ESME_RINVBNDSTS and the session carries on.
    pub fn may_receive(&self, id: CommandId) -> bool {
        use CommandId as C;
        if id.is_response() {
            return !matches!(self, BindState::Closed);
        }
        match self {
            BindState::Open | BindState::Closed => false,
            // The SMSC may probe or end a session whose bind it has not answered yet.
            BindState::BindPending(_) => matches!(id, C::EnquireLink | C::Unbind),
            BindState::Unbinding => false,
            BindState::Bound(mode) => match id {
                C::EnquireLink | C::Unbind => true,
                C::DeliverSm | C::AlertNotification => mode.can_receive(),
                // data_sm flows both ways in every bound state (§4.7).
                C::DataSm => true,
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandId as C;

    #[test]
    fn bind_then_unbind_walks_the_diagram() {
        let mut s = BindState::Open;
        assert!(s.may_send(C::BindTransceiver));
        assert!(!s.may_send(C::SubmitSm));
        s.on_bind_sent(BindMode::Transceiver);
        assert_eq!(s, BindState::BindPending(BindMode::Transceiver));
        assert!(!s.may_send(C::SubmitSm));
        s.on_bind_resp(true);
        assert_eq!(s.bound_mode(), Some(BindMode::Transceiver));
        assert!(s.may_send(C::SubmitSm));
        assert!(s.may_receive(C::DeliverSm));
        s.on_unbind();
        assert_eq!(s, BindState::Unbinding);
        assert!(!s.may_send(C::SubmitSm));
        assert!(s.may_receive(C::SubmitSmResp));
        assert!(!s.may_receive(C::DeliverSm));
        s.on_closed();
        assert_eq!(s, BindState::Closed);
        assert!(!s.may_send(C::EnquireLinkResp));
    }

    #[test]
    fn rejected_bind_closes() {
        let mut s = BindState::Open;
        s.on_bind_sent(BindMode::Transmitter);
        s.on_bind_resp(false);
        assert_eq!(s, BindState::Closed);
    }

    #[test]
    fn directions_follow_the_bind_mode() {
        let tx = BindState::Bound(BindMode::Transmitter);
        assert!(tx.may_send(C::SubmitSm));
        assert!(!tx.may_receive(C::DeliverSm));
        assert!(tx.may_receive(C::EnquireLink));
        let rx = BindState::Bound(BindMode::Receiver);
        assert!(!rx.may_send(C::SubmitSm));
        assert!(rx.may_receive(C::DeliverSm));
        assert!(rx.may_send(C::DeliverSmResp));
        assert!(rx.may_send(C::EnquireLink));
        assert!(!rx.may_receive(C::SubmitSm));
        assert!(!rx.may_receive(C::BindTransmitter));
    }
}
