//! [`Gateway`]: the running channels, seen as the [`Engine`] the dispatcher and the API ask
//! for status and configuration. Messages do not pass through here: they go through the
//! store (see [`super::dispatch`] and [`super::feeder`]).

use std::sync::{Arc, PoisonError, RwLock};

use super::channels::Channel;
use super::engine::{ChannelCounters, ChannelError, ChannelPhase, ChannelSnapshot, Engine};
use crate::config::ChannelConfig;
use crate::supervisor::ChannelState;

/// One configured channel and the session slots of it that run on this node.
struct Entry {
    config: Arc<ChannelConfig>,
    /// In slot order.
    slots: Vec<Channel>,
}

/// The configured channels and their running session slots, seen as an [`Engine`].
pub(crate) struct Gateway {
    channels: RwLock<Vec<Entry>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway over `configs` (in configured order), with no slot running yet.
    pub(crate) fn new(configs: Vec<Arc<ChannelConfig>>) -> Arc<Gateway> {
        let gateway = Arc::new(Gateway {
            channels: RwLock::new(Vec::new()),
        });
        gateway.configure(configs);
        gateway
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Entry>> {
        self.channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `configs` the configured channels, in that order. Slots of a channel that
    /// stays keep running; the caller stops the slots of changed and removed channels
    /// first ([`Gateway::take_named`]).
    pub(crate) fn configure(&self, configs: Vec<Arc<ChannelConfig>>) {
        let mut guard = self.write();
        let mut old = std::mem::take(&mut *guard);
        *guard = configs
            .into_iter()
            .map(|config| {
                let slots = old
                    .iter_mut()
                    .find(|e| e.config.name == config.name)
                    .map(|e| std::mem::take(&mut e.slots))
                    .unwrap_or_default();
                Entry { config, slots }
            })
            .collect();
    }

    /// Takes every running slot out (to stop them), leaving the channels configured.
    pub(crate) fn take_channels(&self) -> Vec<Channel> {
        self.write()
            .iter_mut()
            .flat_map(|e| std::mem::take(&mut e.slots))
            .collect()
    }

    /// Takes the running slots of the channels named in `names` out.
    pub(crate) fn take_named(&self, names: &[String]) -> Vec<Channel> {
        self.write()
            .iter_mut()
            .filter(|e| names.contains(&e.config.name))
            .flat_map(|e| std::mem::take(&mut e.slots))
            .collect()
    }

    /// Takes slot `slot` of `channel` out, if it runs here.
    pub(crate) fn take_slot(&self, channel: &str, slot: u16) -> Option<Channel> {
        let mut guard = self.write();
        let entry = guard.iter_mut().find(|e| e.config.name == channel)?;
        let at = entry.slots.iter().position(|c| c.slot.fence.slot == slot)?;
        Some(entry.slots.remove(at))
    }

    /// Puts a running slot in; hands it back when its channel is not configured.
    pub(crate) fn insert(&self, channel: Channel) -> Option<Channel> {
        let mut guard = self.write();
        let Some(entry) = guard
            .iter_mut()
            .find(|e| e.config.name == channel.config.name)
        else {
            return Some(channel);
        };
        entry
            .slots
            .retain(|c| c.slot.fence.slot != channel.slot.fence.slot);
        entry.slots.push(channel);
        entry.slots.sort_by_key(|c| c.slot.fence.slot);
        None
    }

    /// The configured channels, in order.
    pub(crate) fn configs(&self) -> Vec<Arc<ChannelConfig>> {
        self.read().iter().map(|e| e.config.clone()).collect()
    }

    /// The slots of `channel` running here, with the fences they run under.
    pub(crate) fn running(&self, channel: &str) -> Vec<super::store::Fence> {
        self.read()
            .iter()
            .find(|e| e.config.name == channel)
            .map(|e| e.slots.iter().map(|c| c.slot.fence.clone()).collect())
            .unwrap_or_default()
    }

    /// One-line summary for systemd's STATUS: how many channels are bound.
    pub(crate) fn summary(&self) -> String {
        let channels = self.read();
        let states = |e: &Entry| {
            e.slots
                .iter()
                .map(|c| c.status.borrow().state)
                .collect::<Vec<_>>()
        };
        let bound = channels
            .iter()
            .filter(|e| states(e).contains(&ChannelState::Bound))
            .count();
        let failed = channels
            .iter()
            .filter(|e| states(e).contains(&ChannelState::Failed))
            .count();
        let mut s = format!("{bound} of {} channels bound", channels.len());
        if failed > 0 {
            s.push_str(&format!(", {failed} failed (see logs: 43010)"));
        }
        s
    }

    /// A channel as the API shows it: its running slots summed up (bound when any is);
    /// `standby` when none runs here (on a cluster, other nodes hold its slots).
    fn entry_status(entry: &Entry) -> ChannelSnapshot {
        let mut slots = entry.slots.iter().map(Self::channel_status);
        let Some(mut total) = slots.next() else {
            let bind = entry.config.session.bind_mode();
            return ChannelSnapshot {
                name: entry.config.name.clone(),
                state: ChannelPhase::Standby,
                can_transmit: bind.can_submit(),
                can_receive: bind.can_receive(),
                counters: ChannelCounters {
                    window_size: 0,
                    ..ChannelCounters::default()
                },
                failures: crate::supervisor::FailureCounts::default().iter().collect(),
                ..ChannelSnapshot::default()
            };
        };
        for s in slots {
            if s.bound && !total.bound {
                total.state = s.state;
            }
            total.bound |= s.bound;
            total.last_error = total.last_error.or(s.last_error);
            total.seconds_since_bind = match (total.seconds_since_bind, s.seconds_since_bind) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for (code, n) in s.failures {
                if let Some(t) = total.failures.iter_mut().find(|(c, _)| *c == code) {
                    t.1 += n;
                }
            }
            let (t, c) = (&mut total.counters, s.counters);
            t.submitted += c.submitted;
            t.acknowledged += c.acknowledged;
            t.failed += c.failed;
            t.resent += c.resent;
            t.received += c.received;
            t.receipts += c.receipts;
            t.window_in_use += c.window_in_use;
            t.window_size += c.window_size;
        }
        total
    }

    fn channel_status(channel: &Channel) -> ChannelSnapshot {
        let status = channel.status.borrow().clone();
        let counters = channel.counters();
        let bind = channel.config.session.bind_mode();
        ChannelSnapshot {
            seconds_since_bind: status.since_last_bind().map(|d| d.as_secs()),
            failures: status.failures.iter().collect(),
            certificates: channel.certificates().snapshot(),
            name: channel.config.name.clone(),
            state: ChannelPhase::Local(status.state),
            bound: status.state == ChannelState::Bound,
            can_transmit: bind.can_submit(),
            can_receive: bind.can_receive(),
            last_error: status.last_error.map(|e| ChannelError {
                code: e.code,
                reason: format!("{}: {}", e.reason, e.message),
            }),
            counters: ChannelCounters {
                submitted: counters.submitted,
                acknowledged: counters.acknowledged,
                failed: counters.failed,
                resent: counters.resent,
                received: counters.received,
                receipts: counters.receipts,
                window_in_use: u32::try_from(counters.in_flight).unwrap_or(u32::MAX),
                window_size: u32::try_from(channel.config.session.window_size())
                    .unwrap_or(u32::MAX),
            },
        }
    }
}

impl Engine for Gateway {
    fn channels(&self) -> Vec<ChannelSnapshot> {
        self.read().iter().map(Self::entry_status).collect()
    }

    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>> {
        let channels = self.read();
        match channel {
            Some(name) => channels.iter().find(|e| e.config.name == name),
            None => channels.first(),
        }
        .map(|e| Arc::clone(&e.config))
    }
}

#[cfg(test)]
mod tests;
