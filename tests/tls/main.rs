//! The transport's TLS and the keystores it reads: connection modes and pinned versions
//! against in-process servers, how failures are classified and logged, and PKCS#12/PEM
//! keystores (including `smppd keystore inspect`). `tls_openssl11` is compiled only with the
//! `tls11` feature.

#[path = "../support"]
mod support {
    pub mod hang_guard;
    pub mod keystore_pki;
    pub mod pki;
    pub mod tls_server;
}

mod keystore_cli;
mod keystore_devpki;
mod keystore_errors;
mod keystore_fuzz;
mod keystore_pkcs12;
mod tls_failures;
mod tls_init_codes;
mod tls_log_events;
mod tls_modes;
mod tls_mutual_window;
mod tls_openssl11;
