//! The accept loop: one task per client connection, TLS handshake included, until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info};

use super::connection;
use super::record::CloseReason;

/// A client gets this long to finish its TLS handshake, so that idle half-open connections do
/// not pile up on a long-running simulator.
const HANDSHAKE_GUARD: std::time::Duration = std::time::Duration::from_secs(30);
use super::record::ConnectionId;
use super::shared::Shared;

/// Accepts until `shutdown` turns true (or its sender goes away), then waits for every
/// connection task, which watch the same signal.
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    let mut tasks = JoinSet::new();
    let mut next_id: ConnectionId = 0;
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_id += 1;
                    let conn = Conn { id: next_id, peer, shared: shared.clone(), shutdown: shutdown.clone() };
                    tasks.spawn(conn.serve(stream, tls.clone()));
                }
                // Out of file descriptors and the like: keep serving the existing sessions.
                Err(e) => debug!(event = "simulator_accept_failed", error = %e, "simulator accept failed"),
            },
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

struct Conn {
    id: ConnectionId,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
}

impl Conn {
    async fn serve(mut self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let _ = stream.set_nodelay(true);
        self.shared.recorder.connected(self.id, self.peer);
        let close_early = self.shared.faults().close_after_handshake;
        let reason = match tls {
            None if close_early => {
                drop(stream);
                CloseReason::CloseAfterHandshake
            }
            None => connection::serve(stream, self.id, self.shared.clone(), self.shutdown).await,
            Some(acceptor) => {
                // A client that never finishes its handshake must not hold up shutdown.
                let handshake = tokio::select! {
                    r = tokio::time::timeout(HANDSHAKE_GUARD, acceptor.accept(stream)) => {
                        Some(r.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())))
                    }
                    _ = self.shutdown.wait_for(|stop| *stop) => None,
                };
                match handshake {
                    None => CloseReason::Shutdown,
                    Some(Ok(mut tls)) if close_early => {
                        let _ = tls.shutdown().await;
                        CloseReason::CloseAfterHandshake
                    }
                    Some(Ok(tls)) => {
                        connection::serve(tls, self.id, self.shared.clone(), self.shutdown).await
                    }
                    Some(Err(e)) => {
                        info!(
                            event = "simulator_tls_handshake_failed",
                            connection = self.id,
                            peer = %self.peer,
                            error = %e,
                            "simulator TLS handshake failed"
                        );
                        CloseReason::TlsHandshakeFailed(e.to_string())
                    }
                }
            }
        };
        self.shared.registry.unregister(self.id);
        self.shared.recorder.closed(self.id, reason);
    }
}
