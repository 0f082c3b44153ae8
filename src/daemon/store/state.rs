//! How receipts settle a message's state; shared by every backend.

use super::record::{MessageState, SegmentRecord};
use crate::daemon::engine::ReceiptState;

/// The message state that the segments' receipts add up to, if they settle it, with the
/// failure reason when it is `failed`.
pub fn state_from_receipts(segments: &[SegmentRecord]) -> Option<(MessageState, Option<String>)> {
    let failed = segments.iter().find(|s| {
        matches!(
            s.receipt,
            Some(ReceiptState::Undeliverable | ReceiptState::Rejected | ReceiptState::Deleted)
        )
    });
    if let Some(s) = failed {
        let state = s.receipt.as_ref().map_or("", |r| r.as_str());
        let reason = match &s.receipt_error {
            Some(err) => format!("receipt: {state} (err {err})"),
            None => format!("receipt: {state}"),
        };
        return Some((MessageState::Failed, Some(reason)));
    }
    if segments
        .iter()
        .any(|s| s.receipt == Some(ReceiptState::Expired))
    {
        return Some((MessageState::Expired, None));
    }
    let delivered = segments.iter().all(|s| {
        matches!(
            s.receipt,
            Some(ReceiptState::Delivered | ReceiptState::Accepted)
        )
    });
    delivered.then_some((MessageState::Delivered, None))
}

/// What one segment's receipt settles a message of one segment to: [`state_from_receipts`]
/// of that segment alone, without building its record.
pub(crate) fn state_from_receipt(
    receipt: &ReceiptState,
    error: Option<&str>,
) -> Option<(MessageState, Option<String>)> {
    match receipt {
        ReceiptState::Undeliverable | ReceiptState::Rejected | ReceiptState::Deleted => {
            let state = receipt.as_str();
            let reason = match error {
                Some(err) => format!("receipt: {state} (err {err})"),
                None => format!("receipt: {state}"),
            };
            Some((MessageState::Failed, Some(reason)))
        }
        ReceiptState::Expired => Some((MessageState::Expired, None)),
        ReceiptState::Delivered | ReceiptState::Accepted => Some((MessageState::Delivered, None)),
        ReceiptState::Enroute | ReceiptState::Unknown | ReceiptState::Other(_) => None,
    }
}

/// Whether a receipt in this state is the last one its segment gets.
pub fn is_final_receipt(state: &ReceiptState) -> bool {
    matches!(
        state,
        ReceiptState::Delivered
            | ReceiptState::Expired
            | ReceiptState::Deleted
            | ReceiptState::Undeliverable
            | ReceiptState::Accepted
            | ReceiptState::Rejected
    )
}

/// A receipt state from its stored word (the JSON word, or anything else verbatim).
pub(super) fn receipt_state(word: &str) -> ReceiptState {
    match word {
        "enroute" => ReceiptState::Enroute,
        "delivered" => ReceiptState::Delivered,
        "expired" => ReceiptState::Expired,
        "deleted" => ReceiptState::Deleted,
        "undeliverable" => ReceiptState::Undeliverable,
        "accepted" => ReceiptState::Accepted,
        "unknown" => ReceiptState::Unknown,
        "rejected" => ReceiptState::Rejected,
        other => ReceiptState::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(receipt: Option<ReceiptState>) -> SegmentRecord {
        SegmentRecord {
            smsc_message_id: Some("1".into()),
            receipt,
            receipt_error: Some("000".into()),
        }
    }

    #[test]
    fn one_receipt_settles_as_its_segment_alone() {
        use ReceiptState as R;
        let states = [
            R::Enroute,
            R::Delivered,
            R::Expired,
            R::Deleted,
            R::Undeliverable,
            R::Accepted,
            R::Unknown,
            R::Rejected,
            R::Other("odd".into()),
        ];
        for state in states {
            for error in [None, Some("042")] {
                let alone = SegmentRecord {
                    smsc_message_id: Some("1".into()),
                    receipt: Some(state.clone()),
                    receipt_error: error.map(String::from),
                };
                assert_eq!(
                    state_from_receipt(&state, error),
                    state_from_receipts(&[alone]),
                    "{state:?} {error:?}"
                );
            }
        }
    }

    #[test]
    fn receipts_settle_the_message() {
        use ReceiptState as R;
        assert_eq!(
            state_from_receipts(&[seg(Some(R::Delivered)), seg(None)]),
            None
        );
        assert_eq!(
            state_from_receipts(&[seg(Some(R::Delivered)), seg(Some(R::Accepted))]),
            Some((MessageState::Delivered, None))
        );
        assert_eq!(
            state_from_receipts(&[seg(Some(R::Delivered)), seg(Some(R::Expired))]),
            Some((MessageState::Expired, None))
        );
        assert_eq!(
            state_from_receipts(&[seg(Some(R::Expired)), seg(Some(R::Undeliverable))]),
            Some((
                MessageState::Failed,
                Some("receipt: undeliverable (err 000)".into())
            ))
        );
    }

    #[test]
    fn stored_words_read_back() {
        for r in [
            ReceiptState::Enroute,
            ReceiptState::Delivered,
            ReceiptState::Expired,
            ReceiptState::Deleted,
            ReceiptState::Undeliverable,
            ReceiptState::Accepted,
            ReceiptState::Unknown,
            ReceiptState::Rejected,
            ReceiptState::Other("7".into()),
        ] {
            assert_eq!(receipt_state(r.as_str()), r);
        }
    }
}
