//! A real SMPP v3.4 server (an SMSC) for tests and demos: `smppd simulate`.
//!
//! It accepts many concurrent ESME connections over plain TCP or TLS (optionally mutual),
//! authenticates binds against configured accounts, answers submit_sm with unique message
//! ids, sends delivery receipts and injected mobile-originated messages as deliver_sm, and can
//! misbehave on demand through [`Faults`]. Everything it receives is kept in a
//! [`RecordSnapshot`] so a test can prove what a client did on the wire.
//!
//! Depends on: [`crate::codec`] for the wire format and [`crate::secret`]; nothing above it.
//! It deliberately does not use the client-side session or transport modules, so that a bug
//! there cannot hide itself by being on both ends of a test.
//!
//! ```text
//!   Simulator::start ──> server      accept loop, TLS handshake (tls)
//!                          └─> connection   one task per client: framing, timers, writer
//!                                 └─> smsc  the SMPP rules, sans-I/O: frame + now -> actions
//!   SimulatorHandle ──> registry    routes receipts / MO to a bound receiver by system_id
//!                   ──> record      what was received, sent and acknowledged
//!                           └─> journal   the same, appended to a file (--record-file)
//!   mo                  MO deliver_sm on a timer to every bound receiver (--mo-every-ms)
//!                   ──> faults      switches read afresh for every event
//! ```

mod config;
mod connection;
mod error;
mod faults;
mod handle;
mod journal;
mod message_id;
mod mo;
mod receipt;
mod record;
mod registry;
mod server;
mod shared;
mod smsc;

#[cfg(test)]
mod pair;
mod tls;
mod wire;

// Starting and steering a simulator.
pub use config::{
    Account, ClientAuth, MessageIdStyle, SimulatorConfig, TlsServerSettings, TlsVersions,
};
pub use error::SimulatorError;
pub use faults::{AfterBind, Faults};
pub use handle::{MoMessage, SimulatorHandle};
pub use mo::{MO_DESTINATION_ADDR, MO_SOURCE_ADDR};

// What it recorded.
pub use record::{
    BindMode, BindRecord, CloseReason, ConnectionId, ConnectionRecord, DeliverKind, DeliverRecord,
    Event, RecordSnapshot, SessionCount, SubmitOutcome, SubmitRecord,
};

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

/// Entry point: see [`Simulator::start`].
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Validates `config`, reads the TLS files, opens the record file, binds the listener
    /// and starts serving in the background of the current tokio runtime.
    pub async fn start(config: SimulatorConfig) -> Result<SimulatorHandle, SimulatorError> {
        config.validate()?;
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let shared = Arc::new(shared::Shared::new(&config)?);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| SimulatorError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let (stop, stopped) = watch::channel(false);
        if let Some(interval) = config.mo_interval {
            tokio::spawn(mo::run(shared.clone(), interval, stopped.clone()));
        }
        let task = tokio::spawn(server::run(listener, tls, shared.clone(), stopped));
        Ok(SimulatorHandle {
            local_addr,
            shared,
            stop,
            task: Some(task),
        })
    }
}
