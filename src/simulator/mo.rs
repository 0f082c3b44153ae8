//! Mobile-originated traffic on a timer (`smppd simulate --mo-every-ms`): a steady stream of
//! inbound messages for a client to pass on, each text unique so that a test can find every
//! one at the far end.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::record::DeliverKind;
use super::registry::Delivery;
use super::shared::Shared;

/// The handset number MO messages come from.
pub const MO_SOURCE_ADDR: &str = "447700900999";
/// The short code they are sent to.
pub const MO_DESTINATION_ADDR: &str = "12345";

/// The texts of one simulator: `mo <tag>-<n>`, where the tag (the start time in
/// milliseconds, hex) tells simulators apart and `n` counts from 1.
#[derive(Debug)]
pub(crate) struct MoTexts {
    tag: String,
    sent: u64,
}

impl MoTexts {
    pub(crate) fn new(started: SystemTime) -> MoTexts {
        let ms = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        MoTexts {
            tag: format!("{ms:x}"),
            sent: 0,
        }
    }

    /// The next text.
    pub(crate) fn next_text(&mut self) -> String {
        self.sent += 1;
        format!("mo {}-{}", self.tag, self.sent)
    }
}

/// Every `interval`, one MO deliver_sm to each bound receiver and transceiver, until `stop`.
pub(crate) async fn run(shared: Arc<Shared>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut texts = MoTexts::new(SystemTime::now());
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        shared.registry.to_each_receiver(|system_id| Delivery {
            account: system_id.to_owned(),
            source_addr: MO_SOURCE_ADDR.to_owned(),
            destination_addr: MO_DESTINATION_ADDR.to_owned(),
            short_message: texts.next_text().into_bytes(),
            kind: DeliverKind::MobileOriginated,
            esm_class: 0,
            answered: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_unique_within_and_across_simulators() {
        let start = UNIX_EPOCH + Duration::from_millis(0x1234);
        let mut a = MoTexts::new(start);
        assert_eq!(a.next_text(), "mo 1234-1");
        assert_eq!(a.next_text(), "mo 1234-2");
        let mut b = MoTexts::new(start + Duration::from_millis(1));
        assert_eq!(b.next_text(), "mo 1235-1");
    }
}
