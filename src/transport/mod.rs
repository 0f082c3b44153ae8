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

pub use classify::{classify_first_read_error, looks_like_tls_record, ReadEnd};
pub use connect::{Connection, Timeouts};
pub use connector::{root_store, Connector};
pub use error::{CertProblem, InitError, Phase, RejectionSeen, TransportError};
#[cfg(feature = "tls11")]
pub use openssl11::TLS11_CIPHERS;
pub use settings::{KeystoreFile, TlsMode, TlsOptions, TlsSettings, TlsVersion};
pub use stream::Stream;
pub use trust_all::TRUST_ALL_WARNING;
