//! A scripted SMSC for the session tests: the codec on one side of a connection, and helpers
//! to read and answer PDUs one at a time so each test states the SMSC's behaviour explicitly.
//!
//! Tests on the real clock use loopback TCP ([`pair`]). Tests on tokio's paused clock use an
//! in-memory pipe ([`memory_pair`]): the paused clock jumps ahead whenever every task waits,
//! and bytes still inside the kernel's loopback path would let it jump past a deadline the
//! test did not mean to reach. In memory, a written byte is readable at once.

use crate::support::events::split_events;
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use smppd::codec::pdu::{BindResp, SubmitSm, SubmitSmResp};
use smppd::codec::{COctetString, CommandId, CommandStatus, Framer, Header, Pdu, ShortMessage};
use smppd::secret::Secret;
use smppd::session::{
    Counters, Inbound, OutboundMessage, RecordWindow, Session, SessionEnd, SessionIo,
    SessionParams, SubmitOutcome,
};

/// Any stream a test session can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// The SMSC side of one connection.
pub struct Peer<S = TcpStream> {
    stream: S,
    buf: BytesMut,
    framer: Framer,
}

/// A connected pair over loopback TCP: the client stream for the session, the peer for the test.
pub async fn pair() -> (TcpStream, Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, accepted) = (client.unwrap(), accepted.unwrap().0);
    // Small PDUs must not wait for Nagle's algorithm.
    client.set_nodelay(true).unwrap();
    accepted.set_nodelay(true).unwrap();
    (client, Peer::new(accepted))
}

/// A connected in-memory pair, for tests on the paused clock.
pub fn memory_pair() -> (DuplexStream, Peer<DuplexStream>) {
    let (client, server) = tokio::io::duplex(256 * 1024);
    (client, Peer::new(server))
}

impl<S: Stream> Peer<S> {
    fn new(stream: S) -> Self {
        Peer {
            stream,
            buf: BytesMut::new(),
            framer: Framer::default(),
        }
    }

    /// The next PDU, or `None` when the session closed the connection.
    pub async fn read(&mut self) -> Option<(Header, Pdu)> {
        loop {
            if let Some(frame) = self.framer.decode(&mut self.buf).unwrap() {
                let pdu = frame.pdu().expect("the session sent a malformed PDU");
                return Some((frame.header, pdu));
            }
            if self.stream.read_buf(&mut self.buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    /// The next PDU, which must exist.
    pub async fn expect(&mut self) -> (Header, Pdu) {
        self.read().await.expect("connection closed early")
    }

    /// Sends one PDU.
    pub async fn send(&mut self, pdu: Pdu, sequence: u32, status: CommandStatus) {
        let mut out = BytesMut::new();
        pdu.encode(sequence, status, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends raw octets (malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads the bind and answers it with `status`; returns the bind's command id.
    pub async fn answer_bind(&mut self, status: CommandStatus) -> (CommandId, Pdu) {
        let (h, pdu) = self.expect().await;
        let body = Some(BindResp {
            system_id: COctetString::new(&b"SIM"[..]).unwrap(),
            ..Default::default()
        });
        let resp = match h.command_id {
            CommandId::BindTransmitter => Pdu::BindTransmitterResp(body),
            CommandId::BindReceiver => Pdu::BindReceiverResp(body),
            CommandId::BindTransceiver => Pdu::BindTransceiverResp(body),
            other => panic!("expected a bind, got {}", other.name()),
        };
        self.send(resp, h.sequence_number, status).await;
        (h.command_id, pdu)
    }

    /// Answers a submit_sm with `status` and message id `m<sequence>`.
    pub async fn answer_submit(&mut self, sequence: u32, status: CommandStatus) {
        let body = SubmitSmResp {
            message_id: COctetString::new(format!("m{sequence}").into_bytes()).unwrap(),
        };
        let body = (status == CommandStatus::EsmeRok).then_some(body);
        self.send(Pdu::SubmitSmResp(body), sequence, status).await;
    }

    /// Closes the connection abruptly.
    pub fn drop_connection(self) {}
}

/// Session parameters for tests: a transceiver bind as `esme`/`secret`.
pub fn params() -> SessionParams {
    SessionParams::new("esme", Secret::new("secret")).unwrap()
}

/// A message with id `id`.
pub fn message(id: u64) -> OutboundMessage {
    OutboundMessage::new(
        id,
        SubmitSm {
            destination_addr: COctetString::new(&b"447700900000"[..]).unwrap(),
            short_message: ShortMessage::new(format!("message {id}").into_bytes()).unwrap(),
            ..Default::default()
        },
    )
}

/// The layer above, as seen by a test: queue in, outcomes and inbound out, a stop switch.
pub struct Upper {
    pub queue: mpsc::Sender<OutboundMessage>,
    pub outcomes: mpsc::UnboundedReceiver<SubmitOutcome>,
    pub inbound: mpsc::UnboundedReceiver<Inbound>,
    pub stop: watch::Sender<bool>,
    pub counters: Arc<Counters>,
    pub session: JoinHandle<SessionEnd>,
    /// The session's licence to write (open until a test closes it).
    pub gate: smppd::session::SendGate,
}

/// Runs a bound session in its own task with `resend` handed to it first.
pub fn run<S: Stream>(
    session: Session<S>,
    resend: Vec<OutboundMessage>,
    counters: Arc<Counters>,
) -> Upper {
    run_with(session, resend, counters, None)
}

/// Like [`run`], with submits holding places in `record` until their outcomes are dropped.
pub fn run_with<S: Stream>(
    session: Session<S>,
    resend: Vec<OutboundMessage>,
    counters: Arc<Counters>,
    record: Option<RecordWindow>,
) -> Upper {
    let (queue, mut queue_rx) = mpsc::channel(1000);
    let (events, outcomes, inbound) = split_events();
    let (stop, stop_rx) = watch::channel(false);
    let task_counters = counters.clone();
    let gate = smppd::session::SendGate::always();
    let session_gate = gate.clone();
    let session = tokio::spawn(async move {
        session
            .run(SessionIo {
                queue: &mut queue_rx,
                resend: VecDeque::from(resend),
                events,
                stop: stop_rx,
                counters: task_counters,
                gate: session_gate,
                record,
            })
            .await
    });
    Upper {
        queue,
        outcomes,
        inbound,
        stop,
        counters,
        session,
        gate,
    }
}

/// Binds over a fresh loopback pair with `params`, the peer accepting, and runs the session.
pub async fn bound(params: SessionParams, resend: Vec<OutboundMessage>) -> (Upper, Peer) {
    bound_with(params, resend, Arc::new(Counters::default())).await
}

/// Like [`bound`], keeping channel totals in `counters`.
pub async fn bound_with(
    params: SessionParams,
    resend: Vec<OutboundMessage>,
    counters: Arc<Counters>,
) -> (Upper, Peer) {
    let (client, peer) = pair().await;
    bind_over(client, peer, params, resend, counters, None).await
}

/// Like [`bound`], with a record window of `places`.
pub async fn bound_recorded(params: SessionParams, places: usize) -> (Upper, Peer) {
    let (client, peer) = pair().await;
    let record = Some(RecordWindow::new(places));
    let counters = Arc::new(Counters::default());
    bind_over(client, peer, params, Vec::new(), counters, record).await
}

/// Like [`bound`], over an in-memory pipe (for tests on the paused clock).
pub async fn bound_in_memory(
    params: SessionParams,
    resend: Vec<OutboundMessage>,
) -> (Upper, Peer<DuplexStream>) {
    let (client, peer) = memory_pair();
    bind_over(
        client,
        peer,
        params,
        resend,
        Arc::new(Counters::default()),
        None,
    )
    .await
}

async fn bind_over<S: Stream>(
    client: S,
    mut peer: Peer<S>,
    params: SessionParams,
    resend: Vec<OutboundMessage>,
    counters: Arc<Counters>,
    record: Option<RecordWindow>,
) -> (Upper, Peer<S>) {
    let (session, _) = tokio::join!(
        Session::bind(client, params),
        peer.answer_bind(CommandStatus::EsmeRok)
    );
    (run_with(session.unwrap(), resend, counters, record), peer)
}
