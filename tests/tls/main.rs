//! TLS and the keystores it reads: the channels' connection modes and pinned versions against
//! in-process servers, how failures are classified and logged, PKCS#12 and PEM keystores
//! (including `smppd keystore inspect`), and the store's TLS to PostgreSQL. `tls_openssl11`
//! is compiled only with the `tls11` feature.

#[path = "../support"]
mod support {
    pub mod cli;
    pub mod dev_pki;
    pub mod hang_guard;
    pub mod keystore_pki;
    // The TLS proxy names the server and the schema itself: `TestSchema::url` is unused.
    #[allow(dead_code)]
    pub mod pg;
    pub mod pg_tls_proxy;
    pub mod pg_upstream;
    pub mod pki;
    pub mod ports;
    pub mod tls_server;
}

mod keystore_cli;
mod keystore_devpki;
mod keystore_errors;
mod keystore_fuzz;
mod keystore_pkcs12;
mod store_postgres_tls;
mod tls_failures;
mod tls_init_codes;
mod tls_log_events;
mod tls_modes;
mod tls_mutual_window;
mod tls_openssl11;
