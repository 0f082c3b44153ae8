//! Which connections are bound, as whom, and how to hand them a deliver_sm.
//!
//! Receipts and injected MO messages are routed by system_id, the way an SMSC routes to
//! whichever receiver session of an account is up. Connections register here on a successful
//! bind and leave when they close. Receipts for an account with no receiver bound are queued
//! and handed to the next receiver that binds, as a real SMSC stores and retries them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::record::{BindMode, ConnectionId, DeliverKind};

/// A deliver_sm for a connection to send, described without the codec so that routing stays
/// independent of the wire format.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The system_id whose receivers it is for.
    pub account: String,
    /// source_addr (the handset for MO; the original destination for receipts).
    pub source_addr: String,
    /// destination_addr.
    pub destination_addr: String,
    /// short_message octets.
    pub short_message: Vec<u8>,
    /// Receipt (esm_class 0x04 plus TLVs) or MO.
    pub kind: DeliverKind,
    /// esm_class bits of an MO message (UDHI for a segment); receipts set their own.
    pub esm_class: u8,
    /// Told the deliver_sm_resp command_status, or dropped if the connection closes first.
    pub answered: Option<oneshot::Sender<crate::codec::CommandStatus>>,
}

impl Delivery {
    /// A copy without the reply channel, for re-queueing an unacknowledged receipt.
    pub(crate) fn resend(&self) -> Delivery {
        Delivery {
            account: self.account.clone(),
            source_addr: self.source_addr.clone(),
            destination_addr: self.destination_addr.clone(),
            short_message: self.short_message.clone(),
            kind: self.kind.clone(),
            esm_class: self.esm_class,
            answered: None,
        }
    }
}

#[derive(Debug)]
struct Bound {
    system_id: String,
    mode: BindMode,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

#[derive(Debug, Default)]
struct Table {
    bound: BTreeMap<ConnectionId, Bound>,
    queued: HashMap<String, Vec<Delivery>>,
}

/// The table of bound sessions and of receipts waiting for one.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    table: Mutex<Table>,
}

impl Registry {
    /// Adds a bound session; a receiving one first gets the receipts queued for its account.
    pub(crate) fn register(
        &self,
        id: ConnectionId,
        system_id: &str,
        mode: BindMode,
        deliveries: mpsc::UnboundedSender<Delivery>,
    ) {
        let mut t = self.lock();
        if mode.receives() {
            for d in t.queued.remove(system_id).unwrap_or_default() {
                // The receiver was created by the caller just now; a send cannot fail unless
                // the connection is already gone, and then the receipt is lost with it.
                let _ = deliveries.send(d);
            }
        }
        t.bound.insert(
            id,
            Bound {
                system_id: system_id.to_owned(),
                mode,
                deliveries,
            },
        );
    }

    /// Removes a session (unbind or close).
    pub(crate) fn unregister(&self, id: ConnectionId) {
        self.lock().bound.remove(&id);
    }

    /// Hands `delivery` to a receiving session of its account, preferring `preferred` (the
    /// connection a submit came in on), else the oldest one. Gives the delivery back when no
    /// such session is bound (boxed: it is large and this is the rare path).
    pub(crate) fn route(
        &self,
        preferred: Option<ConnectionId>,
        delivery: Delivery,
    ) -> Result<ConnectionId, Box<Delivery>> {
        Self::route_in(&self.lock(), preferred, delivery)
    }

    /// Like [`Registry::route`], but queues the delivery for the next receiver of the account
    /// when none is bound.
    pub(crate) fn route_or_queue(&self, preferred: Option<ConnectionId>, delivery: Delivery) {
        let mut t = self.lock();
        if let Err(d) = Self::route_in(&t, preferred, delivery) {
            t.queued.entry(d.account.clone()).or_default().push(*d);
        }
    }

    /// Hands a delivery built by `make` (given the session's system_id) to every bound
    /// session that receives; returns how many were handed one.
    pub(crate) fn to_each_receiver(&self, mut make: impl FnMut(&str) -> Delivery) -> usize {
        let t = self.lock();
        let mut sent = 0;
        for b in t.bound.values() {
            if b.mode.receives() && b.deliveries.send(make(&b.system_id)).is_ok() {
                sent += 1;
            }
        }
        sent
    }

    fn route_in(
        t: &Table,
        preferred: Option<ConnectionId>,
        delivery: Delivery,
    ) -> Result<ConnectionId, Box<Delivery>> {
        let system_id = delivery.account.as_str();
        let eligible = |(_, b): &(&ConnectionId, &Bound)| {
            b.system_id == system_id && b.mode.receives() && !b.deliveries.is_closed()
        };
        let target = preferred
            .and_then(|p| t.bound.get_key_value(&p).filter(eligible))
            .or_else(|| t.bound.iter().find(eligible));
        match target {
            Some((id, b)) => match b.deliveries.send(delivery) {
                Ok(()) => Ok(*id),
                Err(mpsc::error::SendError(d)) => Err(Box::new(d)),
            },
            None => Err(Box::new(delivery)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> Delivery {
        Delivery {
            account: "esme".into(),
            source_addr: "2".into(),
            destination_addr: "1".into(),
            short_message: b"id:1".to_vec(),
            kind: DeliverKind::Receipt {
                message_id: "1".into(),
            },
            esm_class: 0,
            answered: None,
        }
    }

    #[test]
    fn receipts_wait_for_a_receiver_of_their_account() {
        let r = Registry::default();
        let (tx_t, mut rx_t) = mpsc::unbounded_channel();
        r.register(1, "esme", BindMode::Transmitter, tx_t);
        r.route_or_queue(Some(1), receipt());
        assert!(
            rx_t.try_recv().is_err(),
            "a transmitter never gets deliver_sm"
        );

        let (tx_other, mut rx_other) = mpsc::unbounded_channel();
        r.register(2, "other", BindMode::Receiver, tx_other);
        assert!(
            rx_other.try_recv().is_err(),
            "receipts stay within the account"
        );

        let (tx_r, mut rx_r) = mpsc::unbounded_channel();
        r.register(3, "esme", BindMode::Receiver, tx_r);
        assert!(rx_r.try_recv().is_ok());
        assert!(r.route(None, receipt()).is_ok());
        r.unregister(3);
        assert!(r.route(None, receipt()).is_err());
    }

    #[test]
    fn each_receiving_session_gets_its_own_delivery() {
        let r = Registry::default();
        let (tx_t, mut rx_t) = mpsc::unbounded_channel();
        r.register(1, "esme", BindMode::Transmitter, tx_t);
        let (tx_a, mut rx_a) = mpsc::unbounded_channel();
        r.register(2, "esme", BindMode::Transceiver, tx_a);
        let (tx_b, mut rx_b) = mpsc::unbounded_channel();
        r.register(3, "other", BindMode::Receiver, tx_b);
        let (tx_gone, rx_gone) = mpsc::unbounded_channel();
        r.register(4, "esme", BindMode::Receiver, tx_gone);
        drop(rx_gone);
        let mut n = 0;
        let sent = r.to_each_receiver(|system_id| {
            n += 1;
            Delivery {
                account: system_id.to_owned(),
                short_message: format!("mo {n}").into_bytes(),
                kind: DeliverKind::MobileOriginated,
                ..receipt()
            }
        });
        assert_eq!(
            sent, 2,
            "the transceiver and the receiver, not the closed one"
        );
        assert!(rx_t.try_recv().is_err(), "a transmitter gets nothing");
        let a = rx_a.try_recv().unwrap();
        let b = rx_b.try_recv().unwrap();
        assert_eq!((a.account.as_str(), b.account.as_str()), ("esme", "other"));
        assert_ne!(a.short_message, b.short_message);
    }
}
