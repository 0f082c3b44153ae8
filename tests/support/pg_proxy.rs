//! A TCP proxy between the nodes and the PostgreSQL test server that a test can cut and
//! restore: the database becoming unreachable without touching the machine's shared server.
//!
//! A cut is made to look like a network partition as the nodes see it, the hard case for
//! them: their open connections go silent (no FIN, no RST; what they send is neither
//! answered nor refused), and a new connection is accepted but gets nothing, so a node only
//! learns of the cut through its own timeouts. The server's side of each open connection is
//! closed at once, as if the server had noticed the dead peer (TCP keep-alive): its backend
//! rolls back and releases its locks, so that what the nodes find after the restore is the
//! database as a partition leaves it, not sessions of the test's own making holding locks.
//! On restore the silenced connections are reset (as a node's retransmission reaching a
//! server that no longer knows the connection would be), and the connections made during
//! the cut are put through, like a connection attempt whose retries succeed.

use std::net::SocketAddr;

use crate::support::pg_upstream::{Server, Upstream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The running proxy; it stops when dropped (with the test's runtime).
pub struct PgProxy {
    addr: SocketAddr,
    user: String,
    dbname: String,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl PgProxy {
    /// A proxy to the server `server_url` names (TCP or a Unix socket directory), listening
    /// on a free loopback port.
    pub async fn start(server_url: &str) -> PgProxy {
        let Server {
            upstream,
            user,
            dbname,
        } = Server::of(server_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let task = tokio::spawn(accept_loop(listener, upstream, up.subscribe()));
        PgProxy {
            addr,
            user,
            dbname,
            up,
            task,
        }
    }

    /// A URL through the proxy with `schema` as the search path (no password: the test
    /// server trusts its clients).
    pub fn url(&self, schema: &str) -> String {
        format!(
            "postgres://{}@{}/{}?options=-c%20search_path%3D{schema}",
            self.user, self.addr, self.dbname
        )
    }

    /// Makes the database unreachable (see the module documentation).
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Makes it reachable again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: Upstream, up: watch::Receiver<bool>) {
    let mut pipes = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        let _ = client.set_nodelay(true);
        pipes.spawn(pipe(client, upstream.clone(), up.clone()));
        // Reap the finished ones as we go.
        while pipes.try_join_next().is_some() {}
    }
    // The JoinSet aborts the pipes still running when the loop ends (the proxy dropped).
}

/// One client connection: put through while the database is reachable; silenced by a cut
/// and reset by the restore.
async fn pipe(mut client: TcpStream, upstream: Upstream, mut up: watch::Receiver<bool>) {
    // A connection made during a cut waits, unread, for the restore.
    if up.wait_for(|up| *up).await.is_err() {
        return;
    }
    let Ok(mut server) = upstream.connect().await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        _ = up.wait_for(|up| !*up) => {}
    }
    // Cut: the server's side closes now; the client's side stays open and silent.
    drop(server);
    let _ = up.wait_for(|up| *up).await;
    // Restored: a reset, as from a server that no longer knows this connection.
    let _ = client.set_zero_linger();
    drop(client);
}
