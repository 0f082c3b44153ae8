//! `smppd run`: the daemon's main loop.
//!
//! Start every channel, serve the HTTP API, tell systemd when ready, then wait for signals:
//! SIGHUP re-reads the configuration and restarts only the channels whose sections changed;
//! SIGTERM (or SIGINT) stops taking requests, drains and unbinds every channel, and returns.
//!
//! The re-read happens on a thread of its own with a time limit ([`RELOAD_READ_BOUND`]), and
//! SIGTERM is heeded while it runs: a configuration on a hung file system must neither stall
//! the runtime nor delay a stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Notify};

use super::api::{self, Services, ServicesError};
use super::channels::Plumbing;
use super::cluster::Slots;
use super::dispatch::Dispatcher;
use super::gateway::Gateway;
use super::smpp_server::{ListenError, SmppServer, UserRoutes};
use super::store::Store;
use super::systemd::{self, Notifier};
use crate::config::{Config, ConfigErrors, ConfigWarning, Loaded};

/// How long a graceful stop may take before the daemon exits anyway: within systemd's
/// `TimeoutStopSec=30` with a margin.
pub const STOP_BOUND: Duration = Duration::from_secs(25);

/// How long re-reading the configuration on SIGHUP may take. Files are small and local; a
/// read that takes longer is stuck (a hung network file system) and the reload is given up.
pub(crate) const RELOAD_READ_BOUND: Duration = Duration::from_secs(10);

/// Why a configuration could not be re-read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReloadError {
    /// The file was read and has problems; each is listed.
    #[error("{0}")]
    Config(ConfigErrors),
    /// Reading did not finish in time.
    #[error("reading the configuration took longer than {} s; it is left to finish on its own", .0.as_secs())]
    TimedOut(Duration),
    /// The reading thread could not be started, or ended without an answer.
    #[error("the configuration reader failed: {0}")]
    Reader(String),
}

/// Runs `read` on a thread of its own and waits at most `bound` for its answer.
///
/// A plain thread rather than `spawn_blocking`: a runtime being dropped waits for its
/// blocking tasks, so a read stuck for ever would keep the process from exiting. A thread
/// that outlives `bound` is left alone; it ends with the process at the latest.
async fn off_runtime<T: Send + 'static>(
    bound: Duration,
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReloadError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("smppd-config".into())
        .spawn(move || {
            let _ = tx.send(read());
        })
        .map_err(|e| ReloadError::Reader(e.to_string()))?;
    match tokio::time::timeout(bound, rx).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(ReloadError::Reader("it ended without an answer".into())),
        Err(_) => Err(ReloadError::TimedOut(bound)),
    }
}

/// Reads and validates the configuration at `path` off the runtime, within `bound`.
pub(crate) async fn load_off_runtime(path: &Path, bound: Duration) -> Result<Loaded, ReloadError> {
    let path = path.to_path_buf();
    off_runtime(bound, move || Config::load(&path))
        .await?
        .map_err(ReloadError::Config)
}

/// Why the daemon could not start (after start, failures are logged, not returned).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration has problems; each is listed.
    #[error("{0}")]
    Config(ConfigErrors),
    /// The store or the webhook sender could not be set up.
    #[error(transparent)]
    Services(#[from] ServicesError),
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
    /// Another running node uses this node's name on the shared store.
    #[error("{0}")]
    Node(String),
    /// The SMPP server could not start.
    #[error(transparent)]
    SmppServer(#[from] ListenError),
}

/// Logs configuration warnings, one event each.
pub(crate) fn log_warnings(warnings: &[ConfigWarning]) {
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
    slots: Slots,
    store: Arc<dyn Store>,
    notifier: Notifier,
    /// The SMPP server, when `[smpp-server]` is configured.
    smpp: Option<Arc<SmppServer>>,
    routes: Arc<UserRoutes>,
}

/// How often queued messages are checked for expiry and old records purged.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Expires and purges in small steps, for ever.
async fn upkeep(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.upkeep(std::time::SystemTime::now()).await {
            Ok(done) if done.expired > 0 => tracing::info!(
                event = "messages_expired",
                expired = done.expired,
                "queued messages expired before they could be sent"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(event = "upkeep_failed", error = %e, "store upkeep failed; retrying")
            }
        }
    }
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

    let (mut services, recovery) = Services::open(&config).await?;
    tracing::info!(
        event = "store_opened",
        store = %super::store_config::describe(&config),
        schema_found = recovery.schema_found,
        requeued = recovery.requeued,
        waiting = services.store.counts().waiting,
        "store opened"
    );
    if recovery.requeued > 0 {
        tracing::warn!(
            event = "store_recovered",
            requeued = recovery.requeued,
            "messages handed to channels when the last run ended are queued again (they may be sent twice)"
        );
    }
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

    if let Some(leases) = &services.leases {
        register(leases).await?;
    }
    let configs: Vec<Arc<crate::config::ChannelConfig>> =
        config.channels.iter().cloned().map(Arc::new).collect();
    let gateway = Gateway::new(configs);
    let dispatcher = Arc::new(Dispatcher::new(
        gateway.clone(),
        services.store.clone(),
        config.store.default_validity,
    ));
    let plumbing = Plumbing {
        store: services.store.clone(),
        metrics: services.metrics.clone(),
        wake: dispatcher.wake_signal(),
        webhook: services.webhook.is_some(),
        outbox: services
            .webhook
            .as_ref()
            .map_or_else(|| Arc::new(Notify::new()), |w| w.wake.clone()),
        resends: services.resends.clone(),
        routes: services.routes.clone(),
    };
    let order: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
    let slots = match &services.leases {
        Some(leases) => Slots::leased(
            gateway.clone(),
            plumbing,
            services.board.clone(),
            leases.clone(),
        ),
        None => {
            let node = services.board.snapshot().node;
            Slots::local(gateway.clone(), plumbing, services.board.clone(), node)
        }
    };
    fail_unknown_pinned(&services.store, &order).await;
    let upkeep = tokio::spawn(upkeep(services.store.clone()));
    let waker = dispatcher.clone();
    let smpp = SmppServer::start(
        &config,
        services.store.clone(),
        &services.routes,
        Box::new(move || waker.wake()),
    )
    .await?
    .map(Arc::new);
    services.smpp = smpp.clone();

    let (stop_http, mut http_stopped) = watch::channel(false);
    let app = api::router(&services, gateway.clone(), dispatcher.clone(), &config);
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
        slots,
        store: services.store.clone(),
        notifier,
        smpp,
        routes: services.routes.clone(),
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                let _ = daemon.notifier.reloading();
                tracing::info!(event = "reload", path = %daemon.path.display(), "SIGHUP: re-reading the configuration");
                // A stop asked for while the file is being read wins over the reload.
                let loaded = tokio::select! {
                    loaded = load_off_runtime(&daemon.path, RELOAD_READ_BOUND) => loaded,
                    _ = terminate.recv() => break,
                    _ = interrupt.recv() => break,
                };
                daemon.reload(loaded).await;
            }
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
    if let Some(smpp) = daemon.smpp.take() {
        smpp.stop().await;
    }
    let stopped = tokio::time::timeout(STOP_BOUND, daemon.slots.stop()).await;
    if stopped.is_err() {
        tracing::warn!(event = "stop_timeout", "channels did not stop in time");
    }
    upkeep.abort();
    if let Some(hook) = &services.webhook {
        hook.stop();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), http).await;
    let waiting = daemon.store.counts().waiting;
    if waiting > 0 {
        tracing::info!(
            event = "stopped_with_queue",
            waiting,
            "{waiting} message(s) stay queued on disk for the next start"
        );
    }
    tracing::info!(event = "stopped", "smppd stopped");
    Ok(())
}

/// Records this node on the shared store, waiting (up to two leases) for an earlier
/// process of the same name to fall silent; refuses to start while another live process
/// uses the name, since both would claim the same slots' messages.
async fn register(leases: &super::store::postgres::Leases) -> Result<(), RunError> {
    let deadline = tokio::time::Instant::now() + leases.lease() * 2 + Duration::from_secs(1);
    let mut told = false;
    loop {
        match leases.register().await {
            Ok(true) => return Ok(()),
            Ok(false) if tokio::time::Instant::now() < deadline => {
                if !told {
                    told = true;
                    tracing::warn!(event = "node_name_in_use", node = leases.node(), "another process with this node-name sent a heartbeat less than one lease ago; waiting for it to fall silent");
                }
            }
            Ok(false) => {
                return Err(RunError::Node(format!(
                    "another running smppd uses node-name {:?} on this store; every node needs a name of its own ([store] node-name)",
                    leases.node()
                )))
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(event = "node_register_failed", error = %e, "cannot record this node in the store; retrying");
            }
            Err(e) => return Err(RunError::Node(format!("cannot record this node in the store: {e}"))),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Fails queued messages tied to a channel that is no longer configured: nothing could ever
/// send them, and a client waiting on them should know.
async fn fail_unknown_pinned(store: &Arc<dyn Store>, configured: &[String]) {
    let reason = "the channel was removed from the configuration";
    match store
        .fail_unconfigured(configured.to_vec(), reason, std::time::SystemTime::now())
        .await
    {
        Ok(0) => {}
        Ok(failed) => tracing::warn!(
            event = "pinned_failed",
            failed,
            "queued messages for channels no longer configured failed"
        ),
        Err(e) => tracing::warn!(
            event = "pinned_not_failed",
            error = %e,
            "cannot fail the messages of removed channels"
        ),
    }
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
    /// SIGHUP, once the file is read: apply it only if it is good; restart only the
    /// channels whose sections changed (added and removed ones are started and stopped).
    async fn reload(&mut self, loaded: Result<Loaded, ReloadError>) {
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(ReloadError::Config(errors)) => {
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
            Err(e) => {
                tracing::error!(event = "reload_rejected", "{e}; nothing was changed");
                let _ = self.notifier.ready(&self.gateway.summary());
                return;
            }
        };
        log_warnings(&loaded.warnings);
        let new = loaded.config;
        if new.http != self.config.http
            || new.webhook != self.config.webhook
            || new.store != self.config.store
            || new.smpp_server != self.config.smpp_server
        {
            tracing::warn!(
                event = "reload_needs_restart",
                "[http], [webhook], [store] and [smpp-server] changes take effect after a restart"
            );
        }
        if let Some(smpp) = &self.smpp {
            smpp.reload(&new, &self.routes).await;
        }
        let old = self.gateway.configs();
        let changed: Vec<String> = old
            .iter()
            .filter(|o| !new.channels.iter().any(|n| n == o.as_ref()))
            .map(|o| o.name.clone())
            .collect();
        let order: Vec<String> = new.channels.iter().map(|c| c.name.clone()).collect();
        // The changed and removed channels stop; what they held goes back to the queue,
        // where their successors (or any channel, for messages not tied to one) take it.
        let configs = new.channels.iter().cloned().map(Arc::new).collect();
        let restarted = self.slots.reconfigure(configs, changed).await;
        fail_unknown_pinned(&self.store, &order).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_that_hangs_is_given_up_after_the_bound() {
        let (_keep, stuck) = std::sync::mpsc::channel::<()>();
        let started = std::time::Instant::now();
        let result = off_runtime(Duration::from_millis(200), move || stuck.recv()).await;
        assert!(
            matches!(result, Err(ReloadError::TimedOut(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_runs_off_the_runtime() {
        // On a one-thread runtime a read on the runtime's thread would starve this timer.
        let ticked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = ticked.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let probe = ticked.clone();
        let answer = off_runtime(Duration::from_secs(30), move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !probe.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the runtime was blocked"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            42
        })
        .await;
        assert_eq!(answer.unwrap(), 42);
    }

    #[tokio::test]
    async fn a_bad_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.toml");
        let result = load_off_runtime(&path, RELOAD_READ_BOUND).await;
        assert!(matches!(result, Err(ReloadError::Config(_))), "{result:?}");
    }
}
