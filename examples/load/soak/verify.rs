//! The checks of `load soak`: what was answered 202, what the SMSC accepted (the simulators'
//! record files) and what the webhook receiver got, compared; then the rules that make a run
//! fail.

use std::collections::HashMap;

use super::ledger::{Ledger, Link};
use super::load::Sent;
use super::receiver::Received;
use super::report::Report;

/// What the comparison found.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Messages answered 202, and their segments.
    pub accepted: u64,
    pub segments_accepted: u64,
    /// Message numbers with a segment the SMSC never accepted.
    pub missing: Vec<u32>,
    /// Message numbers whose segments, joined, are not the text sent.
    pub garbled: Vec<u32>,
    /// Segments the SMSC accepted (distinct), and copies of them in all.
    pub delivered_segments: u64,
    pub copies: u64,
    /// Copies beyond the first, each blamed on the link its predecessor went over (its
    /// answer never reached the daemon, or the link went before the daemon recorded it).
    pub duplicates: u64,
    pub blamed: HashMap<Link, u64>,
    /// Receipts the SMSC saw acknowledged (distinct SMSC ids); those the webhook lacks.
    pub receipts_acked: u64,
    pub receipts_missing: Vec<String>,
    /// The webhook's receipt events for them, by how they were matched.
    pub receipts_matched: u64,
    pub receipts_unmatched: u64,
    /// SMSC ids with an unmatched event (checked against the id the daemon kept).
    pub unmatched_ids: Vec<String>,
    pub receipts_wrong: Vec<String>,
    /// Segments with an acknowledged receipt, and those the webhook has under their API id.
    pub segments_receipted: u64,
    pub segments_receipted_by_id: u64,
    /// Segments with an acknowledged receipt but none under their API id.
    pub receipt_gaps: Vec<(u32, u8)>,
    /// Accepted segments for which the SMSC never got a receipt acknowledged.
    pub segments_without_receipt: u64,
    /// MO the SMSC saw acknowledged; those the webhook lacks.
    pub mo_acked: u64,
    pub mo_missing: Vec<String>,
    /// Numbers the SMSC got that were never answered 202.
    pub unconfirmed_at_smsc: u64,
}

impl Verdict {
    /// Nothing acknowledged is missing.
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.receipts_missing.is_empty() && self.mo_missing.is_empty()
    }
}

pub fn verify(sent: &Sent, ledger: &Ledger, received: &Received) -> Verdict {
    let mut v = Verdict::default();
    for (n, accepted) in sent.accepted.iter().enumerate() {
        let n = n as u32;
        let Some(a) = accepted else {
            if ledger.segments.contains_key(&(n, 1)) {
                v.unconfirmed_at_smsc += 1;
            }
            continue;
        };
        v.accepted += 1;
        v.segments_accepted += u64::from(a.segments);
        let mut whole = String::new();
        let mut complete = a.segments > 0;
        for segment in 1..=a.segments {
            match ledger.segments.get(&(n, segment)) {
                Some(seen) => whole.push_str(&seen.text),
                None => complete = false,
            }
        }
        if !complete {
            v.missing.push(n);
        } else if whole != a.text {
            v.garbled.push(n);
        }
    }
    for ((n, segment), seen) in &ledger.segments {
        v.delivered_segments += 1;
        v.copies += seen.copies.len() as u64;
        for pair in seen.copies.windows(2) {
            v.duplicates += 1;
            *v.blamed.entry(pair[0].link).or_default() += 1;
        }
        let acked = seen
            .copies
            .iter()
            .any(|c| ledger.receipts_acked.contains(&c.smsc_id));
        if !acked {
            v.segments_without_receipt += 1;
            continue;
        }
        v.segments_receipted += 1;
        let api_id = sent
            .accepted
            .get(*n as usize)
            .and_then(|a| a.as_ref())
            .map(|a| a.id.clone());
        if let Some(id) = api_id {
            if received
                .receipts_by_message
                .contains(&(id, u64::from(*segment) - 1))
            {
                v.segments_receipted_by_id += 1;
            } else {
                v.receipt_gaps.push((*n, *segment));
            }
        }
    }
    for smsc_id in &ledger.receipts_acked {
        v.receipts_acked += 1;
        let Some(events) = received.receipts.get(smsc_id) else {
            v.receipts_missing.push(smsc_id.clone());
            continue;
        };
        let expected = ledger.by_smsc_id.get(smsc_id).and_then(|(n, segment)| {
            let a = sent.accepted.get(*n as usize)?.as_ref()?;
            Some((a.id.clone(), u64::from(*segment) - 1))
        });
        if events.iter().any(|e| e.message_id.is_none()) {
            v.unmatched_ids.push(smsc_id.clone());
        }
        for e in events {
            match (&e.message_id, e.segment, &expected) {
                (None, _, _) => v.receipts_unmatched += 1,
                (Some(id), Some(segment), Some((want, want_segment)))
                    if id == want && segment == *want_segment =>
                {
                    v.receipts_matched += 1
                }
                _ => v.receipts_wrong.push(smsc_id.clone()),
            }
        }
    }
    for text in &ledger.mo_acked {
        v.mo_acked += 1;
        if !received.inbound.contains_key(text) {
            v.mo_missing.push(text.clone());
        }
    }
    v.missing.sort_unstable();
    v.garbled.sort_unstable();
    v.receipts_missing.sort();
    v.mo_missing.sort();
    v
}

/// Why the run failed; empty when it did not.
pub fn failures(r: &Report) -> Vec<String> {
    let v = r.verdict;
    let window = r.window as u64;
    let over_window: Vec<_> = v.blamed.iter().filter(|(_, n)| **n > window).collect();
    let (start, end) = (r.resources.start, r.resources.end);
    let fd_growth = match (start, end) {
        (Some(s), Some(e)) => e.other_fds > s.other_fds + 2 || e.sockets > s.sockets,
        _ => false,
    };
    let mut out = Vec::new();
    let mut fail = |failed: bool, what: String| {
        if failed {
            out.push(what)
        }
    };
    fail(
        !r.stopped.0,
        format!("the daemon did not stop cleanly: {}", r.stopped.1),
    );
    fail(
        !r.drained,
        format!("the drain did not finish within {} s", r.drain_limit_s),
    );
    fail(
        !v.missing.is_empty(),
        format!(
            "{} accepted messages never reached the SMSC whole: numbers {:?}",
            v.missing.len(),
            first(&v.missing)
        ),
    );
    fail(
        !v.garbled.is_empty() || r.ledger.differing_copies > 0,
        format!(
            "{} messages reached the SMSC with another text ({:?}); {} copies differ from the first",
            v.garbled.len(),
            first(&v.garbled),
            r.ledger.differing_copies
        ),
    );
    fail(
        !over_window.is_empty(),
        format!("links whose loss re-sent more than a window ({window}): {over_window:?}"),
    );
    fail(
        !v.receipts_missing.is_empty(),
        format!(
            "{} receipts acknowledged to the SMSC never reached the webhook: {:?}",
            v.receipts_missing.len(),
            first(&v.receipts_missing)
        ),
    );
    fail(
        !v.receipts_wrong.is_empty(),
        format!(
            "{} receipts matched to the wrong message: {:?}",
            v.receipts_wrong.len(),
            first(&v.receipts_wrong)
        ),
    );
    fail(
        !r.unmatched_known.is_empty(),
        format!(
            "{} receipts came to the webhook unmatched although the daemon holds their SMSC id: {:?}",
            r.unmatched_known.len(),
            first(r.unmatched_known)
        ),
    );
    fail(
        !r.unexplained.is_empty(),
        format!(
            "{} receipted segments have no receipt event under their API id: {:?}",
            r.unexplained.len(),
            first(r.unexplained)
        ),
    );
    fail(
        !v.mo_missing.is_empty(),
        format!(
            "{} MO acknowledged to the SMSC never reached the webhook: {:?}",
            v.mo_missing.len(),
            first(&v.mo_missing)
        ),
    );
    fail(
        !r.received.expired.is_empty(),
        format!("{} messages expired", r.received.expired.len()),
    );
    fail(
        fd_growth,
        format!("open descriptors grew: start {start:?}, end {end:?}"),
    );
    out
}

/// The first few of a list, for a failure line.
fn first<T: Clone>(v: &[T]) -> Vec<T> {
    v.iter().take(5).cloned().collect()
}
