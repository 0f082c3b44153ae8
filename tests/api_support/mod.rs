//! Shared by the `api_*` tests: a fake engine, a server on 127.0.0.1:0, and an HTTP client.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use smppd::config::{ChannelConfig, Config};
use smppd::daemon::api::{self, Services};
use smppd::daemon::engine::{
    ChannelCounters, ChannelError, ChannelStatus, Engine, EnqueueError, OutboundRequest,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

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

/// An engine whose channels the test sets, recording what it is given.
#[derive(Default)]
pub struct FakeEngine {
    pub channels: Mutex<Vec<ChannelStatus>>,
    pub enqueued: Mutex<Vec<(String, OutboundRequest)>>,
    pub full: Mutex<HashSet<String>>,
    /// The channel configurations, set by [`start`] from the test's configuration.
    pub configs: Mutex<Vec<ChannelConfig>>,
}

pub fn status(name: &str, bound: bool) -> ChannelStatus {
    ChannelStatus {
        name: name.into(),
        state: if bound { "bound" } else { "backing off" }.into(),
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
    fn channels(&self) -> Vec<ChannelStatus> {
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

    fn enqueue(&self, channel: &str, request: OutboundRequest) -> Result<(), EnqueueError> {
        if self.full.lock().unwrap().contains(channel) {
            return Err(EnqueueError::Full {
                channel: channel.into(),
            });
        }
        self.enqueued
            .lock()
            .unwrap()
            .push((channel.to_string(), request));
        Ok(())
    }
}

/// A running API.
pub struct Server {
    pub addr: SocketAddr,
    pub services: Services,
    pub engine: Arc<FakeEngine>,
}

pub fn config(extra: &str) -> Config {
    let text = format!("{CHANNELS}\n{extra}");
    match Config::parse(&text, Path::new("/tmp/smppd-api-test.toml"), &|_| None) {
        Ok(parsed) => parsed.config,
        Err(e) => panic!("test config: {e}"),
    }
}

/// Starts the real router on 127.0.0.1:0 with `extra` configuration sections.
pub async fn start(extra: &str, engine: Arc<FakeEngine>) -> Server {
    let config = config(extra);
    *engine.configs.lock().unwrap() = config.channels.clone();
    let services = Services::new(&config).unwrap();
    let app = api::router(&services, engine.clone(), &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve(listener, app, std::future::pending()));
    Server {
        addr,
        services,
        engine,
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
