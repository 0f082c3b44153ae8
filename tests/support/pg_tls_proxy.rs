//! A TLS-terminating proxy in front of the PostgreSQL test server, which may offer no TLS
//! (or none a test can verify): it plays the server's side of PostgreSQL's TLS start-up
//! with a certificate of the test's choosing and pipes the decrypted bytes to the real
//! server over a plain connection.
//!
//! PostgreSQL's TLS starts in the clear: the client sends an 8-octet SSLRequest (length 8,
//! code 80877103) and the server answers one octet, `S` (a TLS handshake follows) or `N`
//! (no TLS; the client may go on in the clear). [`Offer::Tls`] answers `S`, [`Offer::NoTls`]
//! answers `N` as a server without TLS does, then pipes in the clear.

use crate::support::pg_upstream::{Server, Upstream};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
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
    handshakes: Arc<AtomicUsize>,
    closings: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

/// What every connection shares with the proxy's handle.
#[derive(Clone)]
struct Shared {
    upstream: Upstream,
    offer: Offer,
    handshakes: Arc<AtomicUsize>,
    closings: watch::Receiver<u64>,
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
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (closings, closed) = watch::channel(0);
        let shared = Shared {
            upstream,
            offer,
            handshakes: handshakes.clone(),
            closings: closed,
        };
        let task = tokio::spawn(accept_loop(listener, shared));
        PgTlsProxy {
            addr,
            user,
            dbname,
            handshakes,
            closings,
            task,
        }
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// Closes every open connection (both sides), as a server restart would; new
    /// connections are served as before.
    pub fn close_connections(&self) {
        self.closings.send_modify(|n| *n += 1);
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

async fn accept_loop(listener: TcpListener, shared: Shared) {
    let mut pipes = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        let _ = client.set_nodelay(true);
        let mut shared = shared.clone();
        // Only the closings after this connection was accepted end it.
        shared.closings.mark_unchanged();
        pipes.spawn(serve(client, shared));
        while pipes.try_join_next().is_some() {}
    }
}

/// One client: the TLS start-up as the offer says, then the bytes piped to the server
/// until either side ends or the proxy closes the connections. A client that does not
/// start with an SSLRequest, or fails the handshake, is dropped.
async fn serve(mut client: TcpStream, mut shared: Shared) {
    let mut request = [0u8; 8];
    if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
        return;
    }
    match shared.offer.clone() {
        Offer::NoTls => {
            if client.write_all(b"N").await.is_err() {
                return;
            }
            let Ok(mut server) = shared.upstream.connect().await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = shared.closings.changed() => {}
            }
        }
        Offer::Tls(config) => {
            if client.write_all(b"S").await.is_err() {
                return;
            }
            let Ok(mut tls) = TlsAcceptor::from(config).accept(client).await else {
                return;
            };
            shared.handshakes.fetch_add(1, Ordering::Relaxed);
            let Ok(mut server) = shared.upstream.connect().await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut tls, &mut server) => {}
                _ = shared.closings.changed() => {}
            }
        }
    }
}
