//! The HTTP API (axum): submit messages, follow them, watch the channels.
//!
//! | route                   | auth | what                                              |
//! |-------------------------|------|---------------------------------------------------|
//! | `POST /v1/messages`     | yes  | accept one message → 202 `{id, segments}`         |
//! | `POST /v1/messages/batch` | yes | up to 1000 messages → 207 with one result each    |
//! | `GET /v1/messages/{id}` | yes  | state, SMSC ids per segment, timestamps           |
//! | `GET /v1/channels`      | yes  | each channel's state, last error, counters        |
//! | `GET /metrics`          | yes  | Prometheus text format                            |
//! | `GET /health`           | no   | 200 when a channel is bound, else 503             |
//! | `GET /openapi.json`     | no   | the OpenAPI 3 description of all of the above     |
//!
//! "auth" applies only when `[http] bearer-token` is set. Health stays open for load
//! balancers and service managers; the description holds nothing secret.
//!
//! Start-up order: [`Services::open`] (store, metrics, webhook) → the channels and the
//! [`Dispatcher`] → [`router`] → [`serve`].
//!
//! Depends on: config, the daemon's dispatcher, engine trait, store and webhook; never on a
//! supervisor or session directly.

mod auth;
mod channels;
mod error;
mod health;
mod messages;
pub mod metrics;
mod openapi;
pub mod request;

pub use auth::{AuthError, BearerAuth};
pub use error::ApiError;
pub use messages::{AcceptedBody, BatchBody, BatchItem, MessageBody, IDEMPOTENCY_HEADER};
pub use openapi::{document as openapi_document, ROUTES};

use super::dispatch::Dispatcher;
use super::engine::Engine;
use super::store::sqlite::Recovery;
use super::store::{SqliteOptions, SqliteStore, Store, StoreError};
use super::webhook::{Webhook, WebhookError};
use crate::config::{Config, HttpConfig};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, Limited};
use metrics::Metrics;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take to send a request body: a client trickling bytes must not
/// hold a handler (and its memory) forever.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the services could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The webhook sender cannot be set up.
    #[error("webhook: {0}")]
    Webhook(#[from] WebhookError),
}

/// What the API and the channels share: the store, the metrics and the webhook sender.
#[derive(Clone)]
pub struct Services {
    /// Accepted messages, their outcomes, the outbox.
    pub store: Arc<dyn Store>,
    /// Metrics recorded from outcomes.
    pub metrics: Arc<Metrics>,
    /// The webhook sender, when `[webhook]` is configured.
    pub webhook: Option<Arc<Webhook>>,
    /// Segments sent again because an earlier run or channel may have sent them
    /// (`smppd_resends`).
    pub resends: Arc<AtomicU64>,
}

impl Services {
    /// Opens the store `[store]` names (off the runtime's workers: it reads and migrates
    /// the file) and starts the webhook sender for `[webhook]`. Must be called inside a
    /// tokio runtime.
    pub async fn open(config: &Config) -> Result<(Services, Recovery), ServicesError> {
        let mut options = SqliteOptions::new(config.store.path.clone());
        options.max_queued = config.store.max_queued;
        options.receipt_wait = config.store.receipt_wait;
        options.finished_retention = config.http.finished_retention;
        options.events = config.webhook.is_some();
        if let Some(hook) = &config.webhook {
            options.max_outbox = hook.max_queued_events as u64;
        }
        let opened = tokio::task::spawn_blocking(move || SqliteStore::open(options))
            .await
            .map_err(|e| StoreError::Open {
                path: config.store.path.display().to_string(),
                reason: e.to_string(),
            })??;
        let (store, recovery) = opened;
        let store: Arc<dyn Store> = Arc::new(store);
        let webhook = match &config.webhook {
            Some(hook) => Some(Arc::new(Webhook::start(hook.clone(), store.clone())?)),
            None => None,
        };
        let resends = Arc::new(AtomicU64::new(0));
        Ok((
            Services {
                store,
                metrics: Arc::new(Metrics::default()),
                webhook,
                resends,
            },
            recovery,
        ))
    }
}

/// Everything a handler needs.
pub(crate) struct AppState {
    engine: Arc<dyn Engine>,
    services: Services,
    dispatcher: Arc<Dispatcher>,
    http: HttpConfig,
    auth: BearerAuth,
}

impl AppState {
    /// Reads a request body of at most `max-body-bytes` and parses it as JSON.
    async fn read_json(&self, body: Body) -> Result<serde_json::Value, ApiError> {
        let max = self.http.max_body_bytes;
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, max).collect());
        let Ok(read) = read.await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {}s", BODY_TIMEOUT.as_secs()),
            ));
        };
        let bytes = match read {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than max-body-bytes ({max})"),
                ))
            }
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                ))
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body is not valid JSON: {e}"),
            )
        })
    }
}

/// Refuses requests without the configured bearer token.
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match state.auth.check(header) {
        Ok(()) => next.run(request).await,
        Err(e) => ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; GET /openapi.json lists them all",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method; GET /openapi.json lists them all",
    )
}

/// The API's routes over `engine`'s channels, accepting through `dispatcher`, configured by
/// `config` (`[http]`).
pub fn router(
    services: &Services,
    engine: Arc<dyn Engine>,
    dispatcher: Arc<Dispatcher>,
    config: &Config,
) -> axum::Router {
    let state = Arc::new(AppState {
        engine,
        services: services.clone(),
        dispatcher,
        http: config.http.clone(),
        auth: BearerAuth::new(config.http.bearer_token.as_ref()),
    });
    let guarded = axum::Router::new()
        .route("/v1/messages", post(messages::post_message))
        .route("/v1/messages/batch", post(messages::post_batch))
        .route("/v1/messages/{id}", get(messages::get_message))
        .route("/v1/channels", get(channels::get_channels))
        .route("/metrics", get(health::get_metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    axum::Router::new()
        .merge(guarded)
        .route("/health", get(health::get_health))
        .route("/openapi.json", get(openapi::get_openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// How long a client may take to send a request's headers (slow-loris protection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` completes, then waits for the
/// connections in flight to finish their current request.
///
/// hyper is driven directly rather than through `axum::serve` to give every connection a
/// timer, hence a header-read timeout: an idle or trickling client cannot hold a connection
/// open forever.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait for some to free up
                    // instead of spinning or giving up on the listener.
                    tracing::warn!(event = "api_accept_failed", %error, "HTTP API accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT);
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(
                    event = "api_connection_error",
                    %error,
                    "HTTP API connection ended with an error"
                );
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
