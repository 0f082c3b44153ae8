//! A deliberately small SMPP client on the codec: send a PDU, read the next frame.

use crate::support::hang_guard::HANG_GUARD;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use smppd::codec::pdu::{Bind, DeliverSmResp, SubmitSm};
use smppd::codec::{
    COctetString, CommandId, CommandStatus, Frame, Framer, Pdu, ShortMessage, Tlv, TlvTag, Tlvs,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::pki::{server_name, PemFiles};

/// Any byte stream the client can run over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One client connection.
pub struct Client {
    io: Box<dyn Io>,
    buf: BytesMut,
    framer: Framer,
    next_seq: u32,
}

impl Client {
    pub async fn tcp(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        Client::over(Box::new(tcp))
    }

    pub async fn tls(addr: SocketAddr, pki: &PemFiles, client_cert: bool) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = timeout(
            HANG_GUARD,
            pki.connector(client_cert).connect(server_name(), tcp),
        )
        .await
        .unwrap()
        .unwrap();
        Client::over(Box::new(tls))
    }

    pub fn over(io: Box<dyn Io>) -> Client {
        Client {
            io,
            buf: BytesMut::new(),
            framer: Framer::default(),
            next_seq: 1,
        }
    }

    /// Sends a request with the next sequence number; returns that number.
    pub async fn send(&mut self, pdu: &Pdu) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.send_with(pdu, seq, CommandStatus::EsmeRok).await;
        seq
    }

    pub async fn send_with(&mut self, pdu: &Pdu, seq: u32, status: CommandStatus) {
        let mut out = BytesMut::new();
        pdu.encode(seq, status, &mut out).unwrap();
        self.send_raw(&out).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// Writes octets, tolerating a server that already hung up (for hostile-input tests).
    pub async fn try_send_raw(&mut self, bytes: &[u8]) -> bool {
        self.io.write_all(bytes).await.is_ok() && self.io.flush().await.is_ok()
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Frame> {
        timeout(HANG_GUARD, async {
            loop {
                if let Some(f) = self.framer.decode(&mut self.buf).unwrap() {
                    return Some(f);
                }
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("hang guard: no frame and no close")
    }

    /// The next frame, which must exist.
    pub async fn expect(&mut self) -> Frame {
        self.recv().await.expect("connection closed")
    }

    /// Binds; returns the bind_resp's command_status.
    pub async fn bind(&mut self, id: CommandId, system_id: &str, password: &str) -> CommandStatus {
        let body = Bind {
            system_id: COctetString::new(Bytes::copy_from_slice(system_id.as_bytes())).unwrap(),
            password: COctetString::new(Bytes::copy_from_slice(password.as_bytes())).unwrap(),
            interface_version: 0x34,
            ..Bind::default()
        };
        let pdu = match id {
            CommandId::BindTransmitter => Pdu::BindTransmitter(body),
            CommandId::BindReceiver => Pdu::BindReceiver(body),
            _ => Pdu::BindTransceiver(body),
        };
        let seq = self.send(&pdu).await;
        let resp = self.expect().await;
        assert_eq!(resp.header.sequence_number, seq);
        assert_eq!(resp.header.command_id, id.response());
        resp.header.command_status
    }

    /// Sends a submit_sm; returns its sequence number.
    pub async fn submit(&mut self, text: &str, registered_delivery: u8, umr: Option<u16>) -> u32 {
        let pdu = Pdu::SubmitSm(submit_sm(text, registered_delivery, umr));
        self.send(&pdu).await
    }

    /// Answers a deliver_sm with ESME_ROK.
    pub async fn ack(&mut self, deliver: &Frame) {
        let resp = Pdu::DeliverSmResp(Some(DeliverSmResp::default()));
        self.send_with(
            &resp,
            deliver.header.sequence_number,
            CommandStatus::EsmeRok,
        )
        .await;
    }
}

/// A submit_sm from 1000 to 2000.
pub fn submit_sm(text: &str, registered_delivery: u8, umr: Option<u16>) -> SubmitSm {
    let mut tlvs = Tlvs::default();
    if let Some(r) = umr {
        tlvs.push(Tlv::u16(TlvTag::UserMessageReference, r).unwrap());
    }
    SubmitSm {
        source_addr: COctetString::new(&b"1000"[..]).unwrap(),
        destination_addr: COctetString::new(&b"2000"[..]).unwrap(),
        registered_delivery,
        short_message: ShortMessage::new(Bytes::copy_from_slice(text.as_bytes())).unwrap(),
        tlvs,
        ..SubmitSm::default()
    }
}

/// The message id of a submit_sm_resp frame.
pub fn message_id(frame: &Frame) -> String {
    match frame.pdu().unwrap() {
        Pdu::SubmitSmResp(Some(r)) => String::from_utf8(r.message_id.as_bytes().to_vec()).unwrap(),
        other => panic!("not a submit_sm_resp with a body: {other:?}"),
    }
}
