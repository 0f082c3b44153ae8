//! Webhooks: inbound messages and delivery receipts POSTed as JSON to `[webhook] url`.
//!
//! Events go through a bounded queue to one sender task, which POSTs them in order and
//! retries each with exponential back-off (`retry-min-ms`, doubling up to `retry-max-ms`)
//! until the receiver answers 2xx. An event therefore counts as taken care of as soon as it
//! is in the queue: that is when the session may acknowledge the deliver_sm. When the queue
//! is full the event is refused, the deliver_sm is answered with an error, and the SMSC
//! delivers it again later: nothing is lost while the receiver is away.
//!
//! Receivers may see an event twice (a POST that timed out after the receiver got it is
//! sent again); every event carries an `event_id` to recognise repeats.
//!
//! The client is hyper-util's pooled client with hyper-rustls on the ring provider, so
//! https URLs work with the operating system's roots and no aws-lc-rs build.
//!
//! Depends on: config (`[webhook]`); it sends opaque JSON documents built by the API.

use super::api::metrics::WebhookStats;
use crate::config::WebhookConfig;
use crate::secret::Secret;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Why the webhook sender could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL does not parse (the configuration checks it first; a bug if seen).
    #[error("webhook url {url:?} is not valid: {error}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        error: String,
    },
    /// The TLS configuration could not be built.
    #[error("webhook TLS set-up failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// Why one POST failed.
#[derive(Debug, thiserror::Error)]
enum PostError {
    #[error("receiver answered {0}")]
    Status(hyper::StatusCode),
    #[error("{0}")]
    Client(#[from] hyper_util::client::legacy::Error),
    #[error("reading the answer: {0}")]
    Body(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    refused: AtomicU64,
}

/// A reserved place in the queue: taking one first lets the caller commit its own changes
/// only once the event is sure to be accepted.
pub struct Slot<'a> {
    permit: mpsc::Permit<'a, Bytes>,
    counters: &'a Counters,
}

impl Slot<'_> {
    /// Queues `event` (a JSON document) in the reserved place.
    pub fn send(self, event: Bytes) {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        self.permit.send(event);
    }
}

/// The handle to the sender task. Dropping every handle lets the task finish the event it
/// is sending and stop.
pub struct Webhook {
    tx: mpsc::Sender<Bytes>,
    counters: Arc<Counters>,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(https: bool) -> Result<HttpClient, WebhookError> {
    let mut roots = rustls::RootCertStore::empty();
    if https {
        // Unreadable certificates are skipped: one bad file in the OS store must not stop
        // the daemon, and a missing root shows up as a failed POST with the reason.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

impl Webhook {
    /// Starts the sender task on the current tokio runtime.
    pub fn start(config: WebhookConfig) -> Result<Webhook, WebhookError> {
        let uri: Uri = config
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| WebhookError::BadUrl {
                url: config.url.clone(),
                error: e.to_string(),
            })?;
        let client = client(uri.scheme_str() == Some("https"))?;
        let (tx, rx) = mpsc::channel(config.max_queued_events.max(1));
        let counters = Arc::new(Counters::default());
        let sender = Sender {
            client,
            uri,
            token: config.bearer_token.clone(),
            config,
            counters: counters.clone(),
        };
        tokio::spawn(sender.run(rx));
        Ok(Webhook { tx, counters })
    }

    /// Reserves a place in the queue, or `None` when it is full (or the sender stopped).
    pub fn reserve(&self) -> Option<Slot<'_>> {
        match self.tx.try_reserve() {
            Ok(permit) => Some(Slot {
                permit,
                counters: &self.counters,
            }),
            Err(_) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The counters, for `/metrics`.
    pub fn stats(&self) -> WebhookStats {
        WebhookStats {
            queued: self.counters.queued.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed_attempts: self.counters.failed_attempts.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }
}

struct Sender {
    client: HttpClient,
    uri: Uri,
    token: Option<Secret>,
    config: WebhookConfig,
    counters: Arc<Counters>,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Bytes>) {
        while let Some(event) = rx.recv().await {
            let mut delay = self.config.retry_min;
            let mut attempt = 1u32;
            loop {
                match self.post(event.clone()).await {
                    Ok(()) => break,
                    Err(error) => {
                        self.counters
                            .failed_attempts
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            host = self.uri.host().unwrap_or(""),
                            attempt,
                            retry_in_ms = delay.as_millis() as u64,
                            %error,
                            "webhook POST failed; retrying"
                        );
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(self.config.retry_max);
                        attempt = attempt.saturating_add(1);
                    }
                }
            }
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn post(&self, event: Bytes) -> Result<(), PostError> {
        let mut request = Request::new(Full::new(event));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(token) = &self.token {
            if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
        }
        let timeout = self.config.timeout;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read the answer to the end so that the connection can be reused.
            response.into_body().collect().await?;
            if status.is_success() {
                Ok(())
            } else {
                Err(PostError::Status(status))
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(PostError::Timeout(timeout)))
    }
}
