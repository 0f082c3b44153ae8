//! Which connections are bound, as whom, and how to hand them a deliver_sm.
//!
//! Receipts and injected MO messages are routed by system_id, the way an SMSC routes to
//! whichever receiver session of an account is up; connections register here on a successful
//! bind and leave when they close.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::record::{BindMode, ConnectionId, DeliverKind};

/// A deliver_sm for a connection to send, described without the codec so that the routing
/// code stays independent of the wire format.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// source_addr (the handset for MO; the original destination for receipts).
    pub source_addr: String,
    /// destination_addr.
    pub destination_addr: String,
    /// short_message octets.
    pub short_message: Vec<u8>,
    /// Receipt (esm_class 0x04 plus TLVs) or MO.
    pub kind: DeliverKind,
    /// Told the deliver_sm_resp command_status, or dropped if the connection closes first.
    pub answered: Option<oneshot::Sender<u32>>,
}

#[derive(Debug)]
struct Bound {
    system_id: String,
    mode: BindMode,
    deliveries: mpsc::UnboundedSender<Delivery>,
}

/// The table of bound sessions.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    bound: Mutex<BTreeMap<ConnectionId, Bound>>,
}

impl Registry {
    pub(crate) fn register(
        &self,
        id: ConnectionId,
        system_id: &str,
        mode: BindMode,
        deliveries: mpsc::UnboundedSender<Delivery>,
    ) {
        self.lock().insert(
            id,
            Bound {
                system_id: system_id.to_owned(),
                mode,
                deliveries,
            },
        );
    }

    pub(crate) fn unregister(&self, id: ConnectionId) {
        self.lock().remove(&id);
    }

    /// Hands `delivery` to a receiving session of `system_id`, preferring `preferred` (the
    /// connection a submit came in on, when it is a transceiver), else the oldest one.
    /// Gives the delivery back when no such session is bound.
    pub(crate) fn route(
        &self,
        system_id: &str,
        preferred: Option<ConnectionId>,
        delivery: Delivery,
    ) -> Result<ConnectionId, Delivery> {
        let table = self.lock();
        let eligible = |(_, b): &(&ConnectionId, &Bound)| {
            b.system_id == system_id && b.mode.receives() && !b.deliveries.is_closed()
        };
        let target = preferred
            .and_then(|p| table.get_key_value(&p).filter(eligible))
            .or_else(|| table.iter().find(eligible));
        match target {
            Some((id, b)) => match b.deliveries.send(delivery) {
                Ok(()) => Ok(*id),
                Err(mpsc::error::SendError(d)) => Err(d),
            },
            None => Err(delivery),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConnectionId, Bound>> {
        self.bound.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
