//! [`PgError`]: what can go wrong talking to PostgreSQL, before it becomes a
//! [`StoreError`] at the [`crate::daemon::store::Store`] boundary.

use crate::daemon::store::{Fence, StoreError};

/// A failure of the PostgreSQL backend. Never holds the password: the URL it names has
/// none (the configuration refuses one), and the password travels apart.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL does not parse, or holds what this build refuses (a password).
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The server cannot be reached or refused the connection.
    #[error("cannot connect to the server: {reason}")]
    Connect {
        /// The URL (without a password).
        target: String,
        /// Why.
        reason: String,
    },
    /// The TLS context cannot be built (an unreadable `tls-ca`, no trusted certificate).
    #[error("TLS to the server cannot be set up: {0}")]
    TlsSetup(String),
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Sql(String),
    /// A row the store cannot read back.
    #[error("damaged row: {0}")]
    Damaged(String),
    /// The database was migrated by a newer smppd.
    #[error("schema version {found}, newer than this smppd knows ({known})")]
    TooNew {
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A write under a lease this node no longer holds.
    #[error("{0} is no longer held by this node")]
    Fenced(Fence),
}

/// The text of a client error with the server's message and SQLSTATE when there is one
/// (`tokio_postgres::Error`'s own text is only "db error").
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Sql(describe(&e))
    }
}

impl PgError {
    /// The store's error for a failed write.
    pub(super) fn into_write(self) -> StoreError {
        match self {
            PgError::Fenced(fence) => StoreError::Fenced { fence },
            other => StoreError::Write(other.to_string()),
        }
    }

    /// The store's error for a failed query.
    pub(super) fn into_read(self) -> StoreError {
        StoreError::Read(self.to_string())
    }

    /// The store's error for a failed open of `target`.
    pub(super) fn into_open(self, target: &str) -> StoreError {
        match self {
            PgError::TooNew { found, known } => StoreError::TooNew {
                path: target.to_string(),
                found,
                known,
            },
            other => StoreError::Open {
                path: target.to_string(),
                reason: other.to_string(),
            },
        }
    }
}

/// A result of the backend.
pub(super) type Pg<T> = Result<T, PgError>;
