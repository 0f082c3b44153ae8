//! The listening socket: plain TCP or TLS (server certificate from a PKCS#12 keystore with a
//! file password and a key password, client certificates checked against `tls-client-ca`
//! in mutual mode), one task per connection.

use super::board::SessionBoard;
use super::connection::{serve, Shared};
use crate::config::{ServerTls, SmppServerConfig};
use crate::transport::keystore::{Keystore, KeystoreError};
use crate::transport::TlsVersion;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Connections open at once at most; more are closed as they come, so that a flood cannot
/// take every file descriptor.
pub(crate) const MAX_CONNECTIONS: usize = 4096;

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// `listen`.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's keystore or the client CA file cannot be used.
    #[error("[smpp-server] {what}: {source}")]
    Keystore {
        /// Which file.
        what: String,
        /// Why.
        source: KeystoreError,
    },
    /// rustls refused the certificate, key or CA.
    #[error("[smpp-server] TLS: {0}")]
    Tls(String),
}

/// The running listener; dropping it stops accepting (open connections go on).
#[derive(Debug)]
pub struct Listener {
    /// Where it listens (the port is chosen by the system for port 0).
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds `config.listen` and accepts until stopped.
    pub async fn start(
        config: &SmppServerConfig,
        shared: Arc<Shared>,
        board: Arc<SessionBoard>,
    ) -> Result<Listener, ListenError> {
        let acceptor = acceptor(&config.tls)?;
        let socket =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ListenError::Bind {
                    address: config.listen,
                    source,
                })?;
        let local_addr = socket.local_addr().map_err(|source| ListenError::Bind {
            address: config.listen,
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let handshake = config.bind_timeout;
        let task = tokio::spawn(accept(socket, acceptor, handshake, shared, board, stopped));
        Ok(Listener {
            local_addr,
            stop,
            task,
        })
    }

    /// Stops accepting (open connections go on).
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        while !self.task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn accept(
    socket: TcpListener,
    acceptor: Option<TlsAcceptor>,
    handshake: Duration,
    shared: Arc<Shared>,
    board: Arc<SessionBoard>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, remote) = tokio::select! {
            accepted = socket.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    tracing::warn!(event = "smpp_accept_failed", error = %e, "cannot accept an SMPP connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(event = "smpp_connection_refused", remote = %remote, reason = "too many connections", "SMPP connection refused");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (shared, board, acceptor) = (shared.clone(), board.clone(), acceptor.clone());
        tokio::spawn(async move {
            connection(stream, remote, acceptor, handshake, shared, board).await;
            drop(slot);
        });
    }
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    handshake: Duration,
    shared: Arc<Shared>,
    board: Arc<SessionBoard>,
) {
    match acceptor {
        None => {
            let entry = board.open(remote, None);
            serve(shared, stream, entry.clone()).await;
            board.remove(entry.id);
        }
        Some(acceptor) => {
            let tls = match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::warn!(event = "smpp_tls_failed", remote = %remote, error = %e, "SMPP client's TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::warn!(event = "smpp_tls_failed", remote = %remote, error = "no handshake within bind-timeout", "SMPP client's TLS handshake failed");
                    return;
                }
            };
            let version = match tls.get_ref().1.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => Some("TLSv1.3"),
                Some(rustls::ProtocolVersion::TLSv1_2) => Some("TLSv1.2"),
                _ => Some("TLS"),
            };
            let entry = board.open(remote, version);
            serve(shared, tls, entry.clone()).await;
            board.remove(entry.id);
        }
    }
}

/// The TLS acceptor `tls` describes; `None` for plain TCP.
pub(crate) fn acceptor(tls: &ServerTls) -> Result<Option<TlsAcceptor>, ListenError> {
    let Some((version, keystore, client_ca)) = tls.parts() else {
        return Ok(None);
    };
    let keystore_error = |source| ListenError::Keystore {
        what: format!("tls-path-to-certificate {}", keystore.path.display()),
        source,
    };
    let store = Keystore::load_pkcs12(
        &keystore.path,
        &keystore.file_password,
        &keystore.key_password,
    )
    .map_err(keystore_error)?;
    let (chain, key) = store.require_key().map_err(keystore_error)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match version {
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
        _ => &[&rustls::version::TLS12],
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let cas = Keystore::load_pem(None, None, Some(ca)).map_err(|source| {
                ListenError::Keystore {
                    what: format!("tls-client-ca {}", ca.display()),
                    source,
                }
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in cas
                .require_trusted()
                .map_err(|source| ListenError::Keystore {
                    what: format!("tls-client-ca {}", ca.display()),
                    source,
                })?
            {
                roots
                    .add(cert.clone())
                    .map_err(|e| ListenError::Tls(format!("tls-client-ca: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| ListenError::Tls(format!("tls-client-ca: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| ListenError::Tls(e.to_string()))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}
