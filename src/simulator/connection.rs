//! The async driver of one client connection: reads and frames bytes, feeds them to the
//! connection's [`Smsc`] state, and carries out the [`Action`]s it returns; a writer task owns
//! the socket's write half.
//!
//! Responses go through a channel to the writer so that a response delay (a fault) can hold
//! one response without holding up reading: that is what lets the record see how many submits
//! a client really keeps in flight. Immediate answers are gathered while one read's worth of
//! PDUs is handled and go to the writer as one buffer, written with one call: a loaded SMSC
//! answers a window of submits in a few segments, not one system call per response. The
//! channel is bounded: a client that keeps sending but never reads fills it, and is then
//! disconnected instead of growing the server's memory. A misbehaving client only ever ends
//! its own connection; nothing here panics on input.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, watch};
use tracing::debug;

use crate::codec::{CommandId, CommandStatus, Framer, Header};

use super::record::{CloseReason, ConnectionId, DeliverKind};
use super::registry::Delivery;
use super::shared::Shared;
use super::smsc::{Action, Smsc};
use super::wire;

/// How long a closing connection waits for its last PDUs (unbind_resp, generic_nack) to be
/// written: only a hang guard against a client that stopped reading.
const FLUSH_GUARD: Duration = Duration::from_secs(5);

/// How long a connection cut by the drop fault keeps discarding the client's input after its
/// FIN, so that closing does not reset the connection over answers not yet read. A client
/// closes as soon as it sees the FIN; this only bounds one that does not.
const LINGER: Duration = Duration::from_secs(1);

/// Octets queued for one client's socket (one read's answers per buffer, or one delayed
/// response) before the client counts as not reading.
const WRITE_QUEUE_BYTES: usize = 1 << 20;

/// Buffers the writer's channel holds; the byte bound above is the one that decides.
const WRITE_QUEUE: usize = 4096;

/// The most deliveries (receipts, MO) put into one write.
const DELIVERY_BURST: usize = 1024;

/// The size of one batch of answers handed to the writer. Allocated whole, a batch never
/// grows by reallocation; a burst larger than this goes out as several batches. (Batches
/// grown to a few hundred KiB went to fresh pages the kernel had to zero: a third of the
/// simulator's CPU while a backlog drained.)
const BATCH_BYTES: usize = 64 * 1024;

/// What the writer task is told.
enum Out {
    /// Write these octets, holding this many submit_sm_resp: the record counts as many
    /// outstanding submits less once they are written.
    Pdu(Bytes, u64),
    /// Flush and close the write side.
    Close,
}

/// How a session ended.
#[derive(PartialEq, Eq)]
enum End {
    /// Flush what is queued, then close (unbind, framing error).
    Close,
    /// Close at once (peer gone, client not reading, shutdown).
    Abort,
    /// The drop fault: flush the answers already queued, then close, reading nothing more.
    Cut,
}

/// Serves one connection until it closes or the simulator shuts down; says why it ended.
pub(crate) async fn serve<S>(
    stream: S,
    id: ConnectionId,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> CloseReason
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(stream);
    let (out, out_rx) = mpsc::channel(WRITE_QUEUE);
    let queued = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write_loop(wr, out_rx, queued.clone(), shared.clone(), id));
    let (deliveries, mut deliveries_rx) = mpsc::unbounded_channel();
    let framer = Framer::new(u32::try_from(shared.max_pdu_size).unwrap_or(u32::MAX));
    let mut driver = Driver {
        id,
        shared,
        out,
        deliveries,
        stalled: false,
        queued,
        batch: BytesMut::new(),
        batch_submit_responses: 0,
    };
    let mut smsc = Smsc::new(id);
    let mut buf = BytesMut::with_capacity(4096);
    let mut actions = Vec::new();
    let (end, reason) = 'session: loop {
        // One clock reading per read: the receipts' dates need seconds, not nanoseconds.
        let now = SystemTime::now();
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    smsc.handle(&frame, &driver.shared, now, &mut actions);
                    match driver.run(&mut actions) {
                        Some(End::Cut) => break 'session (End::Cut, CloseReason::DropFault),
                        Some(end) => break 'session (end, CloseReason::Unbound),
                        None => {}
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream can no longer be split into PDUs: say so and hang up.
                    debug!(
                        event = "simulator_framing_error",
                        connection = id,
                        error = %e,
                        "simulator framing error; closing"
                    );
                    let seq = Header::peek(&buf).map_or(0, |h| h.sequence_number);
                    let nack = CommandStatus::EsmeRinvcmdlen;
                    let bytes = wire::header_only(CommandId::GenericNack, nack, seq);
                    driver.run(&mut vec![Action::Send(bytes)]);
                    break 'session (End::Close, CloseReason::FramingError(e.to_string()));
                }
            }
        }
        driver.flush();
        if driver.stalled {
            debug!(
                event = "simulator_client_not_reading",
                connection = id,
                "simulator client stopped reading; closing"
            );
            break (End::Abort, CloseReason::NotReading);
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => break (End::Abort, CloseReason::ClientClosed),
                Err(e) => break (End::Abort, CloseReason::ReadFailed(e.to_string())),
                Ok(_) => {}
            },
            Some(d) = deliveries_rx.recv() => {
                // Every delivery already waiting goes out in the same write: one system
                // call for a burst of receipts rather than one each.
                let mut next = Some(d);
                let mut taken = 0;
                while let Some(d) = next.take() {
                    match smsc.deliver(d, &driver.shared) {
                        Ok(Some(action)) => {
                            driver.run(&mut vec![action]);
                        }
                        Ok(None) => {}
                        Err(d) => driver.requeue(*d),
                    }
                    taken += 1;
                    if taken < DELIVERY_BURST {
                        next = deliveries_rx.try_recv().ok();
                    }
                }
                driver.flush();
            }
            _ = shutdown.wait_for(|stop| *stop) => break (End::Abort, CloseReason::Shutdown),
        }
    };
    // The answers decided before the end (unbind_resp, a last generic_nack, the responses
    // ahead of a cut) still go out.
    driver.flush();
    driver.shared.registry.unregister(id);
    // Deliveries routed here but not sent, and receipts sent but not answered, go back to
    // their account's queue.
    deliveries_rx.close();
    while let Ok(d) = deliveries_rx.try_recv() {
        driver.requeue(d);
    }
    for d in smsc.close() {
        driver.shared.registry.route_or_queue(None, d);
    }
    match end {
        End::Close => {
            let _ = driver.out.try_send(Out::Close);
            drop(driver);
            let _ = tokio::time::timeout(FLUSH_GUARD, writer).await;
        }
        End::Cut => {
            let _ = driver.out.try_send(Out::Close);
            drop(driver);
            let _ = tokio::time::timeout(FLUSH_GUARD, writer).await;
            // Closing a socket with unread input makes the kernel send RST, which may destroy
            // the answers just flushed before the client reads them. Discard what the client
            // still sends until it closes too (it sees our FIN after the answers).
            let discard = async {
                let mut sink = [0u8; 4096];
                while matches!(rd.read(&mut sink).await, Ok(n) if n > 0) {}
            };
            tokio::select! {
                _ = tokio::time::timeout(LINGER, discard) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        End::Abort => writer.abort(),
    }
    reason
}

async fn write_loop<W: AsyncWrite>(
    mut wr: WriteHalf<W>,
    mut rx: mpsc::Receiver<Out>,
    queued: Arc<AtomicUsize>,
    shared: Arc<Shared>,
    id: ConnectionId,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Out::Pdu(bytes, submit_responses) => {
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
                queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                if submit_responses > 0 {
                    shared.recorder.responded(id, submit_responses);
                }
            }
            Out::Close => {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                break;
            }
        }
    }
}

/// Carries out actions for one connection.
struct Driver {
    id: ConnectionId,
    shared: Arc<Shared>,
    out: mpsc::Sender<Out>,
    deliveries: mpsc::UnboundedSender<Delivery>,
    /// Set when the write queue overflowed: the client is not reading its responses.
    stalled: bool,
    /// Octets handed to the writer and not yet written.
    queued: Arc<AtomicUsize>,
    /// Immediate answers not yet handed to the writer; see [`Driver::flush`].
    batch: BytesMut,
    /// How many of them are submit_sm_resp.
    batch_submit_responses: u64,
}

impl Driver {
    /// Runs `actions` in order, leaving the vector empty; returns how the session ends if one
    /// of them ends it. Immediate answers are appended to the batch, in order.
    fn run(&mut self, actions: &mut Vec<Action>) -> Option<End> {
        for action in actions.drain(..) {
            match action {
                Action::Respond {
                    bytes,
                    after,
                    submit_response,
                } if after.is_zero() => self.append(&bytes, submit_response),
                Action::Respond {
                    bytes,
                    after,
                    submit_response,
                } => {
                    let out = self.out.clone();
                    self.queued.fetch_add(bytes.len(), Ordering::Relaxed);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        // Waiting for room is fine here: this task holds nothing else up, and
                        // it ends when the connection does (the receiver goes away).
                        let responses = u64::from(submit_response);
                        let _ = out.send(Out::Pdu(bytes, responses)).await;
                    });
                }
                Action::Send(bytes) => self.append(&bytes, false),
                Action::Register(record) => {
                    self.shared.registry.register(
                        self.id,
                        &record.system_id,
                        record.mode,
                        self.deliveries.clone(),
                    );
                    self.shared.recorder.bind(record);
                }
                Action::Unregister => self.shared.registry.unregister(self.id),
                Action::Receipt { delivery, after } if after.is_zero() => {
                    // No timer task for a receipt due now: routed at once, it joins the
                    // burst the connection writes next.
                    self.shared.registry.route_or_queue(Some(self.id), delivery);
                }
                Action::Receipt { delivery, after } => {
                    let shared = self.shared.clone();
                    let preferred = Some(self.id);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        shared.registry.route_or_queue(preferred, delivery);
                    });
                }
                Action::Close => return Some(End::Close),
                Action::Cut => return Some(End::Cut),
            }
        }
        None
    }

    /// Adds an immediate answer to the batch (handing a full batch to the writer first).
    fn append(&mut self, bytes: &[u8], submit_response: bool) {
        if !self.batch.is_empty() && self.batch.len() + bytes.len() > BATCH_BYTES {
            self.flush();
        }
        if self.batch.capacity() - self.batch.len() < bytes.len() {
            self.batch.reserve(BATCH_BYTES.max(bytes.len()));
        }
        self.batch.extend_from_slice(bytes);
        self.batch_submit_responses += u64::from(submit_response);
    }

    /// Hands the batched answers to the writer as one buffer.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let bytes = self.batch.split().freeze();
        let responses = std::mem::take(&mut self.batch_submit_responses);
        self.queue(bytes, responses);
    }

    /// Puts an undelivered receipt back in its account's queue; MO deliveries are not queued
    /// (dropping the reply channel tells the injector the session closed).
    fn requeue(&self, d: Delivery) {
        if matches!(d.kind, DeliverKind::Receipt { .. }) {
            self.shared.registry.route_or_queue(None, d);
        }
    }

    fn queue(&mut self, bytes: Bytes, submit_responses: u64) {
        let len = bytes.len();
        if self.queued.load(Ordering::Relaxed) + len > WRITE_QUEUE_BYTES {
            self.stalled = true;
            return;
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.out.try_send(Out::Pdu(bytes, submit_responses))
        {
            self.stalled = true;
        }
    }
}
