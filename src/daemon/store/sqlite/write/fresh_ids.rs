//! Receipts matched without reading the correlation, when reading it could find nothing else.
//!
//! A receipt's exact id finds every correlation row of its channel with that exact SMSC id,
//! and the newest submission (the highest `seq`) wins. So when an id was correlated once in
//! the current [`super::Writer::apply`] call, for a message whose `seq` is above that of
//! every correlation row written before, a receipt in the same call quoting that exact id
//! would find that message and no other: the look-up is skipped.
//!
//! That needs a bound on the highest `seq` in the correlation table. A thread of its own
//! reads it at start (a scan of the table, which may be large, so the writer does not wait
//! for it); until it lands every receipt is looked up. From then on the bound rises with
//! every row the writer writes (deleted rows only lower the true highest, so the bound
//! stays a bound).

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};

use crate::sms::MessageIdKey;

/// What the writer knows of the correlation rows without reading them.
#[derive(Debug)]
pub(super) struct FreshIds {
    /// No correlation row has a higher `seq` than this, once known.
    highest: Option<i64>,
    /// The highest `seq` the writer has correlated since it started.
    since_start: i64,
    /// The start-up read of the highest `seq`, until it lands.
    scan: Option<Receiver<i64>>,
    /// The exact ids correlated in the current call: the message, when the id was
    /// correlated once in the call for a message above every row before; `None` otherwise.
    call: HashMap<String, Option<i64>>,
}

impl FreshIds {
    /// Knowing that no correlation row has a `seq` above `highest`.
    #[cfg(test)]
    pub(super) fn known(highest: i64) -> FreshIds {
        FreshIds {
            highest: Some(highest),
            since_start: 0,
            scan: None,
            call: HashMap::new(),
        }
    }

    /// Starts reading the highest `seq` of the store at `path` on a thread of its own.
    /// Should the read fail, every receipt is looked up, as without this.
    pub(super) fn scan(path: &Path) -> FreshIds {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        let read = move || {
            let highest = super::super::open_reader(&path).ok().and_then(|conn| {
                conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM correlation", [], |r| {
                    r.get::<_, i64>(0)
                })
                .ok()
            });
            if let Some(highest) = highest {
                let _ = tx.send(highest);
            }
        };
        let started = std::thread::Builder::new()
            .name("smppd-store-scan".into())
            .spawn(read)
            .is_ok();
        FreshIds {
            highest: None,
            since_start: 0,
            scan: started.then_some(rx),
            call: HashMap::new(),
        }
    }

    /// Takes the start-up read if it has landed.
    fn poll_scan(&mut self) {
        let Some(scan) = &self.scan else {
            return;
        };
        match scan.try_recv() {
            // Rows written since the start may be missing from the read: both bound.
            Ok(highest) => {
                self.highest = Some(highest.max(self.since_start));
                self.scan = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.scan = None,
        }
    }

    /// Notes a correlation row written for message `seq` under the exact id `exact`.
    pub(super) fn written(&mut self, seq: i64, exact: &str) {
        self.poll_scan();
        let above = self.highest.is_some_and(|highest| seq > highest);
        // A second row for the same message and id (a form of it) changes nothing.
        match self.call.get_mut(exact) {
            Some(entry) if *entry == Some(seq) => {}
            Some(entry) => *entry = None,
            None => {
                self.call.insert(exact.to_string(), above.then_some(seq));
            }
        }
        self.since_start = self.since_start.max(seq);
        if let Some(highest) = &mut self.highest {
            *highest = (*highest).max(seq);
        }
    }

    /// The only message a receipt quoting `id` can match, if this call's rows show it.
    pub(super) fn sole(&self, id: &str) -> Option<i64> {
        self.call.get(MessageIdKey::exact_of(id)).copied().flatten()
    }

    /// Forgets the call's ids (the bound stays).
    pub(super) fn end_call(&mut self) {
        self.call.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::FreshIds;

    #[test]
    fn an_id_correlated_once_above_every_row_is_sole() {
        let mut ids = FreshIds::known(10);
        ids.written(11, "abc");
        assert_eq!(ids.sole("abc"), Some(11));
        assert_eq!(
            ids.sole(" abc\0"),
            Some(11),
            "a receipt's id is trimmed as stored"
        );
        assert_eq!(ids.sole("ABC"), None, "only the exact id");
    }

    #[test]
    fn a_message_at_or_below_the_bound_is_never_sole() {
        let mut ids = FreshIds::known(10);
        ids.written(10, "a");
        ids.written(5, "b");
        assert_eq!(ids.sole("a"), None);
        assert_eq!(ids.sole("b"), None);
    }

    #[test]
    fn an_id_correlated_twice_in_a_call_is_not_sole() {
        let mut ids = FreshIds::known(0);
        ids.written(1, "x");
        ids.written(2, "x");
        assert_eq!(ids.sole("x"), None);
        // The same message under the same id again (another form): still sole.
        ids.written(3, "y");
        ids.written(3, "y");
        assert_eq!(ids.sole("y"), Some(3));
    }

    #[test]
    fn the_bound_rises_with_every_row_and_outlives_the_call() {
        let mut ids = FreshIds::known(0);
        ids.written(7, "x");
        ids.end_call();
        assert_eq!(ids.sole("x"), None);
        ids.written(6, "y");
        assert_eq!(ids.sole("y"), None, "row 7 was written before");
        ids.written(8, "z");
        assert_eq!(ids.sole("z"), Some(8));
    }

    #[test]
    fn nothing_is_sole_until_the_scan_lands_and_then_rows_since_count() {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut ids = FreshIds {
            highest: None,
            since_start: 0,
            scan: Some(rx),
            call: Default::default(),
        };
        ids.written(5, "a");
        assert_eq!(ids.sole("a"), None, "the bound is not known yet");
        // The read saw nothing above 3, but row 5 was written since the start.
        tx.send(3).unwrap();
        ids.end_call();
        ids.written(4, "b");
        assert_eq!(ids.sole("b"), None);
        ids.written(6, "c");
        assert_eq!(ids.sole("c"), Some(6));
    }
}
