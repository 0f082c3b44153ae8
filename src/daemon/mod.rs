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
//! the channels only through the [`Engine`] trait.
//!
//! The root re-exports what runs the daemon and what the API is built from. Four namespaces
//! stay apart from it, each with an API of its own: [`api`] (the HTTP API's router and
//! server), [`store`] (the durable store and its backends), [`channels`] (one supervised
//! channel, as `run` starts them) and [`logging`] (the log formats and their set-up).

pub mod api;
mod certificates;
pub mod channels;
mod cluster;
mod dispatch;
mod engine;
mod feeder;
mod gateway;
pub mod logging;
mod mask;
mod router;
mod run;
mod sink;
mod smpp_server;
pub mod store;
mod store_config;
mod systemd;
mod webhook;

// Running the daemon.
pub use run::{run, RunError, STOP_BOUND};

// What the HTTP API and the dispatcher see of the channels.
pub use engine::{
    CertificateRole, CertificateStatus, ChannelCounters, ChannelError, ChannelPhase,
    ChannelSnapshot, Engine, InboundContent, InboundReport, ReceiptReport, ReceiptState,
};

// Accepting a message: checked, segmented, committed, handed to a channel.
pub use dispatch::{Content, DispatchError, Dispatcher, Encoding, MessageRequest};

// The SMPP server: smppd as the SMSC of the ESMEs that bind to it.
pub use smpp_server::SmppServer;

// Opening the store a configuration names.
pub use store_config::{inspect_postgres, postgres_options};
