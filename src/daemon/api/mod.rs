//! The HTTP API (axum): submit messages, follow them, watch the channels, run the SMPP
//! server's users and sessions.
//!
//! | route                   | auth | what                                              |
//! |-------------------------|------|---------------------------------------------------|
//! | `POST /v1/messages`     | yes  | accept one message → 202 `{id, segments}`         |
//! | `POST /v1/messages/batch` | yes | up to 1000 messages → 207 with one result each    |
//! | `GET /v1/messages/{id}` | yes  | state, SMSC ids per segment, timestamps           |
//! | `GET /v1/channels`      | yes  | each channel's state, last error, counters        |
//! | `GET /v1/cluster`       | yes  | the nodes sharing the store and their slots       |
//! | `GET /v1/smpp-users`    | yes  | SMPP users: balance, binds, limits, counters      |
//! | `POST /v1/smpp-users/{name}/credits` | yes | add credits → 200 `{name, credits}` |
//! | `GET /v1/smpp-sessions` | yes  | SMPP server connections: user, bind, TLS, counters |
//! | `DELETE /v1/smpp-sessions/{id}` | yes | unbind and close one → 202              |
//! | `GET /metrics`          | yes  | Prometheus text format                            |
//! | `GET /health`           | no   | 200 when a channel is bound, else 503             |
//! | `GET /openapi.json`     | no   | the OpenAPI 3 description of all of the above     |
//! | `GET /`, `GET /status`  | no   | the status page (HTML); it reads `/v1/channels`   |
//!
//! "auth" applies only when `[http] bearer-token` is set. Health stays open for load
//! balancers and service managers; the description and the page hold nothing secret (the
//! page asks for the token itself, see the `status` module).
//!
//! Before any route: the `Origin` and `Host` checks of the `guard` module (403, 421); POST bodies
//! must be `application/json` (415) and no larger than `max-body-bytes` (413, from
//! `Content-Length` when there is one, before the body is read). Every error, including
//! those of axum's own extractors and of hyper's request parser (a malformed head, or one
//! over [`MAX_HEAD_BYTES`]: see [`serve`]), is the JSON of [`ApiError`].
//!
//! Start-up order: [`Services::open`] (store, metrics, webhook) → the channels and the
//! [`Dispatcher`] → [`router`] → [`serve`].
//!
//! Depends on: config, the daemon's dispatcher, engine trait, store, webhook and SMPP server;
//! never on a supervisor or session directly.
//!
//! A namespace of its own under `daemon`: the router and the server are built and started
//! apart from the rest of the daemon (the tests serve a router over a fake engine). [`request`]
//! is a namespace within it for the parser of a message's JSON body.

mod auth;
mod backlog;
mod channels;
mod cluster;
mod error;
mod guard;
mod head_errors;
mod health;
mod messages;
mod metrics;
mod openapi;
pub mod request;
mod serve;
mod smpp;
mod status;

// Serving: the server with its header-read timeout, and what comes before any route.
pub use auth::{AuthError, AuthFailures, BearerAuth, AUTH_LOG_EVERY};
pub use guard::{GuardError, RequestGuard};
pub use head_errors::{MAX_HEADERS, MAX_HEAD_BYTES};
pub use serve::{serve, serve_with, HEADER_TIMEOUT};

// The routes, their bodies and errors, and the OpenAPI description of them.
pub use backlog::BACKLOG_TTL;
pub use error::ApiError;
pub use messages::{AcceptedBody, BatchBody, BatchItem, MessageBody, IDEMPOTENCY_HEADER};
pub use openapi::{document as openapi_document, ROUTES};

// The counters behind `/metrics`, which the channels and the webhook sender update.
pub(crate) use metrics::{Metrics, WebhookStats};

use super::cluster::Board;
use super::dispatch::Dispatcher;
use super::engine::Engine;
use super::smpp_server::{SmppServer, UserRoutes};
use super::store::postgres::Leases;
use super::store::{Recovery, Store, StoreError};
use super::webhook::{Webhook, WebhookError};
use crate::config::{Config, HttpConfig};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http_body_util::{BodyExt, Limited};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// The cluster as this node sees it (`GET /v1/cluster`, the `node` label of
    /// `/metrics`).
    pub board: Arc<Board>,
    /// The lease statements, when several nodes may share the store.
    pub leases: Option<Arc<Leases>>,
    /// Which channels serve which SMPP users.
    pub routes: Arc<UserRoutes>,
    /// The SMPP server, when `[smpp-server]` is configured (set once it listens).
    pub smpp: Option<Arc<SmppServer>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

impl Services {
    /// Opens the store `[store]` names and starts the webhook sender for `[webhook]`. Must be
    /// called inside a tokio runtime.
    pub async fn open(config: &Config) -> Result<(Services, Recovery), ServicesError> {
        let super::store_config::Opened {
            store,
            recovery,
            leases,
            board,
        } = super::store_config::open(config).await?;
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
                board,
                leases,
                routes: UserRoutes::new(),
                smpp: None,
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
    auth_failures: AuthFailures,
    guard: RequestGuard,
    backlog: backlog::BacklogCache,
}

/// Whether a `Content-Type` value is JSON: `application/json`, parameters allowed.
fn is_json(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"application/json")
}

impl AppState {
    /// What waits in the store (queues, webhook outbox), at most [`BACKLOG_TTL`] old.
    async fn backlog(&self) -> Result<super::store::Backlog, StoreError> {
        self.backlog.get(self.services.store.as_ref()).await
    }

    /// Reads a request body of at most `max-body-bytes` and parses it as JSON. The body must
    /// be declared JSON (else 415: a web page cannot send that without the API's consent),
    /// and a declared length over the limit is refused before a byte of it is read (413).
    async fn read_json(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<serde_json::Value, ApiError> {
        let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes());
        if !content_type.is_some_and(is_json) {
            let found = match content_type {
                Some(v) => format!("Content-Type {:?}", String::from_utf8_lossy(v)),
                None => "no Content-Type".to_string(),
            };
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body must be sent as Content-Type: application/json, not {found}"),
            ));
        }
        let max = self.http.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large(max));
        }
        let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, max).collect());
        let Ok(read) = read.await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {}s", BODY_TIMEOUT.as_secs()),
            ));
        };
        let bytes = match read {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large(max)),
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

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than max-body-bytes ({max})"),
    )
}

/// The client's address, as [`serve`] records it.
fn client_address(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// Refuses requests without the configured bearer token. Refusals are logged with the
/// client's address (never what it sent), at most one line per [`AUTH_LOG_EVERY`].
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match state.auth.check(header) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            if let Some(refused) = state.auth_failures.record(Instant::now()) {
                let remote = client_address(&request)
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                tracing::warn!(
                    event = "auth_failed",
                    remote,
                    reason = e.reason(),
                    refused,
                    "refused {refused} request(s) without a valid bearer token since the last such line (at most one line per {} s); the latest from {remote}",
                    AUTH_LOG_EVERY.as_secs()
                );
            }
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()).into_response()
        }
    }
}

/// Refuses requests from web pages and, without a bearer token, for other hosts.
async fn guard_request(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let checked = state.guard.check(
        request.uri().authority().map(|a| a.as_str()),
        headers.get(header::HOST).map(|v| v.as_bytes()),
        headers.get(header::ORIGIN).map(|v| v.as_bytes()),
    );
    match checked {
        Ok(()) => next.run(request).await,
        Err(e) => ApiError::new(e.status(), e.to_string()).into_response(),
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
        auth_failures: AuthFailures::default(),
        guard: RequestGuard::new(&config.http),
        backlog: backlog::BacklogCache::default(),
    });
    let guarded = axum::Router::new()
        .route("/v1/messages", post(messages::post_message))
        .route("/v1/messages/batch", post(messages::post_batch))
        .route("/v1/messages/{id}", get(messages::get_message))
        .route("/v1/channels", get(channels::get_channels))
        .route("/v1/cluster", get(cluster::get_cluster))
        .route("/v1/smpp-users", get(smpp::get_users))
        .route("/v1/smpp-users/{name}/credits", post(smpp::post_credits))
        .route("/v1/smpp-sessions", get(smpp::get_sessions))
        .route("/v1/smpp-sessions/{id}", delete(smpp::delete_session))
        .route("/metrics", get(health::get_metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    axum::Router::new()
        .merge(guarded)
        .route("/health", get(health::get_health))
        .route("/openapi.json", get(openapi::get_openapi))
        .route("/", get(status::get_status))
        .route("/status", get(status::get_status))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard_request,
        ))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}
