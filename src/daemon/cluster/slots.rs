//! [`Slots`]: the task that decides which session slots run on this node, starts and stops
//! them, and (on a shared store) keeps their leases.
//!
//! One task owns every decision, so a SIGHUP reload, a lease turn and a stop never race:
//! they are commands it runs one after the other.
//!
//! A leased slot's life on this node:
//!
//! ```text
//!   free or expired ──acquire (epoch + 1, former holder's claims re-queued)──► held
//!   held ──renewed every lease/4──► held (send gate moved to sent + 3/4 lease)
//!   held ──renewal refused (taken over)──► gate closed, runner stopped   (lease_lost)
//!   held ──store unreachable until the gate closes──► runner stopped     (lease_lost)
//!   held ──more than this node's share, reload, SIGTERM──► graceful stop, then released
//! ```

use super::board::{Board, NodeView, SlotView};
use super::share::{fair_share, gate_deadline, RENEWALS_PER_LEASE};
use crate::config::ChannelConfig;
use crate::daemon::channels::{self, Channel, Plumbing, Slot};
use crate::daemon::gateway::Gateway;
use crate::daemon::store::postgres::{ClusterView, HeldSlot, Leases};
use crate::daemon::store::{rfc3339, Fence};
use crate::session::SendGate;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long stopping a lost slot's runner may take: its gate is closed, so its session
/// writes nothing and ends at once; the bound only guards against a stuck store call.
const LOST_STOP_BOUND: Duration = Duration::from_secs(5);

/// What the task is asked to do.
enum Command {
    /// Run `configs` from now on; the channels in `changed` changed (or went away): stop
    /// their runners first.
    Reconfigure {
        configs: Vec<Arc<ChannelConfig>>,
        changed: Vec<String>,
        done: oneshot::Sender<Vec<String>>,
    },
    /// Stop every runner and give every lease up.
    Stop { done: oneshot::Sender<()> },
}

/// The handle of the slot task.
pub(crate) struct Slots {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Slots").finish_non_exhaustive()
    }
}

/// A slot this node holds a lease on.
struct Held {
    fence: Fence,
    gate: SendGate,
}

impl Held {
    fn row(&self) -> HeldSlot {
        HeldSlot {
            channel: self.fence.channel.clone(),
            slot: self.fence.slot,
            epoch: self.fence.epoch,
        }
    }
}

/// The task's state.
struct Manager {
    gateway: Arc<Gateway>,
    plumbing: Plumbing,
    board: Arc<Board>,
    node: String,
    /// `None` on a single node.
    leases: Option<Arc<Leases>>,
    held: Vec<Held>,
    /// Whether the last lease turn failed (to log the change, not every turn).
    unreachable: bool,
}

impl Slots {
    /// One node: every slot of every configured channel runs here, unleased.
    pub(crate) fn local(
        gateway: Arc<Gateway>,
        plumbing: Plumbing,
        board: Arc<Board>,
        node: String,
    ) -> Slots {
        Slots::spawn(Manager {
            gateway,
            plumbing,
            board,
            node,
            leases: None,
            held: Vec::new(),
            unreachable: false,
        })
    }

    /// A node of a cluster: slots run where their leases are held.
    pub(crate) fn leased(
        gateway: Arc<Gateway>,
        plumbing: Plumbing,
        board: Arc<Board>,
        leases: Arc<Leases>,
    ) -> Slots {
        Slots::spawn(Manager {
            gateway,
            plumbing,
            board,
            node: leases.node().to_string(),
            leases: Some(leases),
            held: Vec::new(),
            unreachable: false,
        })
    }

    fn spawn(manager: Manager) -> Slots {
        let (commands, rx) = mpsc::channel(4);
        let task = tokio::spawn(manager.run(rx));
        Slots { commands, task }
    }

    /// Applies a new configuration: the runners of `changed` channels stop and start
    /// again with their new sections. Returns the channels whose slots (re)started here.
    pub(crate) async fn reconfigure(
        &self,
        configs: Vec<Arc<ChannelConfig>>,
        changed: Vec<String>,
    ) -> Vec<String> {
        let (done, rx) = oneshot::channel();
        let command = Command::Reconfigure {
            configs,
            changed,
            done,
        };
        if self.commands.send(command).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stops every runner gracefully (what they held goes back to the queue) and gives up
    /// every lease, so that other nodes take the slots over at once.
    pub(crate) async fn stop(self) {
        let (done, rx) = oneshot::channel();
        if self.commands.send(Command::Stop { done }).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

impl Manager {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let period = self.leases.as_ref().map_or(Duration::from_secs(3600), |l| {
            l.lease() / RENEWALS_PER_LEASE
        });
        if self.leases.is_none() {
            self.start_local();
        }
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Reconfigure { configs, changed, done }) => {
                        let started = self.reconfigure(configs, changed).await;
                        let _ = done.send(started);
                    }
                    Some(Command::Stop { done }) => {
                        self.stop_all().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop_all().await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    if let Some(leases) = self.leases.clone() {
                        self.turn(&leases).await;
                    }
                }
            }
        }
    }

    /// Starts every slot not running yet of every configured channel (single node).
    fn start_local(&mut self) -> Vec<String> {
        let mut started = Vec::new();
        for config in self.gateway.configs() {
            let running = self.gateway.running(&config.name);
            if !running.is_empty() {
                continue;
            }
            for slot in 0..u16::from(config.sessions) {
                let runner = channels::start(
                    config.clone(),
                    Slot::local(&config.name, slot),
                    &self.plumbing,
                );
                let _ = self.gateway.insert(runner);
            }
            started.push(config.name.clone());
        }
        self.publish_local();
        started
    }

    fn publish_local(&self) {
        let slots = self
            .gateway
            .configs()
            .iter()
            .flat_map(|c| {
                (0..u16::from(c.sessions)).map(|slot| SlotView {
                    channel: c.name.clone(),
                    slot,
                    node: Some(self.node.clone()),
                    epoch: 0,
                    expires: None,
                })
            })
            .collect();
        let me = NodeView {
            name: self.node.clone(),
            heartbeat: rfc3339(SystemTime::now()),
            alive: true,
        };
        self.board.publish(vec![me], slots);
    }

    async fn reconfigure(
        &mut self,
        configs: Vec<Arc<ChannelConfig>>,
        changed: Vec<String>,
    ) -> Vec<String> {
        // The runners of changed channels stop first; their leases stay held (a reload is
        // not a reason to hand a slot to another node), except where the slot no longer
        // exists.
        stop_all(self.gateway.take_named(&changed)).await;
        self.gateway.configure(configs.clone());
        if self.leases.is_none() {
            return self.start_local();
        }
        let mut keep = Vec::new();
        let mut restarted = Vec::new();
        for held in std::mem::take(&mut self.held) {
            let config = configs.iter().find(|c| c.name == held.fence.channel);
            match config {
                Some(c) if held.fence.slot < u16::from(c.sessions) => {
                    if changed.contains(&c.name) {
                        self.run_slot(c.clone(), &held);
                        if !restarted.contains(&c.name) {
                            restarted.push(c.name.clone());
                        }
                    }
                    keep.push(held);
                }
                _ => self.give_up(held, "the slot is no longer configured").await,
            }
        }
        self.held = keep;
        restarted
    }

    /// Starts the runner of a held slot.
    fn run_slot(&self, config: Arc<ChannelConfig>, held: &Held) {
        let slot = Slot {
            fence: held.fence.clone(),
            gate: held.gate.clone(),
        };
        let runner = channels::start(config, slot, &self.plumbing);
        if let Some(runner) = self.gateway.insert(runner) {
            // Not configured (a reload raced): nothing to run it for.
            tokio::spawn(runner.stop());
        }
    }

    /// One lease turn: heartbeat and renewals, then the spread of slots.
    async fn turn(&mut self, leases: &Arc<Leases>) {
        let sent = Instant::now();
        let rows: Vec<HeldSlot> = self.held.iter().map(Held::row).collect();
        match leases.turn(&rows).await {
            Ok((kept, view)) => {
                if self.unreachable {
                    self.unreachable = false;
                    tracing::info!(event = "leases_renewed", node = %self.node, "the store answers again; renewing leases");
                }
                let (still, lost): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
                    .into_iter()
                    .partition(|h| kept.contains(&h.row()));
                self.held = still;
                for h in &self.held {
                    h.gate.open_until(gate_deadline(sent, leases.lease()));
                }
                for h in lost {
                    self.lose(h, "another node took the slot over").await;
                }
                self.balance(leases, &view).await;
                self.publish(&view);
            }
            Err(e) => {
                if !self.unreachable {
                    self.unreachable = true;
                    tracing::warn!(event = "lease_renewal_failed", node = %self.node, error = %e, "cannot renew leases; each slot stops sending when its lease can no longer be trusted");
                }
                let now = Instant::now();
                let (open, closed): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
                    .into_iter()
                    .partition(|h| h.gate.is_open(now));
                self.held = open;
                for h in closed {
                    self.lose(h, "not renewed in time: the store does not answer")
                        .await;
                }
            }
        }
    }

    /// Takes free or expired slots up to this node's share of each channel, and gives up
    /// one slot per turn above it.
    async fn balance(&mut self, leases: &Arc<Leases>, view: &ClusterView) {
        let alive = view.alive();
        for config in self.gateway.configs() {
            let sessions = u16::from(config.sessions);
            let target = fair_share(sessions, alive);
            let mine = |held: &[Held]| {
                held.iter()
                    .filter(|h| h.fence.channel == config.name)
                    .count()
            };
            if mine(&self.held) > usize::from(target) {
                let at = self
                    .held
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.fence.channel == config.name)
                    .max_by_key(|(_, h)| h.fence.slot)
                    .map(|(i, _)| i);
                if let Some(at) = at {
                    let held = self.held.remove(at);
                    self.give_up(held, "more slots than this node's share")
                        .await;
                }
                continue;
            }
            for slot in 0..sessions {
                if mine(&self.held) >= usize::from(target) {
                    break;
                }
                let taken = self
                    .held
                    .iter()
                    .any(|h| h.fence.channel == config.name && h.fence.slot == slot)
                    || view
                        .leases
                        .iter()
                        .any(|l| l.channel == config.name && l.slot == slot && l.valid);
                if taken {
                    continue;
                }
                let sent = Instant::now();
                match leases.acquire(&config.name, slot).await {
                    Ok(Some(won)) => {
                        let gate = SendGate::closed();
                        gate.open_until(gate_deadline(sent, leases.lease()));
                        let held = Held {
                            fence: Fence {
                                channel: config.name.clone(),
                                slot,
                                epoch: won.epoch,
                            },
                            gate,
                        };
                        let from = won.from.filter(|n| *n != self.node);
                        tracing::info!(
                            event = "lease_acquired",
                            channel = %config.name,
                            slot,
                            epoch = won.epoch,
                            from = from.as_deref(),
                            requeued = won.requeued,
                            "session slot acquired{}",
                            from.as_deref().map(|f| format!(" (taken over from {f})")).unwrap_or_default()
                        );
                        self.run_slot(config.clone(), &held);
                        self.held.push(held);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(event = "lease_acquire_failed", channel = %config.name, slot, error = %e, "cannot acquire a session slot");
                        return;
                    }
                }
            }
        }
    }

    /// A lease that can no longer be trusted: close the gate (the session writes nothing
    /// more) and stop the runner.
    async fn lose(&mut self, held: Held, reason: &str) {
        held.gate.close();
        tracing::warn!(
            event = "lease_lost",
            channel = %held.fence.channel,
            slot = held.fence.slot,
            epoch = held.fence.epoch,
            reason,
            "session slot lost: {reason}; its session stopped sending"
        );
        if let Some(runner) = self.gateway.take_slot(&held.fence.channel, held.fence.slot) {
            let _ = tokio::time::timeout(LOST_STOP_BOUND, runner.stop()).await;
        }
    }

    /// Stops a held slot's runner gracefully (within a quarter lease; then its gate
    /// closes, which ends the session at once) and releases the lease.
    async fn give_up(&mut self, held: Held, reason: &str) {
        let Some(leases) = self.leases.clone() else {
            return;
        };
        if let Some(runner) = self.gateway.take_slot(&held.fence.channel, held.fence.slot) {
            let mut stopping = tokio::spawn(runner.stop());
            let bound = leases.lease() / RENEWALS_PER_LEASE;
            if tokio::time::timeout(bound, &mut stopping).await.is_err() {
                held.gate.close();
                let _ = tokio::time::timeout(LOST_STOP_BOUND, stopping).await;
            }
        }
        release(&leases, held, reason).await;
    }

    /// Stops every runner, then gives every lease up and signs the node off.
    async fn stop_all(&mut self) {
        stop_all(self.gateway.take_channels()).await;
        for held in std::mem::take(&mut self.held) {
            match &self.leases {
                Some(leases) => release(leases, held, "stopping").await,
                None => held.gate.close(),
            }
        }
        if let Some(leases) = &self.leases {
            if let Err(e) = leases.sign_off().await {
                tracing::warn!(event = "node_sign_off_failed", error = %e, "cannot mark this node stopped; a restart under its name waits one lease");
            }
        }
    }

    fn publish(&self, view: &ClusterView) {
        let nodes = view
            .nodes
            .iter()
            .map(|n| NodeView {
                name: n.name.clone(),
                heartbeat: rfc3339(n.heartbeat),
                alive: n.alive,
            })
            .collect();
        let mut slots = Vec::new();
        for c in self.gateway.configs() {
            for slot in 0..u16::from(c.sessions) {
                let row = view
                    .leases
                    .iter()
                    .find(|l| l.channel == c.name && l.slot == slot);
                let held = row.filter(|l| l.valid);
                slots.push(SlotView {
                    channel: c.name.clone(),
                    slot,
                    node: held.and_then(|l| l.node.clone()),
                    epoch: row.map_or(0, |l| l.epoch),
                    expires: held.map(|l| rfc3339(l.expires)),
                });
            }
        }
        self.board.publish(nodes, slots);
    }
}

/// Gives up a slot whose runner has stopped: its gate closes, its lease row is freed.
async fn release(leases: &Leases, held: Held, reason: &str) {
    held.gate.close();
    let released = leases.release(&held.row()).await;
    tracing::info!(
        event = "lease_released",
        channel = %held.fence.channel,
        slot = held.fence.slot,
        epoch = held.fence.epoch,
        reason,
        released = released.is_ok(),
        "session slot given up: {reason}"
    );
}

/// Stops runners concurrently; what they held goes back to the queue.
async fn stop_all(runners: Vec<Channel>) {
    let tasks: Vec<_> = runners
        .into_iter()
        .map(|c| tokio::spawn(c.stop()))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}
