//! In-process test SMSCs on 127.0.0.1 ephemeral ports: rustls servers with chosen versions and
//! client-auth policy, and plain TCP servers, each serving one connection.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use smppd::supervisor::ChannelFailure;
use smppd::transport::{
    Connection, Connector, Stream, Timeouts, TlsOptions, TlsSettings, TlsVersion, TransportError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::hang_guard::HANG_GUARD;
use crate::support::pki::{Leaf, Pki};

pub const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
pub const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A rustls server config presenting `leaf`, optionally requiring a client cert from `pki.ca`.
pub fn server_config(
    pki: &Pki,
    leaf: &Leaf,
    versions: &[&'static SupportedProtocolVersion],
    require_client_cert: bool,
) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions");
    let builder = if require_client_cert {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca.cert.clone()).expect("CA");
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(
        builder
            .with_single_cert(vec![leaf.cert.clone()], leaf.key())
            .expect("server cert"),
    )
}

/// What a server does once the TLS handshake has succeeded.
#[derive(Clone, Debug)]
pub enum After {
    /// Echo everything back until EOF.
    Echo,
    /// Drop the connection at once (no close_notify).
    Close,
    /// Send these bytes (a fake bind response), then drop the connection.
    SendThenClose(Vec<u8>),
}

/// Reads until EOF or error, so the client sees what we sent and no reset.
async fn drain<S: tokio::io::AsyncRead + Unpin>(mut s: S) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(HANG_GUARD, async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    (l, a)
}

/// Spawns a TLS server for one connection.
pub async fn tls_server(config: Arc<ServerConfig>, after: After) -> SocketAddr {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let Ok((tcp, _)) = l.accept().await else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match acceptor.accept(tcp).into_fallible().await {
            // The handshake failed (e.g. we rejected the client's certificate): the alert has
            // been sent; keep the socket open until the client is done so it reads it.
            Err((_, tcp)) => drain(tcp).await,
            Ok(mut tls) => match after {
                After::Echo => {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        let _ = tls.flush().await;
                    }
                }
                After::Close => drop(tls),
                After::SendThenClose(bytes) => {
                    let _ = tls.write_all(&bytes).await;
                    let _ = tls.flush().await;
                    drop(tls);
                }
            },
        }
    });
    addr
}

/// What a plain TCP server does.
#[derive(Clone, Debug)]
pub enum Plain {
    /// Wait for the client to speak, answer with an SMPP generic_nack, then wait for EOF.
    Nack,
    /// Say nothing, as an SMPP server waiting for a bind does.
    Silent,
    /// Echo everything back until EOF.
    Echo,
}

/// An SMPP generic_nack (command_length 16, id 0x80000000, status 3, sequence 0).
pub const GENERIC_NACK: [u8; 16] = [0, 0, 0, 16, 0x80, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];

/// Spawns a plain TCP server for one connection.
pub async fn plain_server(behaviour: Plain) -> SocketAddr {
    let (l, addr) = listener().await;
    tokio::spawn(async move {
        let Ok((mut tcp, _)) = l.accept().await else {
            return;
        };
        match behaviour {
            Plain::Nack => {
                let mut buf = [0u8; 1024];
                if tcp.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = tcp.write_all(&GENERIC_NACK).await;
                }
                drain(tcp).await;
            }
            Plain::Silent => drain(tcp).await,
            Plain::Echo => {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        }
    });
    addr
}

/// Generous timeouts: hang guards, not thresholds.
pub fn timeouts() -> Timeouts {
    Timeouts {
        connect: HANG_GUARD,
        handshake: HANG_GUARD,
    }
}

pub fn single(pki: &Pki, version: TlsVersion) -> TlsSettings {
    TlsSettings::Single {
        options: TlsOptions {
            version,
            ..TlsOptions::default()
        },
        keystore: Some(pki.trust_store()),
    }
}

pub fn mutual(pki: &Pki, leaf: &Leaf, version: TlsVersion) -> TlsSettings {
    TlsSettings::Mutual {
        options: TlsOptions {
            version,
            ..TlsOptions::default()
        },
        keystore: pki.identity(leaf),
    }
}

/// Builds the connector for `settings` and connects to 127.0.0.1.
pub async fn connect(
    settings: &TlsSettings,
    addr: SocketAddr,
) -> Result<Connection, TransportError> {
    connect_host(settings, "127.0.0.1", addr.port()).await
}

pub async fn connect_host(
    settings: &TlsSettings,
    host: &str,
    port: u16,
) -> Result<Connection, TransportError> {
    let connector = Connector::new(settings).expect("channel initialisation");
    tokio::time::timeout(HANG_GUARD, connector.connect(host, port, timeouts()))
        .await
        .expect("hang guard")
}

/// Writes `msg` and expects it echoed back.
pub async fn exchange(stream: &mut Stream, msg: &[u8]) {
    stream.write_all(msg).await.expect("write");
    stream.flush().await.expect("flush");
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(HANG_GUARD, stream.read_exact(&mut got))
        .await
        .expect("hang guard")
        .expect("read echo");
    assert_eq!(got, msg);
}

/// Asserts a connect failure's reason and its 43009 text, then returns it.
pub fn assert_failure(err: TransportError, reason: &str, text: &str) -> TransportError {
    let failure = ChannelFailure::Connect(err);
    let report = failure.report();
    assert_eq!(report.reason, reason, "{failure:?}");
    assert_eq!(report.primary.code, 43009, "{report:?}");
    assert!(
        report.primary.text.contains(text),
        "43009 text {:?} lacks {text:?}",
        report.primary.text
    );
    assert_eq!(report.follow_up.code, 43011);
    assert!(report
        .follow_up
        .text
        .starts_with("exception caught and processed..."));
    assert!(report.retryable);
    let ChannelFailure::Connect(err) = failure else {
        unreachable!()
    };
    err
}

/// Reads once and returns what ended the read, or the bytes.
pub async fn read_some(stream: &mut Stream) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(HANG_GUARD, stream.read(&mut buf))
        .await
        .expect("hang guard")?;
    buf.truncate(n);
    Ok(buf)
}
