//! The durable store in process: a model-based property test of the SQLite and PostgreSQL
//! backends, crash consistency under SIGKILL, session-slot leases, and `smppd store inspect`.
//! The store through the real binary (durability, PostgreSQL, clusters) is in the daemon
//! binary, and TLS to PostgreSQL in the tls binary.
//!
//! The PostgreSQL tests need `SMPPD_TEST_POSTGRES_URL` (see `support/pg.rs`).

#[path = "../support"]
mod support {
    pub mod cli;
    // Only the schemas' URLs; the proxies of the other binaries use the rest.
    #[allow(dead_code)]
    pub mod pg;
}

mod store_cli;
mod store_crash;
mod store_leases;
mod store_model;
