//! Fault switches: the misbehaviours of real SMSCs that a client must survive.
//!
//! They are read afresh for every event, so a test can flip one through
//! [`super::SimulatorHandle::set_faults`] in the middle of a session.

use std::time::Duration;

use super::error::SimulatorError;

/// The set of faults in force. `Faults::default()` is a well-behaved SMSC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer every Nth submit_sm of a connection with ESME_RTHROTTLED (counting from the
    /// connection's first submit). `None` or `Some(0)` never throttles.
    pub throttle_every: Option<u32>,
    /// Close a connection as soon as its Nth submit_sm arrives, without answering that one
    /// or reading anything after it: the client is left with its unacknowledged messages, as
    /// after a real network cut. Answers to earlier submits are sent before the close.
    pub drop_after: Option<u32>,
    /// Close every new connection right after the TLS handshake (for plain TCP: right after
    /// accepting it), before reading anything.
    pub close_after_handshake: bool,
    /// Hold every response this long before sending it.
    pub response_delay: Duration,
    /// Never answer enquire_link, so the client's keep-alive times out.
    pub ignore_enquire_link: bool,
    /// Record submit_sm but never answer it, so the client's window fills and its response
    /// timers fire.
    pub withhold_submit_responses: bool,
    /// Misbehave right after accepting a bind (a flapping SMSC): the bind_resp says ESME_ROK
    /// and is followed at once by what this says.
    pub after_bind: Option<AfterBind>,
}

/// What the simulator sends right after a successful bind_resp ([`Faults::after_bind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterBind {
    /// An unbind: the client answers it and (a real client) reconnects.
    Unbind,
    /// Sixteen octets that cannot be split into PDUs (command_length 4, below the header):
    /// the client must give up on the connection.
    Garbage,
    /// A well-framed deliver_sm whose body does not decode (one octet, no NUL): the client
    /// answers it with an error and keeps the link.
    MalformedPdu,
}

impl Faults {
    /// Rejects combinations that make no sense.
    pub fn validate(&self) -> Result<(), SimulatorError> {
        if self.drop_after == Some(0) {
            return Err(SimulatorError::Config(
                "drop_after must be at least 1 (the submit that triggers the drop)".into(),
            ));
        }
        Ok(())
    }

    /// Whether the `n`th submit of a connection (1-based) is throttled.
    pub fn throttles(&self, n: u64) -> bool {
        match self.throttle_every {
            Some(every) if every > 0 => n.is_multiple_of(u64::from(every)),
            _ => false,
        }
    }

    /// Whether the `n`th submit of a connection (1-based) triggers the drop.
    pub fn drops_at(&self, n: u64) -> bool {
        matches!(self.drop_after, Some(after) if after > 0 && n >= u64::from(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_every_nth_submit() {
        let f = Faults {
            throttle_every: Some(3),
            ..Faults::default()
        };
        let hits: Vec<u64> = (1..=9).filter(|n| f.throttles(*n)).collect();
        assert_eq!(hits, vec![3, 6, 9]);
        assert!(!Faults::default().throttles(1));
        let zero = Faults {
            throttle_every: Some(0),
            ..Faults::default()
        };
        assert!(!zero.throttles(5));
    }

    #[test]
    fn drop_after_triggers_on_the_nth_submit() {
        let f = Faults {
            drop_after: Some(2),
            ..Faults::default()
        };
        assert!(!f.drops_at(1));
        assert!(f.drops_at(2));
        let zero = Faults {
            drop_after: Some(0),
            ..Faults::default()
        };
        assert!(zero.validate().is_err());
    }
}
