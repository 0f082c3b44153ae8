//! The durable store: the SQLite and PostgreSQL backends in process (a model-based property
//! test, crash consistency under SIGKILL, leases, TLS to PostgreSQL), the real binary killed
//! with work in flight, `smppd store inspect`, and several nodes sharing one database.
//!
//! The PostgreSQL tests need `SMPPD_TEST_POSTGRES_URL` (see `support/pg.rs`).

#[path = "../support"]
mod support {
    pub mod cluster;
    pub mod daemon;
    pub mod hang_guard;
    pub mod pg;
    pub mod pg_proxy;
    pub mod pg_tls_proxy;
    pub mod pg_upstream;
    pub mod pki;
    pub mod tls_server;
}

mod cluster;
mod store_cli;
mod store_crash;
mod store_durability;
mod store_leases;
mod store_model;
mod store_postgres;
mod store_postgres_tls;
