//! The real `smppd` binary: end to end over HTTP and SMPP, the SMPP server, the status page in
//! a browser, the shipped configuration and monitoring files, the CLI commands not covered
//! elsewhere, and the log statements in `src/`.

#[path = "../support"]
mod support {
    pub mod browser;
    pub mod daemon;
    pub mod hang_guard;
    pub mod pg;
}

mod cli_hash_password;
mod config_files;
mod daemon_binary;
mod log_statements;
mod monitoring_contrib;
mod smpp_server;
mod status_page;
