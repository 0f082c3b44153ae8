//! smppd's own client session bound to the server core over an in-memory pipe: the two sides
//! of the protocol, written apart, must agree on the wire. The small async driver here is
//! also the shape a real one takes around [`ServerSession`].

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, watch};

use crate::codec::pdu::SubmitSm;
use crate::codec::{COctetString, CommandStatus, ShortMessage};
use crate::secret::Secret;
use crate::session::{
    Counters, EndReason, OutboundMessage, SendGate, Session, SessionEvent, SessionIo,
    SessionParams, SubmitOutcome,
};

use super::client::{deliver_pdu, params};
use super::{CloseReason, ServerEvent, ServerSession};

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Drives one server session over `stream` until it closes, playing a daemon that accepts
/// `esme` / `secret`, gives each submit an id, and delivers one message once bound. Every
/// event the core raises goes to `seen`.
async fn serve(stream: DuplexStream, seen: mpsc::UnboundedSender<ServerEvent>) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut server = ServerSession::new(params(), now());
    let mut inbuf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut submits = 0;
    loop {
        while let Some(event) = server.poll_event() {
            match &event {
                ServerEvent::BindRequested {
                    token,
                    system_id,
                    password,
                    ..
                } => {
                    let known = system_id == "esme" && password.expose() == "secret";
                    let answer = if known {
                        Ok(())
                    } else {
                        Err(CommandStatus::EsmeRinvpaswd)
                    };
                    server.answer_bind(*token, answer, now());
                    if known {
                        server
                            .deliver(7, deliver_pdu("hello client"), now())
                            .expect("room to deliver once bound");
                    }
                }
                ServerEvent::Submit { token, .. } => {
                    server.answer_submit(*token, Ok(format!("id-{submits}")), now());
                    submits += 1;
                }
                _ => {}
            }
            let _ = seen.send(event);
        }
        if server.poll_transmit(&mut out) {
            writer.write_all(&out).await.expect("pipe open");
            out.clear();
        }
        if server.is_closed() {
            return;
        }
        let deadline = server
            .next_deadline()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            read = reader.read_buf(&mut inbuf) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => server.handle_bytes(&mut inbuf, now()),
            },
            () = tokio::time::sleep_until(deadline) => server.handle_timeout(now()),
        }
    }
}

/// The core's next event, within a generous bound.
async fn next_seen(seen: &mut mpsc::UnboundedReceiver<ServerEvent>) -> Option<ServerEvent> {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("the core reports in time")
}

#[tokio::test]
async fn our_client_binds_submits_receives_and_unbinds_against_the_core() {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(server_end, seen_tx));

    let session_params = SessionParams::new("esme", Secret::new("secret")).unwrap();
    let session = Session::bind(client_end, session_params)
        .await
        .expect("the core accepts the bind");
    assert_eq!(session.smsc_system_id(), "smppd-test");

    let (queue_tx, mut queue) = mpsc::channel(4);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);
    let submit = SubmitSm {
        source_addr: COctetString::new("100").unwrap(),
        destination_addr: COctetString::new("4479000000").unwrap(),
        short_message: ShortMessage::new(b"hello server".to_vec()).unwrap(),
        ..SubmitSm::default()
    };
    queue_tx
        .send(OutboundMessage::new(1, submit))
        .await
        .unwrap();
    let run = tokio::spawn(async move {
        session
            .run(SessionIo {
                queue: &mut queue,
                resend: Default::default(),
                events: events_tx,
                stop,
                counters: Arc::new(Counters::default()),
                gate: SendGate::always(),
                record: None,
            })
            .await
    });

    let (mut accepted, mut received) = (None, None);
    while accepted.is_none() || received.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("the session reports in time")
            .expect("the session runs");
        match event {
            SessionEvent::Outcome(SubmitOutcome::Accepted { message_id, .. }) => {
                accepted = Some(message_id)
            }
            SessionEvent::Outcome(other) => panic!("submit not accepted: {other:?}"),
            SessionEvent::Inbound(inbound) => {
                received = Some(inbound.is_receipt);
                inbound.accept();
            }
        }
    }
    assert_eq!(accepted.as_deref(), Some("id-0"));
    assert_eq!(received, Some(false));

    // Stop only once the core has the deliver_sm_resp: the client may write its unbind
    // before a verdict given just before it is stopped, and the core closes on unbind.
    let mut tail = Vec::new();
    loop {
        match next_seen(&mut seen).await {
            Some(ServerEvent::BindRequested { .. } | ServerEvent::Submit { .. }) => {}
            Some(event @ ServerEvent::Delivered { .. }) => break tail.push(event),
            other => panic!("before the delivery was answered: {other:?}"),
        }
    }
    stop_tx.send(true).unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the session stops in time")
        .unwrap();
    assert!(matches!(end.result, Ok(EndReason::Stopped)), "{end:?}");
    while let Some(event) = next_seen(&mut seen).await {
        tail.push(event);
    }
    server.await.unwrap();
    assert_eq!(
        tail,
        [
            ServerEvent::Delivered {
                key: 7,
                status: CommandStatus::EsmeRok
            },
            ServerEvent::Unbound,
            ServerEvent::Closed {
                reason: CloseReason::ClientUnbind
            },
        ]
    );
}
