//! One SMPP v3.4 session over a connected stream: bind, submit through a window at a capped
//! rate, keep the link alive, receive messages, unbind.
//!
//! Every protocol decision lives in [`SessionCore`], which owns no socket or timer: bytes and
//! the time go in, bytes and events come out. It is built from small sans-I/O rules, each
//! tested on its own: [`SequenceNumbers`], [`Window`], [`TokenBucket`], [`KeepAlive`],
//! [`Throttle`], [`BindState`]. [`Session`] is the thin async driver that moves bytes between
//! the core and the stream, and sleeps until the core's next deadline.
//! Two licences come from the layer above: [`SendGate`] (whether the session may write at
//! all) and [`RecordWindow`] (how many written submits may still lack a recorded outcome).
//!
//! The root re-exports the session's API; [`limits`] is a namespace of its own for the bounds
//! and defaults of the session's parameters, named after the parameters they bound.
//!
//! Depends on [`crate::codec`] and [`crate::secret`]; works over any async byte stream, so
//! the transport (TCP, TLS) is the caller's choice.

mod core;
mod counters;
mod driver;
mod error;
mod gate;
mod keepalive;
pub mod limits;
mod message;
mod params;
mod rate;
mod record;
mod sequence;
mod state;
mod throttle;
mod window;

// The session: parameters, the async driver, how it ends.
pub use driver::{EndReason, Session, SessionEnd, SessionIo};
pub use error::{LinkPhase, SessionError};
pub use params::{BindMode, ParamError, SessionParams};

// What goes in and what comes out.
pub use counters::{Counters, CountersSnapshot};
pub use message::{
    FailureReason, Inbound, InboundPdu, OutboundMessage, SessionEvent, SubmitOutcome,
};

// The sans-I/O core and its rules.
pub use self::core::{CoreEvent, Fill, Pulled, SessionCore};
pub use keepalive::{KeepAlive, KeepAliveAction};
pub use rate::TokenBucket;
pub use sequence::SequenceNumbers;
pub use state::BindState;
pub use throttle::Throttle;
pub use window::{Expired, Window};

// The licences the layer above hands out.
pub use gate::SendGate;
pub use record::{RecordPlace, RecordWindow};

// Acknowledging an inbound message, for the daemon's tests that build one.
#[cfg(test)]
pub(crate) use message::{Ack, AckVerdict};
