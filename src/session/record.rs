//! [`RecordWindow`]: how many submits may be out of the session's hands, written to the SMSC,
//! before the layer above has durably recorded what became of them.
//!
//! The SMPP window bounds submits that wait for their submit_sm_resp. A layer that keeps
//! every message in a store and answers for it after a crash needs a second bound: a message
//! written to the SMSC whose outcome the store has not committed is sent again after a
//! crash, so the SMSC may get it twice. The session's window alone does not bound those: a
//! response frees its window place at once, while its outcome may still wait for the
//! store's next commit.
//!
//! A record window of `n` places, shared by the sessions of one channel slot, makes "written
//! and not yet recorded" at most `n`: the session takes a [`RecordPlace`] right before it
//! writes a submit_sm for the first time; the place travels with the message (through
//! retries, a lost link and the hand-back in [`crate::session::SessionEnd::unsent`]) up to
//! the layer above in its outcome, which drops it once that outcome is durable. With `n`
//! equal to the SMPP window, a crash makes the SMSC get at most a window's worth twice.
//! Dropping a place without recording (the layer above gave up the slot) frees it too.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The places of one channel slot. Cloning shares them.
#[derive(Debug, Clone)]
pub struct RecordWindow {
    places: Arc<Semaphore>,
}

/// One written submit whose outcome is not recorded yet; dropping it frees the place.
#[derive(Debug)]
pub struct RecordPlace {
    _permit: OwnedSemaphorePermit,
}

impl RecordWindow {
    /// A record window of `places` places (at least one).
    pub fn new(places: usize) -> RecordWindow {
        RecordWindow {
            places: Arc::new(Semaphore::new(places.max(1))),
        }
    }

    /// A place if one is free now.
    pub fn try_take(&self) -> Option<RecordPlace> {
        self.places
            .clone()
            .try_acquire_owned()
            .ok()
            .map(|permit| RecordPlace { _permit: permit })
    }

    /// Completes once a place is free (without taking it: [`RecordWindow::try_take`] does).
    pub async fn freed(&self) {
        // The semaphore is never closed; a closed one would end the wait as well.
        let _ = self.places.acquire().await;
    }

    /// Places free now.
    pub fn free(&self) -> usize {
        self.places.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn places_come_back_when_dropped() {
        let window = RecordWindow::new(2);
        let a = window.try_take().expect("first place");
        let _b = window.try_take().expect("second place");
        assert!(window.try_take().is_none());
        assert_eq!(window.free(), 0);
        drop(a);
        window.freed().await;
        assert_eq!(window.free(), 1);
        assert!(window.try_take().is_some());
    }

    #[test]
    fn a_window_has_at_least_one_place() {
        assert_eq!(RecordWindow::new(0).free(), 1);
    }
}
