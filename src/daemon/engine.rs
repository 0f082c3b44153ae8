//! What the dispatcher and the API need from the running channels: their status and the
//! configuration they run with, through the small [`Engine`] trait. Neither touches a
//! supervisor or a session directly; messages reach the channels through the store.
//!
//! Depends on: `sms` (delivery states), `supervisor` (channel states).

use crate::config::ChannelConfig;
use crate::sms::DeliveryState;
use crate::supervisor::ChannelState;
use std::fmt;
use std::sync::Arc;

/// The last error a channel reported, with its documented log code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError {
    /// The numeric log code (e.g. 43009, 43010, 43011, 42403).
    pub code: u32,
    /// Why, in words an operator can act on.
    pub reason: String,
}

/// Counters of one channel since the daemon started. All are monotonic except the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    /// submit_sm PDUs sent (re-sends included).
    pub submitted: u64,
    /// submit_sm_resp with status 0.
    pub acknowledged: u64,
    /// submit_sm that failed (error status, timeout, link lost).
    pub failed: u64,
    /// submit_sm sent again after a throttle or a lost link.
    pub resent: u64,
    /// deliver_sm received that were not receipts (inbound messages).
    pub received: u64,
    /// deliver_sm received that were delivery receipts.
    pub receipts: u64,
    /// Requests waiting for their response right now.
    pub window_in_use: u32,
    /// The configured window (`x-smpp-submit-window-size`).
    pub window_size: u32,
}

/// Why a channel holds a certificate, as the `role` label of
/// `smppd_tls_certificate_not_after_seconds` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertificateRole {
    /// The channel's own certificate (the leaf of its keystore), presented in mutual TLS.
    Own,
    /// A certificate the channel trusts the SMSC with (its keystore's CA certificates).
    Ca,
    /// The SMSC's certificate, as seen at the last successful TLS handshake.
    Peer,
}

impl CertificateRole {
    /// The label value: `own`, `ca` or `peer`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateRole::Own => "own",
            CertificateRole::Ca => "ca",
            CertificateRole::Peer => "peer",
        }
    }
}

/// One certificate a channel uses, reduced to what expiry monitoring needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateStatus {
    /// Why the channel holds it.
    pub role: CertificateRole,
    /// Its subject distinguished name, e.g. `CN=smppd dev client`.
    pub subject: String,
    /// The end of its validity (notAfter), seconds since the Unix epoch.
    pub not_after: i64,
}

/// A channel's state as this node reports it: the state of its supervisor when a session
/// slot of it runs here, `standby` when none does.
///
/// Shown as one word or phrase ([`ChannelPhase::as_str`]) in `GET /v1/channels`,
/// `GET /health` and the `state` label of `smppd_channel_state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChannelPhase {
    /// A session slot runs on this node, its supervisor in this state (the bound slot's,
    /// when the channel has several and one is bound).
    Local(ChannelState),
    /// No session slot of the channel runs on this node: on a cluster, other nodes hold
    /// them, and this node still accepts the channel's messages.
    #[default]
    Standby,
}

impl ChannelPhase {
    /// The state in a word or phrase: the supervisor's (`bound`, `connecting`,
    /// `backing off`...), or `standby`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelPhase::Local(state) => state.as_str(),
            ChannelPhase::Standby => "standby",
        }
    }
}

impl From<ChannelState> for ChannelPhase {
    fn from(state: ChannelState) -> Self {
        ChannelPhase::Local(state)
    }
}

impl fmt::Display for ChannelPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ChannelPhase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A snapshot of one channel, in configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSnapshot {
    /// The channel's name (the section name without `channel-`).
    pub name: String,
    /// Its state on this node.
    pub state: ChannelPhase,
    /// Whether the SMPP session is bound now.
    pub bound: bool,
    /// Whether the bind allows submit_sm (transmitter or transceiver).
    pub can_transmit: bool,
    /// Whether the bind allows deliver_sm (receiver or transceiver).
    pub can_receive: bool,
    /// The last error, until the next successful bind clears it (or keeps it: engine's choice).
    pub last_error: Option<ChannelError>,
    /// The counters.
    pub counters: ChannelCounters,
    /// Seconds since the last successful bind (whether or not it is still bound); `None`
    /// before the first.
    pub seconds_since_bind: Option<u64>,
    /// Failures so far by documented log code (43009, 43010, 43011, 42403), every code
    /// listed, zeros included.
    pub failures: Vec<(u32, u64)>,
    /// The certificates the channel presents, trusts and last saw from its SMSC.
    pub certificates: Vec<CertificateStatus>,
}

impl ChannelSnapshot {
    /// Bound and allowed to submit: a channel the router may pick.
    pub fn can_send(&self) -> bool {
        self.bound && self.can_transmit
    }

    /// Whether the window has a free slot right now.
    pub fn has_room(&self) -> bool {
        self.counters.window_in_use < self.counters.window_size
    }
}

/// The running channels, as the dispatcher and the API see them. The daemon's gateway
/// implements it on top of the supervisors; tests use a fake.
///
/// Both methods are called from request handlers: they must not block (take a snapshot).
pub trait Engine: Send + Sync + 'static {
    /// Every configured channel, in configured order.
    fn channels(&self) -> Vec<ChannelSnapshot>;

    /// The configuration `channel` runs with now (`None`: the first configured channel), so
    /// that requests are segmented and checked against what a SIGHUP reload last applied.
    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>>;
}

/// A receipt's state, owned (the session's [`DeliveryState`] borrows from the PDU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptState {
    /// ENROUTE: still on its way; not final.
    Enroute,
    /// DELIVRD.
    Delivered,
    /// EXPIRED: the validity period passed.
    Expired,
    /// DELETED.
    Deleted,
    /// UNDELIV.
    Undeliverable,
    /// ACCEPTD: accepted on the subscriber's behalf.
    Accepted,
    /// UNKNOWN.
    Unknown,
    /// REJECTD.
    Rejected,
    /// Anything else, verbatim (a `stat:` word or `message_state` number).
    Other(String),
}

impl ReceiptState {
    /// The word used in JSON (`"delivered"`, `"undeliverable"`...).
    pub fn as_str(&self) -> &str {
        match self {
            ReceiptState::Enroute => "enroute",
            ReceiptState::Delivered => "delivered",
            ReceiptState::Expired => "expired",
            ReceiptState::Deleted => "deleted",
            ReceiptState::Undeliverable => "undeliverable",
            ReceiptState::Accepted => "accepted",
            ReceiptState::Unknown => "unknown",
            ReceiptState::Rejected => "rejected",
            ReceiptState::Other(s) => s,
        }
    }
}

impl From<DeliveryState<'_>> for ReceiptState {
    fn from(state: DeliveryState<'_>) -> Self {
        match state {
            DeliveryState::Enroute => ReceiptState::Enroute,
            DeliveryState::Delivered => ReceiptState::Delivered,
            DeliveryState::Expired => ReceiptState::Expired,
            DeliveryState::Deleted => ReceiptState::Deleted,
            DeliveryState::Undeliverable => ReceiptState::Undeliverable,
            DeliveryState::Accepted => ReceiptState::Accepted,
            DeliveryState::Unknown => ReceiptState::Unknown,
            DeliveryState::Rejected => ReceiptState::Rejected,
            DeliveryState::OtherStat(s) => ReceiptState::Other(s.to_string()),
            DeliveryState::OtherCode(n) => ReceiptState::Other(n.to_string()),
        }
    }
}

/// A delivery receipt as the session parsed it from a deliver_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptReport {
    /// The receipt's `id:` (or receipted_message_id TLV), as the SMSC wrote it.
    pub smsc_message_id: String,
    /// Its state.
    pub state: ReceiptState,
    /// The `err:` field or network error code, verbatim, when present.
    pub error_code: Option<String>,
}

/// The content of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundContent {
    /// Text, decoded (and reassembled) by the session.
    Text(String),
    /// Octets whose data_coding is binary or not understood.
    Binary {
        /// The octets.
        data: Vec<u8>,
        /// The data_coding they came with.
        data_coding: u8,
    },
}

/// An inbound (mobile-originated) message, reassembled when it came in segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReport {
    /// source_addr.
    pub from: String,
    /// destination_addr.
    pub to: String,
    /// The content.
    pub content: InboundContent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The words are a contract with operators (`GET /v1/channels`, `GET /health`,
    /// `/metrics`): each variant keeps its own.
    #[test]
    fn every_phase_has_its_word() {
        let words = [
            (ChannelPhase::Local(ChannelState::Starting), "starting"),
            (ChannelPhase::Local(ChannelState::Connecting), "connecting"),
            (ChannelPhase::Local(ChannelState::Binding), "binding"),
            (ChannelPhase::Local(ChannelState::Bound), "bound"),
            (
                ChannelPhase::Local(ChannelState::BackingOff {
                    delay: Duration::from_secs(5),
                }),
                "backing off",
            ),
            (ChannelPhase::Local(ChannelState::Stopped), "stopped"),
            (ChannelPhase::Local(ChannelState::Failed), "failed"),
            (ChannelPhase::Standby, "standby"),
        ];
        for (phase, word) in words {
            assert_eq!(phase.as_str(), word);
            assert_eq!(phase.to_string(), word);
            assert_eq!(
                serde_json::to_value(phase).unwrap(),
                serde_json::Value::String(word.to_string())
            );
        }
    }

    #[test]
    fn a_snapshot_without_a_slot_is_standby() {
        assert_eq!(ChannelSnapshot::default().state, ChannelPhase::Standby);
        assert_eq!(
            ChannelPhase::from(ChannelState::Bound),
            ChannelPhase::Local(ChannelState::Bound)
        );
    }
}
