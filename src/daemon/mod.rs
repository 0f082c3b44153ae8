//! The daemon around the channels: logging, systemd integration, the HTTP API, the durable
//! store, the dispatcher and channel choice, the per-channel feeders and sinks, webhooks.
//!
//! ```text
//!   API --> dispatch --commit--> store <--claim-- feeder --> channel queue --> session
//!                                  ^                                              |
//!                                  +---------- sink <--- outcomes, inbound -------+
//!                                  |
//!                                outbox --> webhook
//! ```
//!
//! Depends on: config, supervisor and everything below them. The API and the dispatcher see
//! the channels only through the [`engine::Engine`] trait.

pub mod api;
pub mod certificates;
pub mod channels;
pub mod cluster;
pub mod dispatch;
pub mod engine;
pub mod feeder;
pub mod gateway;
pub mod logging;
pub mod mask;
pub mod router;
pub mod run;
pub mod sink;
pub mod smpp_server;
pub mod store;
pub mod store_config;
pub mod systemd;
pub mod webhook;
