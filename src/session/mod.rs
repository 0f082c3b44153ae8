//! One SMPP v3.4 session over a connected stream: bind, submit through a window at a capped
//! rate, keep the link alive, receive messages, unbind.
//!
//! Every protocol decision lives in [`SessionCore`] (module [`core`]), which owns no socket
//! or timer: bytes and the time go in, bytes and events come out. It is built from small
//! sans-I/O rules, each tested on its own: [`sequence`], [`window`], [`rate`], [`keepalive`],
//! [`throttle`], [`state`]. [`driver`] is the thin async part that moves bytes between the
//! core and the stream, and sleeps until the core's next deadline.
//! Two licences come from the layer above: [`gate`] (whether the session may write at all)
//! and [`record`] (how many written submits may still lack a recorded outcome).
//! Depends on [`crate::codec`] and [`crate::secret`]; works over any async byte stream, so
//! the transport (TCP, TLS) is the caller's choice.

pub mod core;
pub mod counters;
pub mod driver;
pub mod error;
pub mod gate;
pub mod keepalive;
pub mod limits;
pub mod message;
pub mod params;
pub mod rate;
pub mod record;
pub mod sequence;
pub mod state;
pub mod throttle;
pub mod window;

pub use self::core::{CoreEvent, Fill, Pulled, SessionCore};
pub use counters::{Counters, CountersSnapshot};
pub use driver::{EndReason, Session, SessionEnd, SessionIo};
pub use error::{LinkPhase, SessionError};
pub use gate::SendGate;
pub use keepalive::{KeepAlive, KeepAliveAction};
pub use message::{
    FailureReason, Inbound, InboundPdu, OutboundMessage, SessionEvent, SubmitOutcome,
};
pub use params::{BindMode, ParamError, SessionParams};
pub use rate::TokenBucket;
pub use record::{RecordPlace, RecordWindow};
pub use sequence::SequenceNumbers;
pub use state::BindState;
pub use throttle::Throttle;
pub use window::{Expired, Window};
