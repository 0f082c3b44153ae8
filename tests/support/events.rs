//! Splits a session's single ordered event stream into the two streams tests read apart:
//! submit outcomes and inbound messages (the order within each is kept).

use smppd::session::{Inbound, SessionEvent, SubmitOutcome};
use tokio::sync::mpsc;

/// The sender a session or channel reports to, and the two receivers the test reads.
pub fn split_events() -> (
    mpsc::UnboundedSender<SessionEvent>,
    mpsc::UnboundedReceiver<SubmitOutcome>,
    mpsc::UnboundedReceiver<Inbound>,
) {
    let (events, mut rx) = mpsc::unbounded_channel();
    let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
    let (inbound_tx, inbound) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                SessionEvent::Outcome(o) => {
                    let _ = outcomes_tx.send(o);
                }
                SessionEvent::Inbound(i) => {
                    let _ = inbound_tx.send(i);
                }
            }
        }
    });
    (events, outcomes, inbound)
}
