//! One SMPP v3.4 session over a connected stream: bind, submit through a window at a capped
//! rate, keep the link alive, receive messages, unbind.
//!
//! The rules live in small sans-I/O types driven by events with `now` passed in, each tested
//! on its own: [`sequence`], [`window`], [`rate`], [`keepalive`], [`throttle`]. Depends on
//! [`crate::secret`] only (and, for the wire format, the codec).

pub mod keepalive;
pub mod params;
pub mod rate;
pub mod sequence;
pub mod throttle;
pub mod window;

pub use keepalive::{KeepAlive, KeepAliveAction};
pub use params::{BindMode, ParamError, SessionParams};
pub use rate::TokenBucket;
pub use sequence::SequenceNumbers;
pub use throttle::Throttle;
pub use window::Window;
