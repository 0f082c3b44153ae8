//! Which queued messages a channel holds, kept by the writer thread in memory.
//!
//! A claim writes nothing per message: a held message stays `queued` on disk until its
//! channel reports it. What must survive a crash is only which queued messages *may* have
//! reached the SMSC (they are counted as re-sends when sent again): per queue, the highest
//! key handed out since nothing was last held, in the `claims` table, one row write per
//! claim call. Memory is bounded by what channels hold (their feeders stop claiming at a
//! fixed number in flight), not by the backlog.
//!
//! The book changes inside a transaction that may still roll back, so every change is
//! journalled and undone by [`ClaimBook::rollback`].

use crate::daemon::store::MessageId;
use crate::seq_map::SeqMap;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// What the writer knows of a held message without reading its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    /// Its id.
    pub id: MessageId,
    /// The channel holding it (shared by the messages of one claim).
    pub channel: Arc<str>,
    /// The queue it was claimed from (`""` for the shared one).
    pub queue: Arc<str>,
    /// When it was accepted (ms).
    pub accepted_at: i64,
    /// Its number of segments.
    pub segments: i64,
    /// Segments acknowledged so far.
    pub acked: i64,
    /// Whether a receipt is asked for.
    pub delivery_report: bool,
}

enum Undo {
    /// `seq` was taken: forget it.
    Took(i64),
    /// `seq` was given back or finished: hold it again as it was.
    Dropped(i64, Held),
    /// A queue's scan position was `Some(from)` or unset.
    Cursor(Arc<str>, Option<i64>),
    /// A queue's recorded high-water mark was `Some(upto)` or unset.
    Upto(String, Option<i64>),
    /// The `claims` table held rows (it was just emptied).
    Recorded(bool),
}

/// The messages held, where each queue's scan resumes, and the marks on disk.
#[derive(Default)]
pub(super) struct ClaimBook {
    /// By message key, hashed cheaply (see [`crate::seq_map`]).
    held: SeqMap<i64, Held>,
    /// Per queue: every waiting message not held has a greater key.
    cursor: HashMap<Arc<str>, i64>,
    /// Per queue: the mark in the `claims` table.
    upto: HashMap<String, i64>,
    /// Whether the `claims` table may hold rows.
    recorded: bool,
    journal: Vec<Undo>,
}

impl ClaimBook {
    /// A book for a writer that found `recorded` marks at open.
    pub(super) fn new(recorded: bool) -> ClaimBook {
        ClaimBook {
            recorded,
            ..ClaimBook::default()
        }
    }

    /// The held message `seq`.
    pub(super) fn get(&self, seq: i64) -> Option<&Held> {
        self.held.get(&seq)
    }

    /// Whether `seq` is held.
    pub(super) fn holds(&self, seq: i64) -> bool {
        self.held.contains_key(&seq)
    }

    /// How many messages are held.
    pub(super) fn len(&self) -> usize {
        self.held.len()
    }

    /// Where the scan of `queue` resumes (keys above it).
    pub(super) fn cursor(&self, queue: &str) -> i64 {
        self.cursor.get(queue).copied().unwrap_or(0)
    }

    /// Records that `seq` of `held.queue` is handed to `held.channel`; the claim then moves
    /// the queue's scan past it ([`ClaimBook::advance`]).
    pub(super) fn take(&mut self, seq: i64, held: Held) {
        if let Some(before) = self.held.insert(seq, held) {
            self.journal.push(Undo::Dropped(seq, before));
        } else {
            self.journal.push(Undo::Took(seq));
        }
    }

    /// Moves the scan of `queue` up to `seq` (once per claim and queue: the highest key it
    /// took there).
    pub(super) fn advance(&mut self, queue: &Arc<str>, seq: i64) {
        let before = self.cursor.get(queue).copied();
        if before.is_none_or(|c| c < seq) {
            self.journal.push(Undo::Cursor(queue.clone(), before));
            self.cursor.insert(queue.clone(), seq);
        }
    }

    /// Counts one more acknowledged segment of `seq`; returns the count.
    pub(super) fn acked(&mut self, seq: i64) -> Option<i64> {
        let held = self.held.get(&seq)?.clone();
        self.journal.push(Undo::Dropped(seq, held));
        let h = self.held.get_mut(&seq)?;
        h.acked += 1;
        Some(h.acked)
    }

    /// `seq` is no longer held: it finished, or it went back to its queue (`requeue`), in
    /// which case the queue's scan must see it again. Returns what it was held as (kept in
    /// the journal, for a rollback).
    pub(super) fn drop_held(&mut self, seq: i64, requeue: bool) -> Option<&Held> {
        let held = self.held.remove(&seq)?;
        if requeue {
            let before = self.cursor.get(&held.queue).copied();
            if before.is_some_and(|c| c >= seq) {
                self.journal.push(Undo::Cursor(held.queue.clone(), before));
                self.cursor.insert(held.queue.clone(), seq - 1);
            }
        }
        self.journal.push(Undo::Dropped(seq, held));
        match self.journal.last() {
            Some(Undo::Dropped(_, held)) => Some(held),
            _ => None,
        }
    }

    /// Nothing of `queue` is held any more (its messages were failed).
    pub(super) fn drop_queue(&mut self, queue: &str) {
        let seqs: Vec<i64> = self
            .held
            .iter()
            .filter(|(_, h)| &*h.queue == queue)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in seqs {
            self.drop_held(seq, false);
        }
    }

    /// The mark `queue` needs on disk to cover `seq`, when it does not cover it yet.
    pub(super) fn mark_needed(&self, queue: &str, seq: i64) -> bool {
        self.upto.get(queue).is_none_or(|&u| u < seq)
    }

    /// The mark of `queue` was written as `seq`.
    pub(super) fn marked(&mut self, queue: &str, seq: i64) {
        let before = self.upto.insert(queue.to_string(), seq);
        self.journal.push(Undo::Upto(queue.to_string(), before));
        if !self.recorded {
            self.journal.push(Undo::Recorded(false));
            self.recorded = true;
        }
    }

    /// Whether the marks on disk can be cleared: nothing is held, so nothing queued can
    /// have reached the SMSC unrecorded.
    pub(super) fn clear_due(&self) -> bool {
        self.recorded && self.held.is_empty()
    }

    /// The `claims` table was emptied.
    pub(super) fn cleared(&mut self) {
        for (queue, upto) in self.upto.drain() {
            self.journal.push(Undo::Upto(queue, Some(upto)));
        }
        self.journal.push(Undo::Recorded(true));
        self.recorded = false;
    }

    /// The transaction committed: its changes stay.
    pub(super) fn commit(&mut self) {
        self.journal.clear();
    }

    /// The transaction rolled back: undoes every change since the last commit.
    pub(super) fn rollback(&mut self) {
        while let Some(undo) = self.journal.pop() {
            match undo {
                Undo::Took(seq) => {
                    self.held.remove(&seq);
                }
                Undo::Dropped(seq, held) => {
                    self.held.insert(seq, held);
                }
                Undo::Cursor(queue, before) => restore(&mut self.cursor, queue, before),
                Undo::Upto(queue, before) => restore(&mut self.upto, queue, before),
                Undo::Recorded(was) => self.recorded = was,
            }
        }
    }
}

fn restore<K: Eq + Hash>(map: &mut HashMap<K, i64>, key: K, before: Option<i64>) {
    match before {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(queue: &str) -> Held {
        Held {
            id: MessageId::parse(&"0".repeat(crate::daemon::store::ID_LEN)).unwrap(),
            channel: "a".into(),
            queue: queue.into(),
            accepted_at: 0,
            segments: 2,
            acked: 0,
            delivery_report: false,
        }
    }

    #[test]
    fn a_rollback_restores_everything_since_the_last_commit() {
        let mut book = ClaimBook::new(false);
        let queue: Arc<str> = Arc::from("");
        book.take(5, held(""));
        book.advance(&queue, 5);
        book.marked("", 5);
        book.commit();
        book.take(7, held(""));
        book.advance(&queue, 7);
        book.acked(5);
        book.drop_held(5, true);
        book.marked("", 7);
        assert_eq!(book.cursor(""), 4);
        book.rollback();
        assert_eq!(book.get(5), Some(&held("")));
        assert!(!book.holds(7));
        assert_eq!(book.cursor(""), 5);
        assert!(!book.mark_needed("", 5));
        assert!(book.mark_needed("", 6));
    }

    #[test]
    fn a_requeued_message_moves_the_scan_back_and_a_finished_one_does_not() {
        let mut book = ClaimBook::new(false);
        for seq in [3, 4, 9] {
            book.take(seq, held("q"));
        }
        book.advance(&Arc::from("q"), 9);
        book.drop_held(9, false);
        assert_eq!(book.cursor("q"), 9);
        book.drop_held(4, true);
        assert_eq!(book.cursor("q"), 3);
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn marks_are_cleared_only_when_nothing_is_held() {
        let mut book = ClaimBook::new(true);
        assert!(book.clear_due());
        book.take(1, held(""));
        assert!(!book.clear_due());
        book.drop_held(1, false);
        assert!(book.clear_due());
        book.cleared();
        assert!(!book.clear_due());
        book.rollback();
        assert!(book.clear_due());
    }
}
