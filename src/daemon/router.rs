//! Channel choice for an outbound message.
//!
//! A request that names a channel goes to that channel or nowhere. Otherwise the candidates
//! are the channels that are bound with a bind that can transmit, in configured order, and:
//!
//! * **Equals** are the candidates whose submit window has a free slot right now. Among
//!   them the choice rotates (round-robin, one step per routed message), so that traffic
//!   spreads over every channel that can take it at once.
//! * Candidates whose window is full come after the equals, in configured order: the first
//!   of them is the "first bound channel able to transmit" when none has room, and its own
//!   queue absorbs the burst.
//!
//! The caller tries the candidates in the returned order until one accepts the message.
//!
//! Depends on: the engine's [`ChannelStatus`] only.

use super::engine::ChannelStatus;
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
    /// The named channel, or every channel, cannot transmit now (a 503).
    #[error("{0}")]
    Unavailable(String),
}

/// Picks channels; holds only the round-robin position, so one is shared by every request.
#[derive(Debug, Default)]
pub struct Router {
    next: AtomicUsize,
}

impl Router {
    /// A router starting its rotation at the first channel.
    pub fn new() -> Self {
        Router::default()
    }

    /// The channels to try for a message, best first. `explicit` is the request's `channel`.
    pub fn candidates(
        &self,
        channels: &[ChannelStatus],
        explicit: Option<&str>,
    ) -> Result<Vec<String>, RouteError> {
        if let Some(name) = explicit {
            let Some(channel) = channels.iter().find(|c| c.name == name) else {
                return Err(RouteError::UnknownChannel {
                    name: name.to_string(),
                    known: channels.iter().map(|c| c.name.clone()).collect(),
                });
            };
            if !channel.can_send() {
                return Err(RouteError::Unavailable(format!(
                    "channel {name} cannot send now: {}",
                    why_not(channel)
                )));
            }
            return Ok(vec![name.to_string()]);
        }
        let (equals, full): (Vec<&ChannelStatus>, Vec<&ChannelStatus>) = channels
            .iter()
            .filter(|c| c.can_send())
            .partition(|c| c.has_room());
        if equals.is_empty() && full.is_empty() {
            let reasons: Vec<String> = channels
                .iter()
                .map(|c| format!("{}: {}", c.name, why_not(c)))
                .collect();
            return Err(RouteError::Unavailable(if reasons.is_empty() {
                "no channel is configured".to_string()
            } else {
                format!("no channel can send now ({})", reasons.join("; "))
            }));
        }
        let mut order = Vec::with_capacity(equals.len() + full.len());
        if !equals.is_empty() {
            let start = self.next.fetch_add(1, Ordering::Relaxed) % equals.len();
            order.extend(
                equals
                    .iter()
                    .cycle()
                    .skip(start)
                    .take(equals.len())
                    .map(|c| c.name.clone()),
            );
        }
        order.extend(full.iter().map(|c| c.name.clone()));
        Ok(order)
    }
}

/// Why a channel is not a candidate, in a few words.
fn why_not(channel: &ChannelStatus) -> String {
    if !channel.bound {
        match &channel.last_error {
            Some(e) => format!("{} (last error {}: {})", channel.state, e.code, e.reason),
            None => channel.state.clone(),
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

    fn channel(name: &str, bound: bool, transmit: bool, in_use: u32) -> ChannelStatus {
        ChannelStatus {
            name: name.into(),
            state: if bound { "bound" } else { "connecting" }.into(),
            bound,
            can_transmit: transmit,
            can_receive: true,
            last_error: None,
            counters: ChannelCounters {
                window_in_use: in_use,
                window_size: 2,
                ..ChannelCounters::default()
            },
        }
    }

    #[test]
    fn explicit_channel_or_nothing() {
        let r = Router::new();
        let chans = [channel("a", true, true, 0), channel("b", false, true, 0)];
        assert_eq!(r.candidates(&chans, Some("a")).unwrap(), ["a"]);
        let err = r.candidates(&chans, Some("c")).unwrap_err();
        assert_eq!(err.to_string(), "unknown channel \"c\"; configured: a, b");
        let err = r.candidates(&chans, Some("b")).unwrap_err();
        assert_eq!(err.to_string(), "channel b cannot send now: connecting");
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
        let firsts: Vec<String> = (0..4)
            .map(|_| r.candidates(&chans, None).unwrap()[0].clone())
            .collect();
        assert_eq!(firsts, ["a", "b", "a", "b"]);
        assert_eq!(r.candidates(&chans, None).unwrap(), ["a", "b", "full"]);
    }

    #[test]
    fn full_windows_fall_back_to_configured_order() {
        let r = Router::new();
        let chans = [channel("a", true, true, 2), channel("b", true, true, 2)];
        for _ in 0..3 {
            assert_eq!(r.candidates(&chans, None).unwrap(), ["a", "b"]);
        }
    }

    #[test]
    fn nothing_bound_says_why() {
        let r = Router::new();
        let mut down = channel("a", false, true, 0);
        down.last_error = Some(ChannelError {
            code: 43010,
            reason: "bind refused".into(),
        });
        let err = r.candidates(&[down], None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no channel can send now (a: connecting (last error 43010: bind refused))"
        );
        assert!(matches!(
            r.candidates(&[], None),
            Err(RouteError::Unavailable(_))
        ));
    }
}
