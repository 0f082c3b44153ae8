//! # smppd
//!
//! An SMPP v3.4 client driver ("ESME") that runs as a daemon: one supervised SMPP session per
//! configured channel, over plain TCP or TLS, with a built-in SMSC simulator for tests and demos.
//!
//! ## Layout
//!
//! Each module depends only on the modules below it (the binary's `cli` sits on top):
//!
//! ```text
//!   daemon      run loop and signals, systemd, logs, HTTP API, dispatch, the durable store,
//!     |         per-channel feeders (store -> session) and sinks (session -> store), webhooks
//!     |-------------------.
//!   config                |   TOML sections -> typed, validated parameters (names of the
//!     |                   |   Genesys driver); builds the session's and transport's own types
//!     |               supervisor  one task per channel: reconnect with back-off; THE log-code
//!     |                   |       table (43009/43011 retried, 43010/42403 not) in
//!     |                   |       src/supervisor/failure.rs
//!     '-------------------|
//!   session     bind, window, rate, keep-alive, throttling (sans-I/O rules + async driver)
//!     |         server (beside it): smppd as the SMSC of one ESME connection, a sans-I/O
//!     |         core on the codec alone
//!     |
//!   transport   TCP and TLS (rustls; OpenSSL for TLS 1.1), PKCS#12 / PEM keystores
//!     |
//!   codec       pure SMPP v3.4 wire format: framing, PDUs, TLVs, command statuses
//! ```
//!
//! The session knows nothing of TOML or SQL: messages reach it as ready submit_sm from the
//! daemon's feeder, and everything it reports leaves as one ordered stream of events.
//!
//! Beside the codec, [`sms`] holds the message-level rules that do not depend on sockets
//! either: text codings (GSM 03.38, Latin-1, UCS-2), long-message segmentation and
//! reassembly, delivery receipts and message-id matching. [`pdu_view`] joins the two for
//! `smppd pdu decode`: the codec's field-by-field dump with receipts read by `sms`.
//! [`server`] is the protocol core of the side that ESMEs bind to: octets and time in,
//! octets and events out, for a driver to put on a socket.
//! [`simulator`] is a real SMSC built on the codec, for tests and `smppd demo`. [`secret`] is
//! the redacting string type every password travels in; [`password`] the Argon2id hash the
//! SMPP server's users are checked against (`[smpp-user-NAME] password-hash`, written by
//! `smppd hash-password`). [`limited_file`] reads the files a configuration names (secrets,
//! keystores, the configuration itself): regular files only, never more than a stated size. [`build_info`] says what the binary was built from (version,
//! git commit, cargo features) for `smppd --version` and `/metrics`. [`seq_map`] is the
//! hash map for keys this process counts out itself (sequence numbers, message keys).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod build_info;
pub mod codec;
pub mod config;
pub mod daemon;
pub mod limited_file;
pub mod password;
pub mod pdu_view;
pub mod secret;
pub mod seq_map;
pub mod server;
pub mod session;
pub mod simulator;
pub mod sms;
pub mod supervisor;
pub mod transport;
