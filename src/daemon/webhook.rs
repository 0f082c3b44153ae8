//! Webhooks: inbound messages, delivery receipts and expiries POSTed as JSON to
//! `[webhook] url`, fed from the store's outbox.
//!
//! An event is committed to the outbox before the deliver_sm it came in is acknowledged
//! (see [`super::sink`]). One sender task POSTs the outbox in order and retries the event at
//! its head with exponential back-off (`retry-min-ms`, doubling up to `retry-max-ms`; the
//! attempts and the next try are stored, so the back-off survives a restart) until the
//! receiver answers 2xx; only then is the event deleted. When the outbox holds
//! `max-queued-events`, new deliver_sm are answered with an error and the SMSC delivers them
//! again later: nothing is lost while the receiver is away, or across a crash.
//!
//! Receivers may see an event twice (a POST that timed out after the receiver got it, or a
//! crash before the delete); every event carries a stable `event_id` to recognise repeats.
//!
//! The client is hyper-util's pooled client with hyper-rustls on the ring provider, so
//! https URLs work with the operating system's roots and no aws-lc-rs build.
//!
//! Depends on: config (`[webhook]`) and the store's outbox; it sends the JSON documents the
//! sink and the store built.

use super::api::WebhookStats;
use super::store::{OutboxEvent, Store};
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
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};

/// Events read from the outbox per round trip.
const BATCH: usize = 64;
/// How often an idle sender looks at the outbox without being poked.
const IDLE_POLL: Duration = Duration::from_secs(1);

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
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
}

/// The handle to the sender task.
pub struct Webhook {
    counters: Arc<Counters>,
    store: Arc<dyn Store>,
    /// Poked when events were committed to the outbox.
    pub wake: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Webhook").finish_non_exhaustive()
    }
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
    /// Starts the sender task on the current tokio runtime, reading from `store`'s outbox.
    pub fn start(config: WebhookConfig, store: Arc<dyn Store>) -> Result<Webhook, WebhookError> {
        let uri: Uri = config
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| WebhookError::BadUrl {
                url: config.url.clone(),
                error: e.to_string(),
            })?;
        let client = client(uri.scheme_str() == Some("https"))?;
        let counters = Arc::new(Counters::default());
        let wake = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        let sender = Sender {
            client,
            uri,
            token: config.bearer_token.clone(),
            config,
            counters: counters.clone(),
            store: store.clone(),
            wake: wake.clone(),
        };
        tokio::spawn(sender.run(stop_rx));
        Ok(Webhook {
            counters,
            store,
            wake,
            stop,
        })
    }

    /// Stops the sender after the POST in progress; what it has not delivered stays in the
    /// outbox for the next start.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// The counters, for `/metrics`.
    pub fn stats(&self) -> WebhookStats {
        WebhookStats {
            queued: self.store.counts().outbox,
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed_attempts: self.counters.failed_attempts.load(Ordering::Relaxed),
        }
    }
}

struct Sender {
    client: HttpClient,
    uri: Uri,
    token: Option<Secret>,
    config: WebhookConfig,
    counters: Arc<Counters>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

impl Sender {
    /// The delay after `attempts` failed attempts.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.config
            .retry_min
            .saturating_mul(factor)
            .min(self.config.retry_max)
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let events = match self.store.outbox_due(BATCH, SystemTime::now()).await {
                Ok(e) => e,
                Err(error) => {
                    tracing::warn!(event = "webhook_outbox_unreadable", %error, "cannot read the webhook outbox; retrying");
                    Vec::new()
                }
            };
            if events.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let mut delivered = Vec::with_capacity(events.len());
            for event in events {
                if !self.deliver(&event, &mut stop).await {
                    break;
                }
                delivered.push(event.seq);
            }
            if !delivered.is_empty() {
                let n = delivered.len() as u64;
                // Not deleted (store failing): sent again later, which event_id allows.
                if let Err(error) = self.store.outbox_delivered(delivered).await {
                    tracing::warn!(event = "webhook_outbox_unwritable", %error, "cannot remove delivered events from the outbox");
                }
                self.counters.delivered.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// POSTs one event once it is due; `false` when it failed (its next try is stored) or
    /// a stop came first.
    async fn deliver(&self, event: &OutboxEvent, stop: &mut watch::Receiver<bool>) -> bool {
        if let Ok(wait) = event.due.duration_since(SystemTime::now()) {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return false,
            }
        }
        let posted = tokio::select! {
            r = self.post(Bytes::from(event.body.clone())) => r,
            _ = stop.changed() => return false,
        };
        match posted {
            Ok(()) => true,
            Err(error) => {
                self.counters
                    .failed_attempts
                    .fetch_add(1, Ordering::Relaxed);
                let attempt = event.attempts.saturating_add(1);
                let delay = self.backoff(attempt);
                tracing::warn!(
                    event = "webhook_failed",
                    host = self.uri.host().unwrap_or(""),
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    %error,
                    "webhook POST failed; retrying"
                );
                if let Err(error) = self
                    .store
                    .outbox_retry(event.seq, SystemTime::now() + delay)
                    .await
                {
                    tracing::warn!(event = "webhook_outbox_unwritable", %error, "cannot record the webhook retry");
                    tokio::time::sleep(delay).await;
                }
                false
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::sqlite::{SqliteOptions, SqliteStore};

    #[tokio::test]
    async fn the_retry_delay_doubles_from_the_least_to_the_most() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SqliteStore::open(SqliteOptions::new(dir.path().join("w.db"))).unwrap();
        let mut config = WebhookConfig::new("http://127.0.0.1:9/hook");
        config.retry_min = Duration::from_millis(100);
        config.retry_max = Duration::from_millis(1000);
        let sender = Sender {
            client: client(false).unwrap(),
            uri: config.url.parse().unwrap(),
            token: None,
            config,
            counters: Arc::default(),
            store: Arc::new(store),
            wake: Arc::default(),
        };
        let delays: Vec<u128> = (0..=6).map(|n| sender.backoff(n).as_millis()).collect();
        assert_eq!(delays, [100, 100, 200, 400, 800, 1000, 1000]);
        // However many failures were stored, the delay stays at the ceiling.
        for attempts in [33, 40, u32::MAX] {
            assert_eq!(sender.backoff(attempts), Duration::from_millis(1000));
        }
    }
}
