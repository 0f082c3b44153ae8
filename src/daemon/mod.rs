//! The daemon around the channels: logging, systemd integration, the HTTP API with its
//! message store, channel choice and webhooks.
//!
//! Depends on: config, supervisor and everything below them. The API sees the channels only
//! through the [`engine::Engine`] trait.

pub mod api;
pub mod channels;
pub mod engine;
pub mod gateway;
pub mod inbound;
pub mod logging;
pub mod mask;
pub mod router;
pub mod run;
pub mod store;
pub mod systemd;
pub mod webhook;
