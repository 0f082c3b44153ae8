//! Loopback ports for tests that need one nothing answers on.

use std::net::{SocketAddr, TcpListener};

/// A loopback address on which nothing listens: bound, then released. A connection to it is
/// refused, until a server the test starts later takes it.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("its address")
}
