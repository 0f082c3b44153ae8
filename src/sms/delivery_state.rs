//! The state of a submitted message as a receipt reports it, from either the text form's
//! `stat:` field or the message_state TLV (SMPP v3.4 §5.2.28).

/// Where a submitted message stands, per its delivery receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState<'a> {
    /// ENROUTE, message_state 1: still being delivered.
    Enroute,
    /// DELIVRD, message_state 2.
    Delivered,
    /// EXPIRED, message_state 3: validity period passed.
    Expired,
    /// DELETED, message_state 4.
    Deleted,
    /// UNDELIV, message_state 5.
    Undeliverable,
    /// ACCEPTD, message_state 6: accepted on the subscriber's behalf.
    Accepted,
    /// UNKNOWN, message_state 7: the SMSC reports an invalid state.
    Unknown,
    /// REJECTD, message_state 8.
    Rejected,
    /// A `stat:` word this module does not know, kept verbatim.
    OtherStat(&'a str),
    /// A message_state value outside 1..=8 (e.g. 0 SCHEDULED, 9 SKIPPED in SMPP 5.0).
    OtherCode(u8),
}

impl<'a> DeliveryState<'a> {
    /// The state a `stat:` value names. Matching ignores case and accepts the long
    /// spellings some SMSCs use (DELIVERED, UNDELIVERABLE…); anything else is kept.
    pub fn from_stat(stat: &'a str) -> DeliveryState<'a> {
        const NAMES: [(&str, DeliveryState<'static>); 13] = [
            ("DELIVRD", DeliveryState::Delivered),
            ("DELIVERED", DeliveryState::Delivered),
            ("EXPIRED", DeliveryState::Expired),
            ("DELETED", DeliveryState::Deleted),
            ("UNDELIV", DeliveryState::Undeliverable),
            ("UNDELIVERABLE", DeliveryState::Undeliverable),
            ("ACCEPTD", DeliveryState::Accepted),
            ("ACCEPTED", DeliveryState::Accepted),
            ("UNKNOWN", DeliveryState::Unknown),
            ("REJECTD", DeliveryState::Rejected),
            ("REJECTED", DeliveryState::Rejected),
            ("ENROUTE", DeliveryState::Enroute),
            ("EN_ROUTE", DeliveryState::Enroute),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(stat))
            .map_or(DeliveryState::OtherStat(stat), |&(_, state)| state)
    }

    /// The state a message_state TLV value names.
    pub fn from_message_state(value: u8) -> DeliveryState<'static> {
        match value {
            1 => DeliveryState::Enroute,
            2 => DeliveryState::Delivered,
            3 => DeliveryState::Expired,
            4 => DeliveryState::Deleted,
            5 => DeliveryState::Undeliverable,
            6 => DeliveryState::Accepted,
            7 => DeliveryState::Unknown,
            8 => DeliveryState::Rejected,
            other => DeliveryState::OtherCode(other),
        }
    }

    /// The message_state value, when the state has one.
    pub fn message_state(self) -> Option<u8> {
        match self {
            DeliveryState::Enroute => Some(1),
            DeliveryState::Delivered => Some(2),
            DeliveryState::Expired => Some(3),
            DeliveryState::Deleted => Some(4),
            DeliveryState::Undeliverable => Some(5),
            DeliveryState::Accepted => Some(6),
            DeliveryState::Unknown => Some(7),
            DeliveryState::Rejected => Some(8),
            DeliveryState::OtherStat(_) => None,
            DeliveryState::OtherCode(v) => Some(v),
        }
    }

    /// True for the states SMPP v3.4 §5.2.28 calls final: no later receipt will follow.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered
                | DeliveryState::Expired
                | DeliveryState::Deleted
                | DeliveryState::Undeliverable
                | DeliveryState::Accepted
                | DeliveryState::Rejected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_words_and_codes_agree() {
        let pairs = [
            ("ENROUTE", 1),
            ("DELIVRD", 2),
            ("EXPIRED", 3),
            ("DELETED", 4),
            ("UNDELIV", 5),
            ("ACCEPTD", 6),
            ("UNKNOWN", 7),
            ("REJECTD", 8),
        ];
        for (word, code) in pairs {
            let state = DeliveryState::from_stat(word);
            assert_eq!(state, DeliveryState::from_message_state(code), "{word}");
            assert_eq!(state.message_state(), Some(code));
        }
    }

    #[test]
    fn case_and_unknown_words_are_tolerated() {
        assert_eq!(
            DeliveryState::from_stat("delivrd"),
            DeliveryState::Delivered
        );
        assert_eq!(
            DeliveryState::from_stat("Rejected"),
            DeliveryState::Rejected
        );
        assert_eq!(
            DeliveryState::from_stat("FAILED"),
            DeliveryState::OtherStat("FAILED")
        );
        assert_eq!(
            DeliveryState::from_message_state(9),
            DeliveryState::OtherCode(9)
        );
        assert!(DeliveryState::Delivered.is_final());
        assert!(!DeliveryState::Enroute.is_final());
    }
}
