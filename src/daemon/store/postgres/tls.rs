//! TLS to PostgreSQL: tokio-postgres's TLS traits over tokio-rustls (ring provider, TLS 1.2
//! and 1.3), verifying the server as libpq's `sslmode=verify-full` does: the chain up to a
//! trusted CA and the host name of the URL.
//!
//! [`PgTls`] is what `[store] tls` and `tls-ca` ask for; [`Connector`] is that built once
//! (the CA file or the system's trust store read) and used for every connection the store
//! opens. With TLS on, tokio-postgres sends the SSLRequest and refuses a server that
//! answers it with `N`; the handshake then verifies the certificate.

use super::error::PgError;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{self, ChannelBinding};

/// How the store secures its connections: a reason for each choice, not a bool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    /// `tls = "off"`: plain TCP, or a Unix socket.
    Off,
    /// `tls = "on"`: TLS is required and the server's certificate verified (chain and host
    /// name); never a fall-back to plain TCP.
    Verify {
        /// `tls-ca`: the PEM file of the CAs to trust; `None` for the system's trust store.
        ca: Option<PathBuf>,
    },
}

impl PgTls {
    /// What `[store] tls` defaults to for the database at `url`: off when every address it
    /// names is on this machine, else verified against the system's trust store. A URL that
    /// does not parse gets TLS (opening it fails anyway).
    pub fn default_for(url: &str) -> PgTls {
        match super::url::check(url) {
            Ok(config) if !super::url::tls_by_default(&config) => PgTls::Off,
            _ => PgTls::Verify { ca: None },
        }
    }

    /// Where the trusted certificates come from, for messages.
    fn trust(&self) -> String {
        match self {
            PgTls::Verify { ca: Some(path) } => format!("tls-ca {}", path.display()),
            _ => "the system's trust store".into(),
        }
    }
}

impl std::fmt::Display for PgTls {
    /// As `check-config` reports it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgTls::Off => f.write_str("without TLS"),
            PgTls::Verify { .. } => write!(f, "over TLS verified with {}", self.trust()),
        }
    }
}

/// [`PgTls`] made usable: the client context, built once per store. `None` for plain
/// connections (whose configuration never asks for TLS).
#[derive(Clone)]
pub(super) struct Connector {
    config: Option<Arc<ClientConfig>>,
    trust: String,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.config.is_some())
            .field("trust", &self.trust)
            .finish()
    }
}

impl Connector {
    /// Reads the trusted certificates `tls` names and builds the client context.
    pub(super) fn new(tls: &PgTls) -> Result<Connector, PgError> {
        let PgTls::Verify { ca } = tls else {
            return Ok(Connector::plain());
        };
        let keystore = match ca {
            Some(path) => Some(crate::transport::KeystoreFile {
                path: path.clone(),
                contents: crate::transport::keystore::Keystore::load_pem(None, None, Some(path))
                    .map_err(|e| PgError::TlsSetup(format!("tls-ca: {e}")))?,
            }),
            None => None,
        };
        let roots = crate::transport::root_store(keystore.as_ref())
            .map_err(|e| PgError::TlsSetup(format!("{}: {e}", tls.trust())))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| PgError::TlsSetup(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Connector {
            config: Some(Arc::new(config)),
            trust: tls.trust(),
        })
    }

    /// No TLS.
    pub(super) fn plain() -> Connector {
        Connector {
            config: None,
            trust: String::new(),
        }
    }

    /// Whether connections use TLS.
    pub(super) fn is_on(&self) -> bool {
        self.config.is_some()
    }
}

impl<S> tls::MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = Handshake;
    type Error = HandshakeError;

    fn make_tls_connect(&mut self, host: &str) -> Result<Handshake, HandshakeError> {
        // Asked for every connection, plain ones too: the handshake is made only when the
        // configuration requires TLS.
        let Some(config) = &self.config else {
            return Ok(Handshake { tls: None });
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| HandshakeError(format!("{host:?} is no host name to verify")))?;
        Ok(Handshake {
            tls: Some(Verified {
                connector: tokio_rustls::TlsConnector::from(config.clone()),
                name,
                trust: self.trust.clone(),
            }),
        })
    }
}

/// One TLS handshake, or none for a plain connection.
pub(super) struct Handshake {
    tls: Option<Verified>,
}

/// A handshake's context, with the name the server's certificate must hold.
struct Verified {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    trust: String,
}

impl<S> tls::TlsConnect<S> for Handshake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = HandshakeError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream<S>, HandshakeError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            // The configuration of a plain connection never asks for TLS; should it, the
            // connection fails rather than going out in clear.
            let Some(tls) = self.tls else {
                return Err(HandshakeError(
                    "TLS was asked for with tls = \"off\"".into(),
                ));
            };
            let host = tls.name.to_str().into_owned();
            tls.connector
                .connect(tls.name, stream)
                .await
                .map(TlsStream)
                .map_err(|e| HandshakeError(explain(&e, &host, &tls.trust)))
        })
    }
}

/// Why a handshake failed, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct HandshakeError(String);

/// The handshake's failure: the certificate problem named, with what was trusted.
fn explain(e: &io::Error, host: &str, trust: &str) -> String {
    let Some(rustls::Error::InvalidCertificate(problem)) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS handshake with {host} failed: {e}");
    };
    let what = match problem {
        CertificateError::UnknownIssuer => {
            format!("is issued by a CA not trusted (trusted: {trust})")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("is not valid for the host name {host} ({problem})")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("has expired ({problem})")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("is not valid yet ({problem})")
        }
        other => format!("was refused: {other}"),
    };
    format!("the server's certificate {what}")
}

/// A TLS connection to the server.
pub(super) struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tls::TlsStream for TlsStream<S> {
    /// No channel binding: SCRAM then authenticates without it, as libpq does with
    /// `channel_binding=prefer` when the client offers none; the certificate check above is
    /// what keeps a man in the middle out.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_host() {
        assert_eq!(
            PgTls::default_for("postgres://smppd@127.0.0.1/smppd"),
            PgTls::Off
        );
        assert_eq!(
            PgTls::default_for("host=/run/postgresql dbname=smppd"),
            PgTls::Off
        );
        assert_eq!(
            PgTls::default_for("postgres://smppd@db1/smppd"),
            PgTls::Verify { ca: None }
        );
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = Connector::new(&PgTls::Verify {
            ca: Some(missing.clone()),
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls-ca") && e.contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = Connector::new(&PgTls::Verify { ca: Some(empty) })
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls-ca"), "{e}");
    }

    #[test]
    fn a_ca_file_builds_a_connector() {
        let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev/ca.pem");
        let connector = Connector::new(&PgTls::Verify { ca: Some(ca) }).unwrap();
        assert!(connector.is_on());
        assert!(!Connector::new(&PgTls::Off).unwrap().is_on());
    }

    /// A CA named `ca_name` (PEM) and a server presenting a certificate it issued for
    /// `names`.
    fn pki(ca_name: &str, names: &[&str]) -> (String, Arc<rustls::ServerConfig>) {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        (ca_cert.pem(), Arc::new(server))
    }

    /// A handshake to `host` trusting `ca_pem`, against a server presenting `server`'s
    /// certificate: its error, if any.
    async fn handshake(
        ca_pem: &str,
        server: Arc<rustls::ServerConfig>,
        host: &str,
    ) -> Option<String> {
        use tls::{MakeTlsConnect, TlsConnect};
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_pem).unwrap();
        let mut connector = Connector::new(&PgTls::Verify { ca: Some(ca) }).unwrap();
        let (client, peer) = tokio::io::duplex(16 * 1024);
        let accept = tokio::spawn(tokio_rustls::TlsAcceptor::from(server).accept(peer));
        let handshake =
            MakeTlsConnect::<tokio::io::DuplexStream>::make_tls_connect(&mut connector, host)
                .unwrap();
        let result = handshake.connect(client).await;
        let _ = accept.await;
        result.err().map(|e| e.to_string())
    }

    #[tokio::test]
    async fn the_server_is_verified_by_chain_and_host_name() {
        let (ca, server) = pki("db CA", &["db1.example", "127.0.0.1"]);
        assert_eq!(handshake(&ca, server.clone(), "db1.example").await, None);
        assert_eq!(handshake(&ca, server.clone(), "127.0.0.1").await, None);
        let e = handshake(&ca, server.clone(), "db2.example").await.unwrap();
        assert!(e.contains("not valid for the host name db2.example"), "{e}");
        let (other_ca, _) = pki("another CA", &["db1.example"]);
        let e = handshake(&other_ca, server, "db1.example").await.unwrap();
        assert!(
            e.contains("issued by a CA not trusted (trusted: tls-ca "),
            "{e}"
        );
    }

    #[test]
    fn the_mode_reads_as_check_config_prints_it() {
        assert_eq!(PgTls::Off.to_string(), "without TLS");
        assert_eq!(
            PgTls::Verify { ca: None }.to_string(),
            "over TLS verified with the system's trust store"
        );
        assert_eq!(
            PgTls::Verify {
                ca: Some("/etc/smppd/db-ca.pem".into())
            }
            .to_string(),
            "over TLS verified with tls-ca /etc/smppd/db-ca.pem"
        );
    }
}
