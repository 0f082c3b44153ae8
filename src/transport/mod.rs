//! Transport: TCP and TLS links to the SMSC, and the keystores TLS reads its certificates from.
pub mod keystore;
