//! One supervisor per channel: connect, bind, run the session, and after a failure wait with
//! back-off and try again. Each failure is logged once, here, with the documented code that
//! [`failure`] assigns to it; a failure that keeps repeating is counted and summarised
//! ([`repeats`]) instead of being logged at every reconnect.
//!
//! Depends on [`crate::session`] and [`crate::transport`].

pub mod backoff;
pub mod channel;
pub mod failure;
pub mod failure_counts;
pub mod repeats;

pub use backoff::{proved_healthy, Backoff, BackoffError, Jitter, HEALTHY_AFTER};
pub use channel::{
    spawn, ChannelEnd, ChannelHandle, ChannelIo, ChannelState, ChannelStatus, LastError,
};
pub use failure::{emit, Attempt, ChannelFailure, FailureReport, LogEvent};
pub use failure_counts::{FailureCounts, FAILURE_CODES};
pub use repeats::{Repeats, Summary, Verdict, SUMMARY_WINDOW};
