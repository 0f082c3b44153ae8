//! An in-memory ESME for the tests: encodes PDUs with the codec, feeds them to a
//! [`ServerSession`] on a clock advanced by hand, and frames what the core writes back.

use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::codec::pdu::{Bind, DeliverSm, SubmitSm};
use crate::codec::{COctetString, CommandId, CommandStatus, Frame, Framer, Pdu, ShortMessage};

use super::{BindMode, ServerEvent, ServerParams, ServerSession, Token};

/// One client and the server core it talks to.
pub(super) struct Client {
    pub(super) server: ServerSession,
    pub(super) now: Instant,
    next_sequence: u32,
    /// What the core wrote and the client has not framed yet.
    wire: BytesMut,
}

/// The parameters the tests start from: small limits so that each is reached quickly.
pub(super) fn params() -> ServerParams {
    ServerParams {
        system_id: "smppd-test".to_owned(),
        max_pdu_len: 1024,
        bind_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        response_timeout: Duration::from_secs(5),
        deliver_window: 2,
        max_pending: 3,
    }
}

/// The octets of `pdu` as a client sends it.
pub(super) fn encode(pdu: &Pdu, seq: u32) -> BytesMut {
    let mut buf = BytesMut::new();
    pdu.encode(seq, CommandStatus::EsmeRok, &mut buf)
        .expect("test PDUs encode");
    buf
}

/// A bind request of `mode` as `esme` / `secret`.
pub(super) fn bind_pdu(mode: BindMode) -> Pdu {
    let bind = Bind {
        system_id: COctetString::new("esme").unwrap(),
        password: COctetString::new("secret").unwrap(),
        interface_version: 0x34,
        ..Bind::default()
    };
    match mode {
        BindMode::Transmitter => Pdu::BindTransmitter(bind),
        BindMode::Receiver => Pdu::BindReceiver(bind),
        BindMode::Transceiver => Pdu::BindTransceiver(bind),
    }
}

/// A submit_sm with `text`.
pub(super) fn submit_pdu(text: &str) -> Pdu {
    Pdu::SubmitSm(SubmitSm {
        source_addr: COctetString::new("100").unwrap(),
        destination_addr: COctetString::new("4479000000").unwrap(),
        short_message: ShortMessage::new(text.as_bytes().to_vec()).unwrap(),
        ..SubmitSm::default()
    })
}

/// A deliver_sm with `text`, as the daemon hands it to the core.
pub(super) fn deliver_pdu(text: &str) -> DeliverSm {
    DeliverSm {
        source_addr: COctetString::new("4479000000").unwrap(),
        destination_addr: COctetString::new("100").unwrap(),
        short_message: ShortMessage::new(text.as_bytes().to_vec()).unwrap(),
        ..DeliverSm::default()
    }
}

impl Client {
    pub(super) fn new(params: ServerParams) -> Self {
        let now = Instant::now();
        Client {
            server: ServerSession::new(params, now),
            now,
            next_sequence: 1,
            wire: BytesMut::new(),
        }
    }

    /// Sends `pdu` with the client's next sequence number, which it returns.
    pub(super) fn send(&mut self, pdu: &Pdu) -> u32 {
        let seq = self.next_sequence;
        self.next_sequence += 1;
        self.send_raw(&encode(pdu, seq));
        seq
    }

    /// Answers a PDU of the server's with `pdu`, `status` and the server's `seq`.
    pub(super) fn answer(&mut self, pdu: &Pdu, status: CommandStatus, seq: u32) {
        let mut buf = BytesMut::new();
        pdu.encode(seq, status, &mut buf).expect("test PDUs encode");
        self.send_raw(&buf);
    }

    /// Feeds octets as one read; whatever the core leaves is a partial PDU.
    pub(super) fn send_raw(&mut self, octets: &[u8]) {
        let mut buf = BytesMut::from(octets);
        self.server.handle_bytes(&mut buf, self.now);
    }

    /// Moves the clock on and lets the core act on its deadlines.
    pub(super) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.server.handle_timeout(self.now);
    }

    /// Every PDU the core has written since the last call.
    pub(super) fn received(&mut self) -> Vec<Frame> {
        self.server.poll_transmit(&mut self.wire);
        let framer = Framer::default();
        let mut frames = Vec::new();
        while let Some(frame) = framer
            .decode(&mut self.wire)
            .expect("the core frames correctly")
        {
            frames.push(frame);
        }
        assert!(self.wire.is_empty(), "the core wrote a partial PDU");
        frames
    }

    /// The one PDU the core has written: its command id, status and sequence number.
    pub(super) fn one(&mut self) -> (CommandId, CommandStatus, u32) {
        let frames = self.received();
        let [frame] = frames.as_slice() else {
            panic!("expected one PDU, got {frames:?}");
        };
        let h = frame.header;
        (h.command_id, h.command_status, h.sequence_number)
    }

    /// Every event the core has raised since the last call.
    pub(super) fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    /// The one event raised: its token, if it carries one.
    pub(super) fn token(&mut self) -> Token {
        match self.events().as_slice() {
            [ServerEvent::BindRequested { token, .. }]
            | [ServerEvent::Submit { token, .. }]
            | [ServerEvent::Query { token, .. }] => *token,
            other => panic!("expected one request event, got {other:?}"),
        }
    }

    /// Binds in `mode`, accepted by the daemon.
    pub(super) fn bind(&mut self, mode: BindMode) {
        self.send(&bind_pdu(mode));
        let token = self.token();
        self.server.answer_bind(token, Ok(()), self.now);
        let (_, status, _) = self.one();
        assert_eq!(status, CommandStatus::EsmeRok);
    }

    /// Queues a deliver_sm keyed `key`; returns the sequence number it went out with.
    pub(super) fn deliver(&mut self, key: u64) -> u32 {
        self.server
            .deliver(key, deliver_pdu("mo"), self.now)
            .expect("the core takes the deliver_sm");
        let (id, _, seq) = self.one();
        assert_eq!(id, CommandId::DeliverSm);
        seq
    }
}
