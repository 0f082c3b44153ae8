//! One supervisor per channel: connect, bind, run the session, and after a failure wait with
//! back-off and try again. Each failure is logged once, here, with the documented code that
//! [`failure`] assigns to it.
//!
//! Depends on [`crate::session`] and [`crate::transport`].

pub mod backoff;
pub mod channel;
pub mod failure;

pub use backoff::{Backoff, BackoffError, Jitter};
pub use channel::{
    spawn, ChannelEnd, ChannelHandle, ChannelIo, ChannelState, ChannelStatus, LastError,
};
pub use failure::{emit, Attempt, ChannelFailure, FailureReport, LogEvent};
