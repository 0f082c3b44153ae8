//! A TLS-terminating proxy in front of the PostgreSQL test server, which may offer no TLS
//! (or none a test can verify): it plays the server's side of PostgreSQL's TLS start-up
//! with a certificate of the test's choosing and pipes the decrypted bytes to the real
//! server over a plain connection.
//!
//! PostgreSQL's TLS starts in the clear: the client sends an 8-octet SSLRequest (length 8,
//! code 80877103) and the server answers one octet, `S` (a TLS handshake follows) or `N`
//! (no TLS; the client may go on in the clear). [`Offer::Tls`] answers `S`, [`Offer::NoTls`]
//! answers `N` as a server without TLS does, then pipes in the clear.

use super::upstream::{Server, Upstream};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// PostgreSQL's SSLRequest: the length (8) and the request code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// What the proxy answers an SSLRequest.
#[derive(Clone)]
pub enum Offer {
    /// `S`, then a TLS handshake with this server configuration.
    Tls(Arc<rustls::ServerConfig>),
    /// `N`: the server has no TLS.
    NoTls,
}

/// The running proxy, on a free loopback port; it stops when dropped.
pub struct PgTlsProxy {
    addr: SocketAddr,
    user: String,
    dbname: String,
    task: tokio::task::JoinHandle<()>,
}

impl PgTlsProxy {
    /// A proxy answering `offer`, in front of the server `server_url` names.
    pub async fn start(server_url: &str, offer: Offer) -> PgTlsProxy {
        let Server {
            upstream,
            user,
            dbname,
        } = Server::of(server_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(accept_loop(listener, upstream, offer));
        PgTlsProxy {
            addr,
            user,
            dbname,
            task,
        }
    }

    /// A URL through the proxy, as host `host` (a name the certificate may or may not
    /// hold; it must resolve to 127.0.0.1), with `schema` as the search path.
    pub fn url_as(&self, host: &str, schema: &str) -> String {
        format!(
            "postgres://{}@{host}:{}/{}?options=-c%20search_path%3D{schema}",
            self.user,
            self.addr.port(),
            self.dbname
        )
    }

    /// A URL through the proxy at 127.0.0.1, with `schema` as the search path.
    pub fn url(&self, schema: &str) -> String {
        self.url_as("127.0.0.1", schema)
    }
}

impl Drop for PgTlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: Upstream, offer: Offer) {
    let mut pipes = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        let _ = client.set_nodelay(true);
        pipes.spawn(serve(client, upstream.clone(), offer.clone()));
        while pipes.try_join_next().is_some() {}
    }
}

/// One client: the TLS start-up as `offer` says, then the bytes piped to the server. A
/// client that does not start with an SSLRequest, or fails the handshake, is dropped.
async fn serve(mut client: TcpStream, upstream: Upstream, offer: Offer) {
    let mut request = [0u8; 8];
    if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
        return;
    }
    match offer {
        Offer::NoTls => {
            if client.write_all(b"N").await.is_err() {
                return;
            }
            let Ok(mut server) = upstream.connect().await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
        Offer::Tls(config) => {
            if client.write_all(b"S").await.is_err() {
                return;
            }
            let Ok(mut tls) = TlsAcceptor::from(config).accept(client).await else {
                return;
            };
            let Ok(mut server) = upstream.connect().await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
        }
    }
}
