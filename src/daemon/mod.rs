//! The daemon around the channels: logging, systemd integration and (later) the HTTP API.
//!
//! Depends on: config, supervisor and everything below them.

pub mod channels;
pub mod logging;
pub mod mask;
pub mod systemd;
