//! One supervisor per channel: connect, bind, run the session, and after a failure wait with
//! back-off and try again. Each failure is logged once, here, with the documented code that
//! [`ChannelFailure`] assigns to it; a failure that keeps repeating is counted and summarised
//! ([`Repeats`]) instead of being logged at every reconnect.
//!
//! Depends on [`crate::session`] and [`crate::transport`].

mod backoff;
mod channel;
mod failure;
mod failure_counts;
mod repeats;

// The channel task.
pub use channel::{
    spawn, ChannelEnd, ChannelHandle, ChannelIo, ChannelState, ChannelStatus, LastError,
};

// Reconnecting with back-off.
pub use backoff::{proved_healthy, Backoff, BackoffError, Jitter, HEALTHY_AFTER};
pub(crate) use backoff::{DEFAULT_RECONNECTION_TIMEOUT_SECS, MIN_RECONNECTION_TIMEOUT_SECS};

// Failures, their log codes, and the summaries of repeated ones.
pub use failure::{
    emit, Attempt, ChannelFailure, FailureReport, LogEvent, CERT_REJECTED_TEXT, DRIVER_INIT_FAILED,
    EXCEPTION_PROCESSED, OPEN_AND_BIND_FAILED, SSL_CONTEXT_FAILED,
};
pub use failure_counts::{FailureCounts, FAILURE_CODES};
pub use repeats::{Repeats, Summary, Verdict, SUMMARY_WINDOW};
