//! [`Connector`]: a channel's TLS client context, built once at channel initialisation from
//! its [`TlsSettings`] and reused for every connection attempt.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};

use super::error::InitError;
use super::settings::{KeystoreFile, TlsMode, TlsOptions, TlsSettings, TlsVersion};
use super::trust_all::TrustAll;

/// The TLS engine a channel uses.
pub(crate) enum Engine {
    /// `x-smpp-tls-mode = off`.
    Plain,
    /// TLS 1.2 or 1.3.
    Rustls(Arc<ClientConfig>),
    /// TLS 1.1, through OpenSSL.
    #[cfg(feature = "tls11")]
    OpenSsl(openssl::ssl::SslConnector),
}

/// A channel's connection factory: the TLS context and what to verify, built once.
pub struct Connector {
    pub(crate) engine: Engine,
    pub(crate) mode: TlsMode,
    pub(crate) version: TlsVersion,
    /// The validated server-name override.
    pub(crate) server_name: Option<String>,
    pub(crate) trust_all: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("mode", &self.mode)
            .field("version", &self.version)
            .field("server_name", &self.server_name)
            .field("trust_all", &self.trust_all)
            .finish()
    }
}

impl Connector {
    /// Builds the channel's TLS context from its settings. Any error here is a 43010
    /// (`failed to initialize ssl context`) and the channel does not start.
    pub fn new(settings: &TlsSettings) -> Result<Connector, InitError> {
        let Some(options) = settings.options() else {
            return Ok(Connector {
                engine: Engine::Plain,
                mode: TlsMode::Off,
                version: TlsVersion::default(),
                server_name: None,
                trust_all: false,
            });
        };
        if let Some(name) = &options.server_name {
            ServerName::try_from(name.as_str())
                .map_err(|_| InitError::InvalidServerName { name: name.clone() })?;
        }
        let engine = match options.version {
            TlsVersion::V1_2 | TlsVersion::V1_3 => {
                Engine::Rustls(rustls_config(settings, options)?)
            }
            #[cfg(feature = "tls11")]
            TlsVersion::V1_1 => Engine::OpenSsl(super::openssl11::connector(settings, options)?),
            #[cfg(not(feature = "tls11"))]
            TlsVersion::V1_1 => return Err(InitError::Tls11Unavailable),
        };
        Ok(Connector {
            engine,
            mode: settings.mode(),
            version: options.version,
            server_name: options.server_name.clone(),
            trust_all: options.trust_all,
        })
    }

    /// The channel's TLS mode.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The rustls context, when the channel uses rustls (for inspection and tests).
    pub fn rustls_config(&self) -> Option<&Arc<ClientConfig>> {
        match &self.engine {
            Engine::Rustls(config) => Some(config),
            _ => None,
        }
    }
}

/// The certificates a channel trusts: ONLY the keystore's when there is a keystore, else the
/// operating system's (which `SSL_CERT_FILE` / `SSL_CERT_DIR` replace when set).
pub(crate) fn trusted_roots(
    keystore: Option<&KeystoreFile>,
) -> Result<Vec<CertificateDer<'static>>, InitError> {
    if let Some(keystore) = keystore {
        if keystore.contents.trusted.is_empty() {
            return Err(InitError::EmptyTrustStore {
                detail: format!(
                    "keystore {} holds no CA certificate to trust the SMSC with",
                    keystore.path.display()
                ),
            });
        }
        return Ok(keystore.contents.trusted.clone());
    }
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        return Err(InitError::EmptyTrustStore {
            detail: format!(
                "the operating system store (or SSL_CERT_FILE / SSL_CERT_DIR, which replace it \
                 when set) holds no certificate{}{}",
                if errors.is_empty() { "" } else { ": " },
                errors.join("; ")
            ),
        });
    }
    Ok(found.certs)
}

/// The roots to verify a server with: the keystore's trusted certificates (each must be
/// usable), else the operating system's (see `trusted_roots`). Shared by the channels and
/// the PostgreSQL store, so that both trust the same way.
pub fn root_store(keystore: Option<&KeystoreFile>) -> Result<RootCertStore, InitError> {
    let mut roots = RootCertStore::empty();
    let certs = trusted_roots(keystore)?;
    match keystore {
        Some(ks) => {
            for cert in certs {
                roots.add(cert).map_err(|e| InitError::BadCertificate {
                    source_name: ks.path.display().to_string(),
                    detail: e.to_string(),
                })?;
            }
        }
        // The OS store may hold certificates webpki cannot parse; skipping them is what
        // every other TLS client does.
        None => {
            roots.add_parsable_certificates(certs);
        }
    }
    Ok(roots)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn rustls_config(
    settings: &TlsSettings,
    options: &TlsOptions,
) -> Result<Arc<ClientConfig>, InitError> {
    let provider = provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match options.version {
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12],
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| InitError::Setup {
            detail: e.to_string(),
        })?;
    let builder = if options.trust_all {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAll::new(provider.clone())))
    } else {
        let roots = root_store(settings.keystore())?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| InitError::Setup {
                detail: e.to_string(),
            })?;
        builder.with_webpki_verifier(verifier)
    };
    let config = match settings {
        TlsSettings::Mutual { keystore, .. } => {
            let key = keystore
                .contents
                .key
                .as_ref()
                .ok_or_else(|| InitError::NoPrivateKey {
                    path: keystore.path.clone(),
                })?;
            if keystore.contents.chain.is_empty() {
                return Err(InitError::NoCertificateChain {
                    path: keystore.path.clone(),
                });
            }
            builder
                .with_client_auth_cert(keystore.contents.chain.clone(), key.clone_key())
                .map_err(|e| InitError::BadCertificate {
                    source_name: keystore.path.display().to_string(),
                    detail: e.to_string(),
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
