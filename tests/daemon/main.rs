//! The real `smppd` binary: end to end over HTTP and SMPP, the store across kills and
//! restarts, on PostgreSQL and shared by a cluster of nodes, the SMPP server, the status page
//! in a browser, the shipped configuration and monitoring files, `smppd hash-password`, and
//! the log statements in `src/`.
//!
//! The PostgreSQL tests need `SMPPD_TEST_POSTGRES_URL` (see `support/pg.rs`).

#[path = "../support"]
mod support {
    pub mod browser;
    pub mod cli;
    pub mod cluster;
    pub mod daemon;
    pub mod dev_pki;
    pub mod hang_guard;
    pub mod pg;
    pub mod pg_proxy;
    pub mod pg_upstream;
    pub mod ports;
}

mod cli_hash_password;
mod cluster;
mod config_files;
mod daemon_binary;
mod log_statements;
mod monitoring_contrib;
mod smpp_server;
mod status_page;
mod store_durability;
mod store_postgres;
