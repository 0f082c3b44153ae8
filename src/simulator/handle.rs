//! [`SimulatorHandle`]: the running simulator as a test or the CLI sees it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::codec::CommandStatus;

use super::error::SimulatorError;
use super::faults::Faults;
use super::record::{ConnectionId, DeliverKind, Event, RecordSnapshot, SubmitRecord};
use super::registry::Delivery;
use super::shared::Shared;

/// A mobile-originated message to inject into a bound session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoMessage {
    /// The handset's number (deliver_sm source_addr).
    pub source_addr: String,
    /// The number the handset sent to (deliver_sm destination_addr).
    pub destination_addr: String,
    /// The message octets (short_message, data_coding 0).
    pub short_message: Vec<u8>,
    /// esm_class: 0 for a plain message, 0x40 (UDHI) when short_message starts with a UDH,
    /// e.g. one segment of a concatenated message.
    pub esm_class: u8,
}

/// Controls a running simulator. Dropping it stops the simulator without waiting;
/// [`SimulatorHandle::shutdown`] stops it and waits until every connection is closed.
#[derive(Debug)]
pub struct SimulatorHandle {
    pub(crate) local_addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) task: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replaces the fault switches; every later event sees the new ones.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimulatorError> {
        faults.validate()?;
        self.shared.set_faults(faults);
        Ok(())
    }

    /// A copy of everything recorded so far.
    pub fn record(&self) -> RecordSnapshot {
        self.shared.recorder.snapshot()
    }

    /// Every event from now on (bounded buffer: a slow reader sees `Lagged`, never blocks the
    /// server).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.recorder.subscribe()
    }

    /// Waits until `done` holds for the record, re-checking after every change; returns the
    /// snapshot that satisfied it. `what` names the wait in the timeout error.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&RecordSnapshot) -> bool,
    ) -> Result<RecordSnapshot, SimulatorError> {
        // Subscribe before the first check so that no change between check and wait is lost.
        let mut changes = self.shared.recorder.watch();
        let wait = async {
            loop {
                let snapshot = self.record();
                if done(&snapshot) {
                    return Ok(snapshot);
                }
                if changes.changed().await.is_err() {
                    return Err(SimulatorError::Timeout(format!("{what} (simulator gone)")));
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| Err(SimulatorError::Timeout(what.to_owned())))
    }

    /// Waits until at least `n` submit_sm have arrived; returns all of them.
    pub async fn wait_for_submits(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<SubmitRecord>, SimulatorError> {
        let what = format!("{n} submit_sm");
        let s = self
            .wait_until(&what, timeout, |s| s.submits.len() >= n)
            .await?;
        Ok(s.submits)
    }

    /// Waits until at least `n` successful binds have been answered.
    pub async fn wait_for_binds(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<RecordSnapshot, SimulatorError> {
        let what = format!("{n} successful binds");
        self.wait_until(&what, timeout, |s| {
            s.binds
                .iter()
                .filter(|b| b.command_status == CommandStatus::EsmeRok)
                .count()
                >= n
        })
        .await
    }

    /// Waits until at least `n` delivery receipts were acknowledged with ESME_ROK.
    pub async fn wait_for_acknowledged_receipts(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<RecordSnapshot, SimulatorError> {
        let what = format!("{n} acknowledged receipts");
        self.wait_until(&what, timeout, |s| s.acknowledged_receipts().len() >= n)
            .await
    }

    /// Sends `mo` as a deliver_sm to a bound receiver or transceiver session of `system_id`
    /// and waits up to `timeout` for its deliver_sm_resp; returns that response's
    /// command_status. The delivery is recorded either way.
    pub async fn inject_mo(
        &self,
        system_id: &str,
        mo: MoMessage,
        timeout: Duration,
    ) -> Result<CommandStatus, SimulatorError> {
        self.inject_mo_via(system_id, None, mo, timeout).await
    }

    /// Like [`SimulatorHandle::inject_mo`], on connection `via` when it is a receiving
    /// session of the account (as an SMSC spreading deliveries over an account's binds).
    pub async fn inject_mo_via(
        &self,
        system_id: &str,
        via: Option<ConnectionId>,
        mo: MoMessage,
        timeout: Duration,
    ) -> Result<CommandStatus, SimulatorError> {
        let (tx, rx) = oneshot::channel();
        let delivery = Delivery {
            account: system_id.to_owned(),
            source_addr: mo.source_addr,
            destination_addr: mo.destination_addr,
            short_message: mo.short_message,
            kind: DeliverKind::MobileOriginated,
            esm_class: mo.esm_class,
            answered: Some(tx),
        };
        self.shared
            .registry
            .route(via, delivery)
            .map_err(|_| SimulatorError::NotBound(system_id.to_owned()))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(_)) => Err(SimulatorError::SessionClosed),
            Err(_) => Err(SimulatorError::Timeout("deliver_sm_resp".into())),
        }
    }

    /// Stops accepting, closes every connection and waits for their tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
