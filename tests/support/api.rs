//! Shared by the `api_*` tests: a fake engine, a server on 127.0.0.1:0, and an HTTP client.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use smppd::config::{ChannelConfig, Config};
use smppd::daemon::api::{self, Services};
use smppd::daemon::store::{segment_key, Applied, Change, ClaimedMessage};
use smppd::daemon::{
    CertificateRole, CertificateStatus, ChannelCounters, ChannelError, ChannelSnapshot, Dispatcher,
    Engine, SmppServer,
};
use smppd::supervisor::ChannelState;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Two channels: `a` (defaults) and `b` (at most 2 segments).
pub const CHANNELS: &str = r#"
[channel-a]
x-smpp-host = "127.0.0.1"
x-smpp-system-id = "a"

[channel-b]
x-smpp-host = "127.0.0.1"
x-smpp-system-id = "b"
x-smpp-sar-max-segments = 2
"#;

/// An engine whose channels the test sets.
#[derive(Default)]
pub struct FakeEngine {
    pub channels: Mutex<Vec<ChannelSnapshot>>,
    /// The channel configurations, set by [`start`] from the test's configuration.
    pub configs: Mutex<Vec<ChannelConfig>>,
}

pub fn status(name: &str, bound: bool) -> ChannelSnapshot {
    ChannelSnapshot {
        name: name.into(),
        state: if bound {
            ChannelState::Bound
        } else {
            ChannelState::BackingOff {
                delay: Duration::from_secs(5),
            }
        }
        .into(),
        bound,
        can_transmit: true,
        can_receive: true,
        last_error: (!bound).then(|| ChannelError {
            code: 43010,
            reason: "bind_resp status 0x0000000d (ESME_RBINDFAIL)".into(),
        }),
        counters: ChannelCounters {
            submitted: 3,
            acknowledged: 2,
            failed: 1,
            window_size: 10,
            ..ChannelCounters::default()
        },
        seconds_since_bind: bound.then_some(42),
        failures: vec![
            (43009, 0),
            (43010, u64::from(!bound)),
            (43011, 0),
            (42403, 0),
        ],
        certificates: vec![
            CertificateStatus {
                role: CertificateRole::Own,
                subject: "O=smppd test, CN=esme".into(),
                not_after: 4_102_444_800,
            },
            CertificateStatus {
                role: CertificateRole::Peer,
                subject: "CN=smsc".into(),
                not_after: 946_684_800,
            },
        ],
    }
}

impl FakeEngine {
    /// Channels `a` and `b`, bound or not.
    pub fn new(a: bool, b: bool) -> Arc<FakeEngine> {
        let engine = FakeEngine::default();
        *engine.channels.lock().unwrap() = vec![status("a", a), status("b", b)];
        Arc::new(engine)
    }

    pub fn set_bound(&self, name: &str, bound: bool) {
        let mut channels = self.channels.lock().unwrap();
        for c in channels.iter_mut().filter(|c| c.name == name) {
            *c = status(name, bound);
        }
    }
}

impl Engine for FakeEngine {
    fn channels(&self) -> Vec<ChannelSnapshot> {
        self.channels.lock().unwrap().clone()
    }

    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>> {
        let configs = self.configs.lock().unwrap();
        match channel {
            Some(name) => configs.iter().find(|c| c.name == name),
            None => configs.first(),
        }
        .cloned()
        .map(Arc::new)
    }
}

/// A running API over a real store in a temporary directory.
pub struct Server {
    pub addr: SocketAddr,
    pub services: Services,
    pub engine: Arc<FakeEngine>,
    pub dispatcher: Arc<Dispatcher>,
    pub dir: tempfile::TempDir,
}

impl Server {
    /// Takes what channel `name` may send now, as its feeder would.
    pub async fn claim(&self, name: &str) -> Vec<ClaimedMessage> {
        self.services
            .store
            .claim(name, 10_000, SystemTime::now())
            .await
            .unwrap()
    }

    /// Applies what channel `name` reported.
    pub async fn apply(&self, name: &str, changes: Vec<Change>) -> Vec<Applied> {
        self.services
            .store
            .apply(name, changes, SystemTime::now())
            .await
            .unwrap()
    }
}

/// Segment `index` of a claimed message acknowledged with `smsc_id`.
pub fn submitted(message: &ClaimedMessage, index: u8, smsc_id: &str) -> Change {
    Change::Submitted {
        key: segment_key(message.seq, index),
        smsc_message_id: smsc_id.into(),
    }
}

/// The test configuration with `extra` sections; the store lives in `dir`.
pub fn config_in(dir: &std::path::Path, extra: &str) -> Config {
    let text = format!("{CHANNELS}\n{extra}");
    match Config::parse(&text, &dir.join("smppd.toml"), &|_| None) {
        Ok(parsed) => parsed.config,
        Err(e) => panic!("test config: {e}"),
    }
}

/// Starts the real router on 127.0.0.1:0 with `extra` configuration sections.
pub async fn start(extra: &str, engine: Arc<FakeEngine>) -> Server {
    start_with(extra, engine, api::HEADER_TIMEOUT).await
}

/// [`start`] with another header-read timeout.
pub async fn start_with(
    extra: &str,
    engine: Arc<FakeEngine>,
    header_timeout: std::time::Duration,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), extra);
    *engine.configs.lock().unwrap() = config.channels.clone();
    let (mut services, _) = Services::open(&config).await.unwrap();
    // The SMPP server listens on its own port when `extra` configures one, as the daemon
    // starts it; without `[smpp-server]` this is `None`.
    services.smpp = SmppServer::start(
        &config,
        services.store.clone(),
        &services.routes,
        Box::new(|| {}),
    )
    .await
    .unwrap()
    .map(Arc::new);
    let dispatcher = Arc::new(Dispatcher::new(
        engine.clone(),
        services.store.clone(),
        config.store.default_validity,
    ));
    let app = api::router(&services, engine.clone(), dispatcher.clone(), &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve_with(
        listener,
        app,
        std::future::pending(),
        header_timeout,
    ));
    Server {
        addr,
        services,
        engine,
        dispatcher,
        dir,
    }
}

/// The answer to one request: status, headers of interest, and the body parsed as JSON
/// (or as a JSON string when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    pub body: Value,
    pub text: String,
}

pub async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text.clone()));
    Answer {
        status,
        www_authenticate,
        body,
        text,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    call(addr, Method::GET, path, None, None).await
}

pub async fn post(addr: SocketAddr, path: &str, body: &Value) -> Answer {
    call(
        addr,
        Method::POST,
        path,
        Some(body.to_string().into_bytes()),
        None,
    )
    .await
}

/// What came back for a request sent byte for byte.
pub struct RawAnswer {
    pub status: u16,
    /// The status line and headers, as received.
    pub head: String,
    /// The body as JSON, `Null` when it is not JSON.
    pub body: Value,
    /// The body as received.
    pub body_bytes: Vec<u8>,
}

impl RawAnswer {
    /// The value of header `name` (case-insensitive), if the head has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Splits what came back into an answer: head, then body.
pub fn parse_raw(received: &[u8]) -> RawAnswer {
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or((received, &[][..]), |at| {
            (&received[..at], &received[at + 4..])
        });
    let head = String::from_utf8_lossy(split.0).into_owned();
    RawAnswer {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head,
        body: serde_json::from_slice(split.1).unwrap_or(Value::Null),
        body_bytes: split.1.to_vec(),
    }
}

/// Sends `request` exactly as given over a new connection and reads until the server closes
/// it (send `connection: close`).
pub async fn raw(addr: SocketAddr, request: &str) -> RawAnswer {
    raw_bytes(addr, request.as_bytes()).await
}

/// [`raw`] for a request that need not be text.
pub async fn raw_bytes(addr: SocketAddr, request: &[u8]) -> RawAnswer {
    parse_raw(&exchange(addr, request).await)
}

/// Sends `request` over a new connection and returns all that came back until the server
/// closed it.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut received),
    )
    .await
    .expect("the server neither answered nor closed")
    .unwrap();
    received
}

/// A POST to `path` with `headers` (each `name: value`) and `body`, closing the connection.
pub fn post_request(path: &str, headers: &[&str], body: &str) -> String {
    let mut request = format!("POST {path} HTTP/1.1\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    request
}
