//! Supervisor: one per channel; reconnects with back-off and logs each failure once.
//!
//! May depend on the session and transport layers below it. For now it holds only
//! [`failure`]: the single place where failures get their documented log codes.

pub mod failure;

pub use failure::{emit, Attempt, ChannelFailure, FailureReport, LogEvent};
