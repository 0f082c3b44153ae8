//! The webhook receiver of `load soak`: an HTTP server in the tool's process that records
//! every event it answers 2xx, and that misbehaves on demand (503, connections refused,
//! answers that never come, answers that come too late).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How the receiver behaves right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// 200 to every POST, which is recorded.
    Healthy = 0,
    /// 503 to every POST (nothing recorded).
    Unavailable = 1,
    /// The listening socket is closed and open connections are cut: connections refused.
    Closed = 2,
    /// POSTs are read and never answered (the daemon's timeout fires).
    Hang = 3,
    /// POSTs are recorded and answered 200 only after the daemon's timeout: the daemon
    /// sends them again, and the receiver sees repeats of the same event_id.
    Late = 4,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Unavailable,
            2 => Mode::Closed,
            3 => Mode::Hang,
            4 => Mode::Late,
            _ => Mode::Healthy,
        }
    }

    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Healthy => "healthy",
            Mode::Unavailable => "503 to every POST",
            Mode::Closed => "not accepting connections",
            Mode::Hang => "never answering",
            Mode::Late => "answering after the daemon's timeout",
        }
    }
}

/// One receipt event as the receiver saw it.
#[derive(Debug, Clone)]
pub struct ReceiptSeen {
    /// The API message id the daemon matched it to (null: no tracked message).
    pub message_id: Option<String>,
    /// The segment index it names.
    pub segment: Option<u64>,
}

/// Everything answered 2xx, first occurrence of each event_id only.
#[derive(Debug, Default)]
pub struct Received {
    /// POSTs that arrived, whatever the answer.
    pub posts: u64,
    /// POSTs answered 2xx.
    pub accepted: u64,
    /// Answered 2xx with an event_id seen before (dropped, as a receiver should).
    pub repeated: u64,
    /// Bodies that were not an event object with an event_id.
    pub malformed: u64,
    event_ids: HashSet<String>,
    /// Receipt events by the SMSC's message id.
    pub receipts: HashMap<String, Vec<ReceiptSeen>>,
    /// Receipt events by (API message id, segment).
    pub receipts_by_message: HashSet<(String, u64)>,
    /// Inbound texts and how many distinct events carried each.
    pub inbound: HashMap<String, u32>,
    /// Expiry events (API message ids).
    pub expired: Vec<String>,
    /// Events of any other type.
    pub other: u64,
}

impl Received {
    fn record(&mut self, body: &[u8]) {
        self.accepted += 1;
        let Ok(event) = serde_json::from_slice::<Value>(body) else {
            self.malformed += 1;
            return;
        };
        let Some(event_id) = event["event_id"].as_str() else {
            self.malformed += 1;
            return;
        };
        if !self.event_ids.insert(event_id.to_owned()) {
            self.repeated += 1;
            return;
        }
        match event["type"].as_str() {
            Some("receipt") => {
                let seen = ReceiptSeen {
                    message_id: event["message_id"].as_str().map(str::to_owned),
                    segment: event["segment"].as_u64(),
                };
                if let (Some(id), Some(segment)) = (&seen.message_id, seen.segment) {
                    self.receipts_by_message.insert((id.clone(), segment));
                }
                let smsc_id = event["smsc_message_id"].as_str().unwrap_or("").to_owned();
                self.receipts.entry(smsc_id).or_default().push(seen);
            }
            Some("inbound") => {
                let text = event["text"].as_str().unwrap_or("").to_owned();
                *self.inbound.entry(text).or_default() += 1;
            }
            Some("expired") => self
                .expired
                .push(event["message_id"].as_str().unwrap_or("").to_owned()),
            _ => self.other += 1,
        }
    }

    /// Distinct events (by event_id).
    pub fn distinct(&self) -> usize {
        self.event_ids.len()
    }
}

/// The running receiver.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    mode: Arc<AtomicU8>,
    /// What it recorded.
    pub received: Arc<Mutex<Received>>,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves on the current runtime. `late` is how long a `Late`
    /// answer waits.
    pub async fn start(late: Duration) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let mode = Arc::new(AtomicU8::new(Mode::Healthy as u8));
        let received = Arc::new(Mutex::new(Received::default()));
        tokio::spawn(serve(listener, port, mode.clone(), received.clone(), late));
        Receiver {
            port,
            mode,
            received,
        }
    }

    /// Switches the behaviour.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

async fn serve(
    listener: TcpListener,
    port: u16,
    mode: Arc<AtomicU8>,
    received: Arc<Mutex<Received>>,
    late: Duration,
) {
    let mut listener = Some(listener);
    let mut connections = JoinSet::new();
    loop {
        let now = Mode::from_u8(mode.load(Ordering::SeqCst));
        if now == Mode::Closed {
            // Refuse new connections and cut the kept-alive ones.
            listener = None;
            connections.abort_all();
            while connections.join_next().await.is_some() {}
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let Some(l) = &listener else {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => listener = Some(l),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (mode, received) = (mode.clone(), received.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, mode.clone(), received.clone(), late)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Look at the mode again now and then.
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn answer(
    request: Request<Incoming>,
    mode: Arc<AtomicU8>,
    received: Arc<Mutex<Received>>,
    late: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    received.lock().expect("received").posts += 1;
    let status = match Mode::from_u8(mode.load(Ordering::SeqCst)) {
        Mode::Healthy | Mode::Closed => {
            received.lock().expect("received").record(&body);
            StatusCode::OK
        }
        Mode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Mode::Hang => std::future::pending::<StatusCode>().await,
        Mode::Late => {
            // Recorded now: the receiver has the event, the daemon will not know it.
            received.lock().expect("received").record(&body);
            tokio::time::sleep(late).await;
            StatusCode::OK
        }
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    Ok(response)
}
