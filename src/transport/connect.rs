//! Opening a connection: resolve, TCP connect (each address in turn, with a timeout), then the
//! TLS handshake the channel's [`Connector`] calls for. Never falls back to plain TCP.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::classify::{classify_handshake, observe_io, HandshakeContext, Observed};
use super::connector::{Connector, Engine};
use super::error::TransportError;
use super::settings::TlsVersion;
use super::sniff::{Sniff, SniffLog};
use super::stream::{Io, Stream};
use super::trust_all::TRUST_ALL_WARNING;

/// How long each step of opening a connection may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect, per resolved address.
    pub connect: Duration,
    /// The TLS handshake. A plain SMPP server on a TLS channel never answers the ClientHello,
    /// so this is also how such a server is detected.
    pub handshake: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            handshake: Duration::from_secs(30),
        }
    }
}

/// An opened connection and what the caller must log about it.
#[derive(Debug)]
pub struct Connection {
    /// The stream to run the SMPP session on.
    pub stream: Stream,
    /// Set when the SMSC certificate was not verified (`trust_all`): log it, once per
    /// connection.
    pub warning: Option<&'static str>,
    /// The SMSC's leaf certificate as the TLS handshake presented it (DER), `None` on plain
    /// TCP. Handed up unparsed: the layer above records it for expiry monitoring.
    pub peer_certificate: Option<CertificateDer<'static>>,
}

impl Connector {
    /// Connects to `host:port` and performs the TLS handshake the channel calls for.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        timeouts: Timeouts,
    ) -> Result<Connection, TransportError> {
        let (tcp, address) = tcp_connect(host, port, timeouts.connect).await?;
        // SMPP is request/response with small PDUs: Nagle would only add latency.
        // Failing to set it is harmless, so it is not an error.
        let _ = tcp.set_nodelay(true);
        let verify_name = self.server_name.as_deref().unwrap_or(host);
        let ctx = |log: &SniffLog| {
            let seen = log.snapshot();
            HandshakeContext {
                address,
                mode: self.mode,
                version: self.version,
                server_name: verify_name.to_owned(),
                received: seen.received,
                head: seen.head,
            }
        };
        let timed_out = || {
            Observed::TimedOut(format!(
                "no handshake within {} ms",
                timeouts.handshake.as_millis()
            ))
        };
        let mut peer_certificate = None;
        let stream = match &self.engine {
            Engine::Plain => Stream::new(Io::Plain(tcp), address, self.mode, None),
            Engine::Rustls(config) => {
                let name = ServerName::try_from(verify_name.to_owned()).map_err(|_| {
                    TransportError::HandshakeFailed {
                        address,
                        detail: format!(
                            "{verify_name:?} is not a valid TLS server name; \
                             set the server-name override"
                        ),
                    }
                })?;
                let (sniff, log) = Sniff::new(tcp);
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let handshake = connector.connect(name, sniff).into_fallible();
                let tls = match timeout(timeouts.handshake, handshake).await {
                    Err(_) => return Err(classify_handshake(timed_out(), &ctx(&log))),
                    Ok(Err((err, _))) => {
                        return Err(classify_handshake(observe_io(&err), &ctx(&log)))
                    }
                    Ok(Ok(tls)) => tls,
                };
                let session = tls.get_ref().1;
                let version = match session.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::V1_3,
                    _ => TlsVersion::V1_2,
                };
                peer_certificate = session
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| leaf.clone().into_owned());
                Stream::new(Io::Rustls(Box::new(tls)), address, self.mode, Some(version))
            }
            #[cfg(feature = "tls11")]
            Engine::OpenSsl(connector) => {
                let (sniff, log) = Sniff::new(tcp);
                let handshake =
                    super::openssl11::handshake(connector, sniff, verify_name, self.trust_all);
                let tls = match timeout(timeouts.handshake, handshake).await {
                    Err(_) => return Err(classify_handshake(timed_out(), &ctx(&log))),
                    Ok(Err(observed)) => return Err(classify_handshake(observed, &ctx(&log))),
                    Ok(Ok(tls)) => tls,
                };
                peer_certificate = tls
                    .ssl()
                    .peer_certificate()
                    .and_then(|leaf| leaf.to_der().ok())
                    .map(CertificateDer::from);
                Stream::new(
                    Io::OpenSsl(Box::new(tls)),
                    address,
                    self.mode,
                    Some(TlsVersion::V1_1),
                )
            }
        };
        // Logged by the caller, which knows the channel.
        let warning = self.trust_all.then_some(TRUST_ALL_WARNING);
        Ok(Connection {
            stream,
            warning,
            peer_certificate,
        })
    }
}

/// Resolves `host` and connects to each address in turn; the last failure is reported.
async fn tcp_connect(
    host: &str,
    port: u16,
    limit: Duration,
) -> Result<(TcpStream, SocketAddr), TransportError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| TransportError::Dns {
            host: host.to_owned(),
            detail: e.to_string(),
        })?
        .collect();
    let mut last = None;
    for address in addresses {
        let failure = match timeout(limit, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => return Ok((tcp, address)),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                TransportError::ConnectRefused { address }
            }
            Ok(Err(source)) => TransportError::ConnectFailed { address, source },
            Err(_) => TransportError::ConnectTimedOut {
                address,
                timeout: limit,
            },
        };
        last = Some(failure);
    }
    Err(last.unwrap_or_else(|| TransportError::Dns {
        host: host.to_owned(),
        detail: "no address found".into(),
    }))
}
