//! [`SimulatorError`]: what can go wrong starting or driving the simulator.
//!
//! Errors inside one client connection never surface here: they end that connection (and are
//! traced), because a misbehaving client must not stop the server.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors returned by [`super::Simulator::start`] and the [`super::SimulatorHandle`] methods.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// A setting is unusable; the message names it.
    #[error("simulator configuration: {0}")]
    Config(String),
    /// A PEM file could not be read or holds nothing usable.
    #[error("simulator TLS file {path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused the certificate, key or CA.
    #[error("simulator TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// The listening socket could not be bound.
    #[error("simulator cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The record file could not be opened for appending.
    #[error("simulator record file {path}: {source}")]
    RecordFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No receiver or transceiver session of this system_id is bound.
    #[error("no receiver or transceiver session bound as {0}")]
    NotBound(String),
    /// The session went away before answering a deliver_sm.
    #[error("session closed before deliver_sm_resp")]
    SessionClosed,
    /// A wait helper ran out of time; the message says what it waited for.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}
