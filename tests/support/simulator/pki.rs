//! The shared test PKI ([`crate::support::pki`]) as the PEM files the simulator reads: its CA,
//! its server certificate (127.0.0.1 and localhost) and its client certificate, in a fresh
//! temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use smppd::simulator::{ClientAuth, TlsServerSettings, TlsVersions};
use tokio_rustls::TlsConnector;

use crate::support::pki::Pki;

/// PEM files of one test PKI.
pub struct PemFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Drop for PemFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl PemFiles {
    /// A new PKI, written out.
    pub fn new() -> PemFiles {
        let pki = Pki::new();
        let dir = std::env::temp_dir().join(format!(
            "smppd-sim-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        PemFiles {
            ca: write("ca.pem", &pki.ca.cert_pem),
            server_cert: write("server.pem", &pki.server.cert_pem),
            server_key: write("server.key", &pki.server.key_pem),
            client_cert: write("client.pem", &pki.client.cert_pem),
            client_key: write("client.key", &pki.client.key_pem),
            dir,
        }
    }

    /// Server settings for the simulator.
    pub fn server(&self, mutual: bool, versions: TlsVersions) -> TlsServerSettings {
        TlsServerSettings {
            cert_chain: self.server_cert.clone(),
            private_key: self.server_key.clone(),
            client_auth: if mutual {
                ClientAuth::Required {
                    ca: self.ca.clone(),
                }
            } else {
                ClientAuth::None
            },
            versions,
        }
    }

    /// A client connector trusting the test CA, presenting the client certificate if asked.
    pub fn connector(&self, with_client_cert: bool) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let chain = CertificateDer::pem_file_iter(&self.client_cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&self.client_key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

/// The server name the test certificates carry.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}
