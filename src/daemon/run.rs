//! `smppd run`: the daemon's main loop.
//!
//! Start every channel, serve the HTTP API, tell systemd when ready, then wait for signals:
//! SIGHUP re-reads the configuration and restarts only the channels whose sections changed;
//! SIGTERM (or SIGINT) stops taking requests, drains and unbinds every channel, and returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use super::api::{self, Services};
use super::channels::{self, Channel};
use super::gateway::Gateway;
use super::inbound::InboundHandler;
use super::systemd::{self, Notifier};
use super::webhook::WebhookError;
use crate::config::{Config, ConfigErrors, ConfigWarning};
use crate::session::{Inbound, SubmitOutcome};

/// How long a graceful stop may take before the daemon exits anyway: within systemd's
/// `TimeoutStopSec=30` with a margin.
pub const STOP_BOUND: Duration = Duration::from_secs(25);

/// Why the daemon could not start (after start, failures are logged, not returned).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has problems; each is listed.
    #[error("{0}")]
    Config(ConfigErrors),
    /// The webhook sender could not be set up.
    #[error("webhook: {0}")]
    Webhook(#[from] WebhookError),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The `[http] listen` address.
        address: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Installing a signal handler failed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Logs configuration warnings, one event each.
pub fn log_warnings(warnings: &[ConfigWarning]) {
    for w in warnings {
        tracing::warn!(
            event = "config_warning",
            section = w.location.section.as_deref().unwrap_or(""),
            key = w.location.key.as_deref().unwrap_or(""),
            "{w}"
        );
    }
}

/// What a running daemon shares with the signal handlers.
struct Daemon {
    path: PathBuf,
    config: Config,
    gateway: Arc<Gateway>,
    outcomes: mpsc::UnboundedSender<SubmitOutcome>,
    inbound: mpsc::UnboundedSender<(String, Inbound)>,
    notifier: Notifier,
}

/// Runs the daemon with the configuration at `path` until SIGTERM or SIGINT. `ready` is
/// told the HTTP API's address once everything has started (tests and `smppd demo` use it).
pub async fn run(
    path: &Path,
    ready: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<(), RunError> {
    let loaded = Config::load(path).map_err(RunError::Config)?;
    log_warnings(&loaded.warnings);
    let config = loaded.config;
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;

    let services = Services::new(&config)?;
    let listener = TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| RunError::Listen {
            address: config.http.listen,
            source,
        })?;
    let api_address = listener.local_addr().map_err(|source| RunError::Listen {
        address: config.http.listen,
        source,
    })?;

    let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
    let (inbound, inbound_rx) = mpsc::unbounded_channel();
    let started: Vec<Channel> = config
        .channels
        .iter()
        .map(|c| channels::start(c.clone(), outcomes.clone(), inbound.clone()))
        .collect();
    let gateway = Gateway::new(started, services.reports());
    tokio::spawn(InboundHandler::new(gateway.clone()).run(outcomes_rx, inbound_rx));

    let (stop_http, mut http_stopped) = watch::channel(false);
    let app = api::router(&services, gateway.clone(), &config);
    let http = tokio::spawn(api::serve(listener, app, async move {
        let _ = http_stopped.wait_for(|stop| *stop).await;
    }));
    tracing::info!(
        event = "started",
        channels = config.channels.len(),
        api = %api_address,
        "smppd started: {} channel(s), HTTP API on {api_address}",
        config.channels.len()
    );

    let notifier = Notifier::from_env();
    // Every channel is initialised (bound or not yet): that is what READY means here.
    if let Err(e) = notifier.ready(&gateway.summary()) {
        tracing::warn!(event = "sd_notify_failed", error = %e, "cannot notify systemd");
    }
    let watchdog =
        systemd::watchdog_interval().map(|i| systemd::spawn_watchdog(notifier.clone(), i));
    let status = tokio::spawn(report_status(gateway.clone(), notifier.clone()));
    if let Some(ready) = ready {
        let _ = ready.send(api_address);
    }

    let mut daemon = Daemon {
        path: path.to_path_buf(),
        config,
        gateway,
        outcomes,
        inbound,
        notifier,
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => daemon.reload().await,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    tracing::info!(
        event = "stopping",
        "stopping: draining and unbinding every channel"
    );
    let _ = daemon.notifier.stopping();
    status.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    let _ = stop_http.send(true);
    let channels = daemon.gateway.take_channels();
    let stopped = tokio::time::timeout(STOP_BOUND, stop_all(channels)).await;
    match stopped {
        Ok(0) => {}
        Ok(unsent) => tracing::warn!(
            event = "stopped_with_unsent",
            unsent,
            "{unsent} message(s) were still queued when the daemon stopped"
        ),
        Err(_) => tracing::warn!(event = "stop_timeout", "channels did not stop in time"),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    tracing::info!(event = "stopped", "smppd stopped");
    Ok(())
}

/// Stops channels concurrently; returns how many messages they still held.
async fn stop_all(channels: Vec<Channel>) -> usize {
    let tasks: Vec<_> = channels
        .into_iter()
        .map(|c| tokio::spawn(c.stop()))
        .collect();
    let mut unsent = 0;
    for t in tasks {
        if let Ok(Some(mut end)) = t.await {
            end.queue.close();
            while end.queue.try_recv().is_ok() {
                unsent += 1;
            }
            unsent += end.unsent.len();
        }
    }
    unsent
}

/// Keeps systemd's STATUS line current.
async fn report_status(gateway: Arc<Gateway>, notifier: Notifier) {
    if !notifier.enabled() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last = String::new();
    loop {
        tick.tick().await;
        let now = gateway.summary();
        if now != last {
            let _ = notifier.status(&now);
            last = now;
        }
    }
}

impl Daemon {
    /// SIGHUP: validate the whole file; apply it only if it is good; restart only the
    /// channels whose sections changed (added and removed ones are started and stopped).
    async fn reload(&mut self) {
        let _ = self.notifier.reloading();
        tracing::info!(event = "reload", path = %self.path.display(), "SIGHUP: re-reading the configuration");
        let loaded = match Config::load(&self.path) {
            Ok(loaded) => loaded,
            Err(errors) => {
                for e in &errors.0 {
                    tracing::error!(event = "reload_rejected", "{e}");
                }
                tracing::error!(
                    event = "reload_rejected",
                    problems = errors.0.len(),
                    "the new configuration has problems; nothing was changed"
                );
                let _ = self.notifier.ready(&self.gateway.summary());
                return;
            }
        };
        log_warnings(&loaded.warnings);
        let new = loaded.config;
        if new.http != self.config.http || new.webhook != self.config.webhook {
            tracing::warn!(
                event = "reload_needs_restart",
                "[http] and [webhook] changes take effect after a restart"
            );
        }
        let old = self.gateway.configs();
        let changed: Vec<String> = old
            .iter()
            .filter(|o| !new.channels.iter().any(|n| n == *o))
            .map(|o| o.name.clone())
            .collect();
        let order: Vec<String> = new.channels.iter().map(|c| c.name.clone()).collect();
        // Stop the changed and removed channels; keep what they held for their successors.
        let stopped = self.gateway.take_named(&changed);
        let mut held = Vec::new();
        for channel in stopped {
            let name = channel.config.name.clone();
            if let Some(mut end) = channel.stop().await {
                let mut messages: Vec<_> = end.unsent.drain(..).collect();
                end.queue.close();
                while let Ok(m) = end.queue.try_recv() {
                    messages.push(m);
                }
                held.push((name, messages));
            }
        }
        let mut restarted = Vec::new();
        for config in &new.channels {
            let running = old.iter().any(|o| o == config);
            if !running {
                restarted.push(config.name.clone());
                let channel =
                    channels::start(config.clone(), self.outcomes.clone(), self.inbound.clone());
                self.gateway.insert(channel, &order);
            }
        }
        for (name, messages) in held {
            self.gateway.requeue(&name, messages);
        }
        tracing::info!(
            event = "reloaded",
            restarted = ?restarted,
            unchanged = new.channels.len() - restarted.len(),
            "configuration reloaded"
        );
        self.config = new;
        let _ = self.notifier.ready(&self.gateway.summary());
    }
}
