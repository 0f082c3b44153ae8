//! Channel choice for an outbound message.
//!
//! A request that names a channel goes to that channel, bound or not: it waits in the store
//! until that channel can send it. Otherwise the router picks the channel whose
//! configuration segments the message, in this order of preference:
//!
//! * **Equals** are the channels that are bound with a bind that can transmit and have a
//!   free slot in their window right now. Among them the choice rotates (round-robin, one
//!   step per routed message), so that traffic spreads over every channel that can take it.
//! * Then bound transmitting channels with a full window, in configured order.
//! * Then channels that could transmit once bound, in configured order: the message is
//!   accepted and waits on disk.
//!
//! A message that does not name a channel is not tied to the one chosen here: whichever
//! channel able to transmit binds first sends it.
//!
//! Depends on: the engine's [`ChannelSnapshot`] only.

use super::engine::ChannelSnapshot;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why no channel could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The request named a channel that is not configured (a 400: the client's mistake).
    #[error("unknown channel {name:?}; configured: {}", known.join(", "))]
    UnknownChannel {
        /// The name asked for.
        name: String,
        /// The configured channels.
        known: Vec<String>,
    },
    /// The request named a channel whose bind can never submit (a 400).
    #[error("channel {0} binds as a receiver only and cannot send")]
    ReceiverOnly(String),
    /// No configured channel can ever transmit (a 503: the operator's to fix).
    #[error("no channel can send: {0}")]
    Unavailable(String),
}

/// Picks channels; holds only the round-robin position, so one is shared by every request.
#[derive(Debug, Default)]
pub(crate) struct Router {
    next: AtomicUsize,
}

impl Router {
    /// A router starting its rotation at the first channel.
    pub(crate) fn new() -> Self {
        Router::default()
    }

    /// The channel for a message. `explicit` is the request's `channel`.
    pub(crate) fn choose(
        &self,
        channels: &[ChannelSnapshot],
        explicit: Option<&str>,
    ) -> Result<String, RouteError> {
        if let Some(name) = explicit {
            let Some(channel) = channels.iter().find(|c| c.name == name) else {
                return Err(RouteError::UnknownChannel {
                    name: name.to_string(),
                    known: channels.iter().map(|c| c.name.clone()).collect(),
                });
            };
            if !channel.can_transmit {
                return Err(RouteError::ReceiverOnly(name.to_string()));
            }
            return Ok(name.to_string());
        }
        let equals: Vec<&ChannelSnapshot> = channels
            .iter()
            .filter(|c| c.can_send() && c.has_room())
            .collect();
        if !equals.is_empty() {
            let start = self.next.fetch_add(1, Ordering::Relaxed) % equals.len();
            return Ok(equals[start].name.clone());
        }
        if let Some(full) = channels.iter().find(|c| c.can_send()) {
            return Ok(full.name.clone());
        }
        if let Some(later) = channels.iter().find(|c| c.can_transmit) {
            return Ok(later.name.clone());
        }
        let reasons: Vec<String> = channels
            .iter()
            .map(|c| format!("{}: {}", c.name, why_not(c)))
            .collect();
        Err(RouteError::Unavailable(if reasons.is_empty() {
            "no channel is configured".to_string()
        } else {
            reasons.join("; ")
        }))
    }
}

/// Why a channel is not a candidate, in a few words.
fn why_not(channel: &ChannelSnapshot) -> String {
    if !channel.bound {
        match &channel.last_error {
            Some(e) => format!("{} (last error {}: {})", channel.state, e.code, e.reason),
            None => channel.state.to_string(),
        }
    } else if !channel.can_transmit {
        "bound as a receiver only".to_string()
    } else {
        "ready".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::engine::{ChannelCounters, ChannelError};
    use crate::supervisor::ChannelState;

    fn channel(name: &str, bound: bool, transmit: bool, in_use: u32) -> ChannelSnapshot {
        ChannelSnapshot {
            name: name.into(),
            state: if bound {
                ChannelState::Bound
            } else {
                ChannelState::Connecting
            }
            .into(),
            bound,
            can_transmit: transmit,
            can_receive: true,
            last_error: None,
            counters: ChannelCounters {
                window_in_use: in_use,
                window_size: 2,
                ..ChannelCounters::default()
            },
            ..ChannelSnapshot::default()
        }
    }

    #[test]
    fn an_explicit_channel_is_taken_bound_or_not() {
        let r = Router::new();
        let chans = [channel("a", true, true, 0), channel("b", false, true, 0)];
        assert_eq!(r.choose(&chans, Some("a")).unwrap(), "a");
        assert_eq!(r.choose(&chans, Some("b")).unwrap(), "b");
        let err = r.choose(&chans, Some("c")).unwrap_err();
        assert_eq!(err.to_string(), "unknown channel \"c\"; configured: a, b");
        let rx = [channel("rx", true, false, 0)];
        assert!(matches!(
            r.choose(&rx, Some("rx")),
            Err(RouteError::ReceiverOnly(_))
        ));
    }

    #[test]
    fn round_robin_among_channels_with_room() {
        let r = Router::new();
        let chans = [
            channel("a", true, true, 0),
            channel("down", false, true, 0),
            channel("rx", true, false, 0),
            channel("b", true, true, 1),
            channel("full", true, true, 2),
        ];
        let firsts: Vec<String> = (0..4).map(|_| r.choose(&chans, None).unwrap()).collect();
        assert_eq!(firsts, ["a", "b", "a", "b"]);
    }

    #[test]
    fn full_windows_then_unbound_channels_in_configured_order() {
        let r = Router::new();
        let chans = [channel("a", true, true, 2), channel("b", true, true, 2)];
        for _ in 0..3 {
            assert_eq!(r.choose(&chans, None).unwrap(), "a");
        }
        let chans = [
            channel("rx", true, false, 0),
            channel("down", false, true, 0),
        ];
        assert_eq!(r.choose(&chans, None).unwrap(), "down");
    }

    #[test]
    fn no_channel_able_to_transmit_says_why() {
        let r = Router::new();
        let mut rx = channel("a", false, false, 0);
        rx.last_error = Some(ChannelError {
            code: 43010,
            reason: "bind refused".into(),
        });
        let err = r.choose(&[rx], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no channel can send: a: connecting (last error 43010: bind refused)"
        );
        assert!(matches!(
            r.choose(&[], None),
            Err(RouteError::Unavailable(_))
        ));
    }
}
