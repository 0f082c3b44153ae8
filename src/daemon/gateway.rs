//! [`Gateway`]: the running channels, seen as the [`Engine`] the dispatcher and the API ask
//! for status and configuration. Messages do not pass through here: they go through the
//! store (see [`super::dispatch`] and [`super::feeder`]).

use std::sync::{Arc, PoisonError, RwLock};

use super::channels::Channel;
use super::engine::{ChannelCounters, ChannelError, ChannelStatus, Engine};
use crate::config::ChannelConfig;
use crate::supervisor::ChannelState;

/// The running channels, seen as an [`Engine`].
pub struct Gateway {
    channels: RwLock<Vec<Channel>>,
}

impl Gateway {
    /// A gateway over `channels` (in configured order).
    pub fn new(channels: Vec<Channel>) -> Arc<Gateway> {
        Arc::new(Gateway {
            channels: RwLock::new(channels),
        })
    }

    pub(super) fn read_channels(&self) -> std::sync::RwLockReadGuard<'_, Vec<Channel>> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes every channel out (to stop them), leaving none.
    pub fn take_channels(&self) -> Vec<Channel> {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *guard)
    }

    /// Takes the channels named in `names` out, leaving the others running.
    pub fn take_named(&self, names: &[String]) -> Vec<Channel> {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (taken, kept) = std::mem::take(&mut *guard)
            .into_iter()
            .partition(|c| names.contains(&c.config.name));
        *guard = kept;
        taken
    }

    /// Puts `channel` in, replacing one of the same name, keeping `order` (channel names in
    /// configured order) for the result.
    pub fn insert(&self, channel: Channel, order: &[String]) {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        guard.retain(|c| c.config.name != channel.config.name);
        guard.push(channel);
        guard.sort_by_key(|c| order.iter().position(|n| *n == c.config.name));
    }

    /// The configurations of the running channels, in order.
    pub fn configs(&self) -> Vec<ChannelConfig> {
        self.read_channels()
            .iter()
            .map(|c| ChannelConfig::clone(&c.config))
            .collect()
    }

    /// One-line summary for systemd's STATUS: how many channels are bound.
    pub fn summary(&self) -> String {
        let channels = self.read_channels();
        let bound = channels
            .iter()
            .filter(|c| c.status.borrow().state == ChannelState::Bound)
            .count();
        let failed = channels
            .iter()
            .filter(|c| c.status.borrow().state == ChannelState::Failed)
            .count();
        let mut s = format!("{bound} of {} channels bound", channels.len());
        if failed > 0 {
            s.push_str(&format!(", {failed} failed (see logs: 43010)"));
        }
        s
    }

    fn channel_status(channel: &Channel) -> ChannelStatus {
        let status = channel.status.borrow().clone();
        let counters = channel.counters();
        let bind = channel.config.bind_mode;
        let state = match status.state {
            ChannelState::Starting => "starting",
            ChannelState::Connecting => "connecting",
            ChannelState::Binding => "binding",
            ChannelState::Bound => "bound",
            ChannelState::BackingOff { .. } => "backing off",
            ChannelState::Stopped => "stopped",
            ChannelState::Failed => "failed",
        };
        ChannelStatus {
            seconds_since_bind: status.since_last_bind().map(|d| d.as_secs()),
            failures: status.failures.iter().collect(),
            certificates: channel.certificates().snapshot(),
            name: channel.config.name.clone(),
            state: state.to_string(),
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
                window_size: u32::from(channel.config.window_size),
            },
        }
    }
}

impl Engine for Gateway {
    fn channels(&self) -> Vec<ChannelStatus> {
        self.read_channels()
            .iter()
            .map(Self::channel_status)
            .collect()
    }

    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>> {
        let channels = self.read_channels();
        match channel {
            Some(name) => channels.iter().find(|c| c.config.name == name),
            None => channels.first(),
        }
        .map(|c| Arc::clone(&c.config))
    }
}
