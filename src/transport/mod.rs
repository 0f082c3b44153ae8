//! Transport: TCP and TLS links to the SMSC, and the keystores that feed TLS.
//!
//! May depend on nothing else in smppd except [`crate::secret`]; the session layer above
//! reads and writes the [`Stream`] it returns.
//!
//! ```text
//!   TlsSettings ──Connector::new (once, at channel initialisation)──> Connector
//!   Connector ──connect(host, port, timeouts)──> Connection { Stream, warning, peer_certificate }
//!   failures: InitError (43010, not retried) | TransportError (43009, retried)
//! ```
//!
//! TLS 1.2 and 1.3 use rustls (ring provider). TLS 1.1 uses OpenSSL and exists only with
//! the `tls11` cargo feature; without it a `1.1` channel is refused at initialisation.
//!
//! The root re-exports the connection API; [`keystore`] is a namespace of its own for the key
//! material, which is read and inspected apart from any connection.

mod classify;
mod connect;
mod connector;
mod error;
pub mod keystore;
#[cfg(feature = "tls11")]
mod openssl11;
mod settings;
mod sniff;
mod stream;
mod trust_all;

// Settings, built once per channel.
#[cfg(feature = "tls11")]
pub use openssl11::TLS11_CIPHERS;
pub use settings::{KeystoreFile, TlsMode, TlsOptions, TlsSettings, TlsVersion};
pub use trust_all::TRUST_ALL_WARNING;

// Connecting, and the stream a connection carries.
pub use connect::{Connection, Timeouts};
pub use connector::{root_store, Connector};
pub use stream::Stream;

// Failures, and telling a TLS peer from a plain one.
pub use classify::{classify_first_read_error, looks_like_tls_record, ReadEnd};
pub use error::{CertProblem, InitError, Phase, RejectionSeen, TransportError};
