//! TLS 1.1 through OpenSSL (cargo feature `tls11`), for SMSCs that speak nothing newer.
//!
//! rustls cannot speak TLS 1.1, so a `1.1` channel gets its own OpenSSL context, pinned to
//! TLS 1.1 exactly, with the cipher list `DEFAULT:@SECLEVEL=0` (OpenSSL 3 refuses TLS 1.1's
//! SHA-1 signatures at the default level). That level applies to this channel's context
//! alone. Trust and identity follow the same rules as the rustls channels.

use std::pin::Pin;

use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{self, ErrorCode, SslConnector, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509VerifyResult, X509};
use rustls_pki_types::PrivateKeyDer;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::classify::{observe_io, AlertKind, Observed};
use super::connector::trusted_roots;
use super::error::{CertProblem, InitError};
use super::settings::{TlsOptions, TlsSettings};
use super::sniff::Sniff;

/// The cipher list for TLS 1.1 channels, as documented.
pub const TLS11_CIPHERS: &str = "DEFAULT:@SECLEVEL=0";

fn setup(e: ErrorStack) -> InitError {
    InitError::Setup {
        detail: e.to_string(),
    }
}

/// Builds the channel's OpenSSL context.
pub(crate) fn connector(
    settings: &TlsSettings,
    options: &TlsOptions,
) -> Result<SslConnector, InitError> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(setup)?;
    b.set_min_proto_version(Some(SslVersion::TLS1_1))
        .map_err(setup)?;
    b.set_max_proto_version(Some(SslVersion::TLS1_1))
        .map_err(setup)?;
    b.set_cipher_list(TLS11_CIPHERS).map_err(setup)?;
    if !options.trust_all {
        // A fresh store: the builder's default one includes the system paths, and a channel
        // with a keystore must trust only the keystore's certificates.
        let keystore = settings.keystore();
        let source_name = keystore
            .map(|k| k.path.display().to_string())
            .unwrap_or_else(|| "operating system store".into());
        let mut store = X509StoreBuilder::new().map_err(setup)?;
        for der in trusted_roots(keystore)? {
            let parsed = X509::from_der(&der).and_then(|cert| store.add_cert(cert));
            if let (Err(e), Some(_)) = (parsed, keystore) {
                return Err(InitError::BadCertificate {
                    source_name,
                    detail: e.to_string(),
                });
            }
        }
        b.set_cert_store(store.build());
    }
    if let TlsSettings::Mutual { keystore, .. } = settings {
        let bad = |e: ErrorStack| InitError::BadCertificate {
            source_name: keystore.path.display().to_string(),
            detail: e.to_string(),
        };
        let key = keystore
            .contents
            .key
            .as_ref()
            .ok_or_else(|| InitError::NoPrivateKey {
                path: keystore.path.clone(),
            })?;
        let (leaf, rest) =
            keystore
                .contents
                .chain
                .split_first()
                .ok_or_else(|| InitError::NoCertificateChain {
                    path: keystore.path.clone(),
                })?;
        let leaf = X509::from_der(leaf).map_err(bad)?;
        b.set_certificate(&leaf).map_err(bad)?;
        for cert in rest {
            b.add_extra_chain_cert(X509::from_der(cert).map_err(bad)?)
                .map_err(bad)?;
        }
        let pkey = match key {
            PrivateKeyDer::Pkcs8(der) => PKey::private_key_from_pkcs8(der.secret_pkcs8_der()),
            other => PKey::private_key_from_der(other.secret_der()),
        }
        .map_err(bad)?;
        b.set_private_key(&pkey).map_err(bad)?;
        b.check_private_key().map_err(bad)?;
    }
    Ok(b.build())
}

/// Performs the TLS 1.1 handshake, verifying `name` (SNI is sent for DNS names only).
pub(crate) async fn handshake(
    connector: &SslConnector,
    io: Sniff<TcpStream>,
    name: &str,
    trust_all: bool,
) -> Result<SslStream<Sniff<TcpStream>>, Observed> {
    let other = |e: ErrorStack| Observed::Other(e.to_string());
    let mut config = connector.configure().map_err(other)?;
    if trust_all {
        config.set_verify(SslVerifyMode::NONE);
        config.set_verify_hostname(false);
    }
    let ssl = config.into_ssl(name).map_err(other)?;
    let mut stream = SslStream::new(ssl, io).map_err(other)?;
    match Pin::new(&mut stream).connect().await {
        Ok(()) => Ok(stream),
        Err(e) => match stream.ssl().verify_result() {
            X509VerifyResult::OK => Err(observe_ssl(&e)),
            failed => Err(Observed::ServerCertInvalid(verify_problem(failed, name))),
        },
    }
}

fn verify_problem(result: X509VerifyResult, name: &str) -> CertProblem {
    match result.as_raw() {
        // unable to get issuer certificate (locally), self-signed leaf or chain.
        2 | 18 | 19 | 20 | 21 => CertProblem::UnknownIssuer,
        9 => CertProblem::NotYetValid,
        10 => CertProblem::Expired,
        23 => CertProblem::Revoked,
        // host name, e-mail or IP address mismatch.
        62..=64 => CertProblem::WrongHostName {
            expected: name.to_owned(),
            presented: Vec::new(),
        },
        _ => CertProblem::Other(result.error_string().to_owned()),
    }
}

/// Reduces an OpenSSL handshake or read error to an [`Observed`].
pub(crate) fn observe_ssl(err: &ssl::Error) -> Observed {
    if let Some(io) = err.io_error() {
        return observe_io(io);
    }
    let Some(stack) = err.ssl_error() else {
        return if err.code() == ErrorCode::SYSCALL || err.code() == ErrorCode::ZERO_RETURN {
            Observed::Eof
        } else {
            Observed::Other(err.to_string())
        };
    };
    let text = stack.to_string();
    let lower = text.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&["alert protocol version"]) {
        Observed::Alert {
            name: "protocol_version".into(),
            kind: AlertKind::ProtocolVersion,
        }
    } else if has(&[
        "unsupported protocol",
        "no protocols available",
        "wrong ssl version",
    ]) {
        Observed::NoCommonVersion(text)
    } else if has(&[
        "alert bad certificate",
        "alert unknown ca",
        "alert certificate required",
        "alert certificate unknown",
        "alert access denied",
    ]) {
        Observed::Alert {
            name: text,
            kind: AlertKind::CertificateRejection,
        }
    } else if has(&["alert handshake failure", "alert insufficient security"]) {
        Observed::Alert {
            name: text,
            kind: AlertKind::HandshakeFailure,
        }
    } else if has(&["alert"]) {
        Observed::Alert {
            name: text,
            kind: AlertKind::Other,
        }
    } else if has(&["unexpected eof"]) {
        Observed::Eof
    } else if has(&[
        "wrong version number",
        "packet length too long",
        "record layer failure",
    ]) {
        Observed::Malformed(text)
    } else {
        Observed::Other(text)
    }
}
