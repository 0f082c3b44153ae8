//! The events the store queues for an SMPP server's user: a receipt for one of its messages
//! (built here, inside the transaction that settles the message) and an inbound message
//! routed to it (built by the channel's sink). Both wait in the outbox under the user's name
//! until one of its receiver binds acknowledges the deliver_sm made from them.
//!
//! The body is JSON like the webhook's events, so that one outbox serves both; the SMPP
//! server turns it into a deliver_sm.

use crate::daemon::engine::ReceiptState;
use serde_json::{Map, Value};

/// The `type` of a receipt for an SMPP user.
pub(crate) const USER_RECEIPT: &str = "user_receipt";

/// The `type` of an inbound message routed to an SMPP user by its address ranges.
pub(crate) const USER_MO: &str = "user_mo";

/// What a user's receipt reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserReceipt<'a> {
    /// Our message id (the one its submit_sm_resp carried).
    pub message_id: &'a str,
    /// The receipt's `stat:` word (`DELIVRD`, `UNDELIV`, `EXPIRED`...).
    pub stat: String,
    /// The receipt's `err:` field, as the SMSC wrote it (or our own failure status).
    pub err: String,
    /// The message's destination (the receipt's source_addr).
    pub to: &'a str,
    /// The message's source (the receipt's destination_addr).
    pub from: Option<&'a str>,
    /// When the message was accepted (ms since the epoch).
    pub submitted_at: i64,
    /// When the outcome was known (ms since the epoch).
    pub done_at: i64,
}

impl UserReceipt<'_> {
    /// The event as the outbox keeps it (without `event_id`).
    pub(crate) fn event(&self) -> Map<String, Value> {
        let mut e = Map::new();
        e.insert("type".into(), Value::from(USER_RECEIPT));
        e.insert("message_id".into(), Value::from(self.message_id));
        e.insert("stat".into(), Value::from(self.stat.as_str()));
        e.insert("err".into(), Value::from(self.err.as_str()));
        e.insert("to".into(), Value::from(self.to));
        e.insert("from".into(), self.from.map_or(Value::Null, Value::from));
        e.insert("submitted_at".into(), Value::from(self.submitted_at));
        e.insert("done_at".into(), Value::from(self.done_at));
        e
    }
}

/// An inbound message (a long one whole) as an SMPP user is to receive it: the original
/// octets and data_coding rather than a decoded text, so that the deliver_sm made from it
/// carries what the SMSC sent, whatever the coding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserMo<'a> {
    /// The channel it came on.
    pub channel: &'a str,
    /// Its source_addr.
    pub from: &'a str,
    /// Its destination_addr (the address in the user's range).
    pub to: &'a str,
    /// Its data_coding.
    pub data_coding: u8,
    /// The message's octets, without UDH (parts of a long message concatenated).
    pub octets: &'a [u8],
}

impl UserMo<'_> {
    /// The event as the outbox keeps it (without `event_id`); the octets as `hex`.
    pub(crate) fn event(&self) -> Map<String, Value> {
        let mut e = Map::new();
        e.insert("type".into(), Value::from(USER_MO));
        e.insert("channel".into(), Value::from(self.channel));
        e.insert("from".into(), Value::from(self.from));
        e.insert("to".into(), Value::from(self.to));
        e.insert("data_coding".into(), Value::from(self.data_coding));
        e.insert(
            "hex".into(),
            Value::from(crate::codec::dump::hex(self.octets)),
        );
        e
    }
}

/// The `stat:` word of a receipt state, as SMPP 3.4 Appendix B writes it (at most 7
/// characters; an unknown word is passed on, cut to 7).
pub(crate) fn stat_word(state: &ReceiptState) -> String {
    match state {
        ReceiptState::Enroute => "ENROUTE".into(),
        ReceiptState::Delivered => "DELIVRD".into(),
        ReceiptState::Expired => "EXPIRED".into(),
        ReceiptState::Deleted => "DELETED".into(),
        ReceiptState::Undeliverable => "UNDELIV".into(),
        ReceiptState::Accepted => "ACCEPTD".into(),
        ReceiptState::Unknown => "UNKNOWN".into(),
        ReceiptState::Rejected => "REJECTD".into(),
        ReceiptState::Other(word) => word.chars().take(7).collect(),
    }
}

/// The `err:` field for a failure of our own: the SMSC's error status when it sent one
/// (three digits of its low bits, as receipts write network errors), else `000`.
pub(crate) fn err_field(status: Option<u32>) -> String {
    format!("{:03}", status.unwrap_or(0) % 1000)
}

/// The `stat:` and `err:` words of a receipt passed on from upstream.
pub(crate) fn upstream_words(receipt: &crate::daemon::engine::ReceiptReport) -> (String, String) {
    (
        stat_word(&receipt.state),
        receipt.error_code.clone().unwrap_or_else(|| "000".into()),
    )
}

/// The `stat:` and `err:` words for a message that never reached the SMSC: its validity
/// ran out (`EXPIRED`), or the SMSC refused it with `status` (`REJECTD`).
pub(crate) fn unsent_words(expired: bool, status: Option<u32>) -> (String, String) {
    if expired {
        ("EXPIRED".into(), err_field(None))
    } else {
        ("REJECTD".into(), err_field(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_event_names_our_id_and_the_upstream_words() {
        let e = UserReceipt {
            message_id: "abc",
            stat: stat_word(&ReceiptState::Undeliverable),
            err: "012".into(),
            to: "31600000000",
            from: None,
            submitted_at: 1,
            done_at: 2,
        }
        .event();
        assert_eq!(e["type"], USER_RECEIPT);
        assert_eq!(e["message_id"], "abc");
        assert_eq!(e["stat"], "UNDELIV");
        assert_eq!(e["from"], Value::Null);
    }

    #[test]
    fn an_mo_event_keeps_the_octets_and_their_coding() {
        let e = UserMo {
            channel: "smsc-a",
            from: "447700900123",
            to: "3169988",
            data_coding: 8,
            octets: &[0x00, 0x41, 0xff],
        }
        .event();
        assert_eq!(e["type"], USER_MO);
        assert_eq!(e["data_coding"], 8);
        assert_eq!(e["hex"], "0041ff");
        assert_eq!(e["to"], "3169988");
    }

    #[test]
    fn unknown_words_are_cut_and_statuses_are_three_digits() {
        assert_eq!(
            stat_word(&ReceiptState::Other("SOMETHINGLONG".into())),
            "SOMETHI"
        );
        assert_eq!(err_field(Some(0x45)), "069");
        assert_eq!(err_field(None), "000");
    }
}
