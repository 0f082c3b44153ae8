//! # smppd
//!
//! An SMPP v3.4 client driver ("ESME") that runs as a daemon: one supervised SMPP session per
//! configured channel, over plain TCP or TLS, with a built-in SMSC simulator for tests and demos.
//!
//! ## Layout
//!
//! Data flows from the operator's configuration down to the bytes on the wire. Each module may
//! depend only on the modules below it:
//!
//! ```text
//!   config      TOML sections -> typed, validated parameters (names of the Genesys driver)
//!     |
//!   daemon      run loop and signals, systemd, logs, HTTP API, message store, webhooks
//!     |
//!   supervisor  one task per channel: reconnect with back-off; THE log-code table
//!     |         (43009/43011 retried, 43010/42403 not) in supervisor::failure
//!   session     bind, window, rate, keep-alive, throttling (sans-I/O rules + async driver)
//!     |
//!   transport   TCP and TLS (rustls; OpenSSL for TLS 1.1), PKCS#12 / PEM keystores
//!     |
//!   codec       pure SMPP v3.4 wire format: framing, PDUs, TLVs, command statuses
//! ```
//!
//! Beside the codec, [`sms`] holds the message-level rules that do not depend on sockets
//! either: text codings (GSM 03.38, Latin-1, UCS-2), long-message segmentation and
//! reassembly, delivery receipts and message-id matching. [`simulator`] is a real SMSC built
//! on the codec, for tests and `smppd demo`. [`secret`] is the redacting string type every
//! password travels in.
#![forbid(unsafe_code)]

/// The SMPP v3.4 wire format: framing, PDUs, TLVs and command statuses, with no I/O.
pub mod codec;
/// Configuration: one TOML file, one `[channel-NAME]` section per SMPP account.
pub mod config;
/// The daemon: run loop, HTTP API, store, webhooks, logging, systemd.
pub mod daemon;
/// A redacting string type for passwords.
pub mod secret;
/// One SMPP session over a connected stream: bind, window, rate, keep-alive, unbind.
pub mod session;
/// A built-in SMSC (SMPP server) for tests and demos: `smppd simulate`.
pub mod simulator;
/// Message-level rules: text codings, long messages, delivery receipts.
pub mod sms;
/// Per-channel supervision: reconnect back-off, the channel task, and the log codes.
pub mod supervisor;
/// TCP and TLS links to the SMSC, and the keystores they read.
pub mod transport;
