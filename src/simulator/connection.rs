//! One client connection: placeholder until the codec lands; closes the connection at once.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::record::ConnectionId;
use super::shared::Shared;

/// Serves one connection until it closes or the simulator shuts down.
pub(crate) async fn serve<S>(
    stream: S,
    _id: ConnectionId,
    _shared: &Shared,
    _shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    drop(stream);
}
