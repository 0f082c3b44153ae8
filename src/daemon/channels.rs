//! Starting a channel from its validated configuration: read its keystore once, build its
//! TLS context once, and hand the supervisor a connect function that uses them; beside the
//! supervisor, the channel's feeder (store → queue) and sink (events → store).
//!
//! Set-up failures (a wrong keystore password, a missing file...) are logged here as 43010
//! then 42403, and leave the channel `Failed` without a task: retrying cannot fix them, only
//! a configuration change can (SIGHUP, or a restart).
//!
//! A namespace of its own under `daemon`: one channel can be started apart from the daemon
//! ([`supervise`], as the tests and `check-config` do), and its functions read with the
//! module's name (`channels::supervise`).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::api::Metrics;
use super::certificates::ChannelCertificates;
use super::feeder::{Feeder, InFlight};
use super::sink::Sink;
use super::smpp_server::UserRoutes;
use super::store::{split_key, Fence, Store};
use crate::config::{ChannelConfig, ChannelTls, KeystoreSource};
use crate::session::{CountersSnapshot, RecordWindow, SendGate};
use crate::supervisor::{
    self, Attempt, Backoff, ChannelEnd, ChannelFailure, ChannelHandle, ChannelIo, ChannelState,
    ChannelStatus, LastError,
};
use crate::transport::keystore::Keystore;
use crate::transport::{self, Connector, InitError, KeystoreFile, Timeouts, TlsSettings};

/// What every channel shares with the rest of the daemon.
#[derive(Clone)]
pub struct Plumbing {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Submit response counts and latencies.
    pub metrics: Arc<Metrics>,
    /// Bumped when new messages were committed.
    pub wake: watch::Receiver<u64>,
    /// Whether a webhook is configured.
    pub webhook: bool,
    /// Poked when events were queued for the webhook.
    pub outbox: Arc<Notify>,
    /// Segments sent again after a restart or a channel stop (`smppd_resends`).
    pub resends: Arc<AtomicU64>,
    /// Which channels serve which SMPP users.
    pub routes: Arc<UserRoutes>,
}

impl std::fmt::Debug for Plumbing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Plumbing").finish_non_exhaustive()
    }
}

/// Which session slot of a channel an instance runs, and its licence to send.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The slot and the lease epoch every write is made under.
    pub fence: Fence,
    /// Open while the slot's lease is safely held ([`SendGate::always`] on one node).
    pub gate: SendGate,
}

impl Slot {
    /// Slot `slot` of `channel` on a single node: not leased, always allowed to send.
    pub fn local(channel: &str, slot: u16) -> Slot {
        Slot {
            fence: Fence {
                slot,
                ..Fence::unleased(channel)
            },
            gate: SendGate::always(),
        }
    }
}

/// A channel's queue holds twice its window: enough to keep the window full between two
/// claims, few enough that a channel going down holds little.
fn queue_capacity(config: &ChannelConfig) -> usize {
    (config.session.window_size() * 2).max(16)
}

/// The most messages a session slot with `x-smpp-submit-window-size = window` may make the
/// SMSC get twice after a crash or a takeover: the window. A submit holds its place in the
/// slot's [`RecordWindow`] from its first write until its outcome is committed, so those
/// in the window and those answered but not yet recorded are together at most this many.
pub fn resend_bound(window: usize) -> usize {
    window.max(1)
}

/// One session slot of a configured channel: its supervisor task (unless set-up failed),
/// feeder and sink.
pub struct Channel {
    /// The configuration it runs with (compared on SIGHUP to decide on a restart). Shared,
    /// because request and inbound handling look it up per message.
    pub config: Arc<ChannelConfig>,
    /// The slot it runs.
    pub slot: Slot,
    /// State, counters and last error.
    pub status: watch::Receiver<ChannelStatus>,
    supervised: Supervised,
    feeder: Option<(watch::Sender<bool>, JoinHandle<Vec<i64>>)>,
    sink: Option<JoinHandle<()>>,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.config.name)
            .field("slot", &self.slot.fence.slot)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Message totals right now.
    pub fn counters(&self) -> CountersSnapshot {
        self.supervised.counters()
    }

    /// The certificates it presents, trusts and last saw from its SMSC.
    pub fn certificates(&self) -> &ChannelCertificates {
        &self.supervised.certificates
    }

    /// Stops the channel gracefully: no new claims, drain what is in flight, unbind, record
    /// every outcome, then give what it still held back to the queue. Returns how many
    /// messages went back.
    pub async fn stop(self) -> usize {
        let mut held: Vec<(i64, bool)> = Vec::new();
        if let Some((stop, task)) = self.feeder {
            let _ = stop.send(true);
            if let Ok(leftover) = task.await {
                held.extend(leftover.into_iter().map(|seq| (seq, false)));
            }
        }
        if let Some(ChannelEnd { mut queue, unsent }) = self.supervised.stop().await {
            {
                queue.close();
                while let Ok(m) = queue.try_recv() {
                    held.push((split_key(m.id).0, false));
                }
                held.extend(unsent.iter().map(|m| (split_key(m.id).0, m.attempts > 0)));
            }
        }
        // Every outcome the sessions reported is recorded before anything goes back to the
        // queue, so that an acknowledged message is never claimed (and sent) again.
        if let Some(sink) = self.sink {
            let _ = sink.await;
        }
        held.sort_unstable();
        held.dedup_by(|a, b| {
            if a.0 == b.0 {
                b.1 |= a.1;
                true
            } else {
                false
            }
        });
        let n = held.len();
        if n > 0 {
            if let Err(e) = self.store.release_for(Some(&self.slot.fence), held).await {
                // Still claimed on disk: queued again at the next start.
                tracing::warn!(channel = %self.config.name, event = "release_failed", error = %e, "cannot give messages back to the queue");
            }
        }
        n
    }
}

/// The TLS settings of a channel, its keystore read (once) from disk.
pub fn tls_settings(tls: &ChannelTls) -> Result<TlsSettings, InitError> {
    let options = tls.options.clone();
    let keystore = match &tls.keystore {
        KeystoreSource::None => None,
        KeystoreSource::Pkcs12 {
            path,
            file_password,
            key_password,
        } => Some(KeystoreFile {
            path: path.clone(),
            contents: Keystore::load_pkcs12(path, file_password, key_password).map_err(
                |source| InitError::Keystore {
                    path: path.clone(),
                    source,
                },
            )?,
        }),
        KeystoreSource::Pem {
            certificate,
            key,
            ca,
        } => {
            let path = certificate
                .clone()
                .or_else(|| ca.clone())
                .unwrap_or_default();
            let contents =
                Keystore::load_pem(certificate.as_deref(), key.as_deref(), ca.as_deref()).map_err(
                    |source| InitError::Keystore {
                        path: path.clone(),
                        source,
                    },
                )?;
            Some(KeystoreFile { path, contents })
        }
    };
    Ok(match tls.mode {
        transport::TlsMode::Off => TlsSettings::Off,
        transport::TlsMode::Single => TlsSettings::Single { options, keystore },
        transport::TlsMode::Mutual => match keystore {
            Some(keystore) => TlsSettings::Mutual { options, keystore },
            // The configuration refuses mutual mode without an identity; this is a guard.
            None => {
                return Err(InitError::NoPrivateKey {
                    path: Default::default(),
                })
            }
        },
    })
}

/// Logs the keystore's validity warnings (expired, not yet valid, expiring soon).
fn warn_about_certificates(channel: &str, settings: &TlsSettings) {
    let Some(keystore) = settings.keystore() else {
        return;
    };
    for w in keystore.contents.warnings(SystemTime::now()) {
        tracing::warn!(
            channel,
            event = "certificate_warning",
            reason = w.reason(),
            path = %keystore.path.display(),
            "{w}"
        );
    }
}

/// A channel's supervisor over queues the caller owns: the keystore read and the TLS context
/// built once, and a connect function that uses them. Set-up failures are logged (43010,
/// 42403) and leave it `Failed` without a task.
pub struct Supervised {
    /// State, counters and last error.
    pub status: watch::Receiver<ChannelStatus>,
    /// Its certificates (none when set-up failed before the keystore was read).
    pub certificates: Arc<ChannelCertificates>,
    handle: Option<ChannelHandle>,
    /// Kept for a channel whose set-up failed, so its status channel stays open.
    _failed_status: Option<watch::Sender<ChannelStatus>>,
}

impl std::fmt::Debug for Supervised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Supervised").finish_non_exhaustive()
    }
}

impl Supervised {
    /// Message totals right now.
    pub fn counters(&self) -> CountersSnapshot {
        self.handle
            .as_ref()
            .map_or_else(CountersSnapshot::default, |h| h.counters())
    }

    /// Stops it gracefully (drain, unbind, close) and gives back what it held; `None` when
    /// set-up had failed (there was no task).
    pub async fn stop(self) -> Option<ChannelEnd> {
        self.handle?.stop().await.ok()
    }
}

/// Starts the supervisor of `config`'s channel over `io`, as its first session slot.
pub fn supervise(config: &ChannelConfig, io: ChannelIo) -> Supervised {
    supervise_slot(config, 0, io)
}

/// Starts the supervisor of session slot `slot` of `config`'s channel over `io`: the
/// channel's parameters with the slot's share of the rate cap.
pub fn supervise_slot(config: &ChannelConfig, slot: u16, io: ChannelIo) -> Supervised {
    match prepare(config, slot) {
        Ok((connector, backoff, params, certificates)) => {
            let certificates = Arc::new(certificates);
            let seen = certificates.clone();
            let connector = Arc::new(connector);
            let (host, port) = (config.host.clone(), config.port);
            let name: Arc<str> = Arc::from(config.name.as_str());
            let timeouts = Timeouts {
                connect: config.connect_timeout,
                handshake: config.connect_timeout,
            };
            let connect = move || {
                let connector = connector.clone();
                let host = host.clone();
                let name = name.clone();
                let seen = seen.clone();
                async move {
                    let connection = connector
                        .connect(&host, port, timeouts)
                        .await
                        .map_err(ChannelFailure::Connect)?;
                    if let Some(warning) = connection.warning {
                        tracing::warn!(
                            channel = &*name,
                            event = "tls_trust_all",
                            address = %connection.stream.peer_addr(),
                            host = %host,
                            "{warning}"
                        );
                    }
                    if let Some(leaf) = &connection.peer_certificate {
                        seen.saw_peer(&name, leaf);
                    }
                    Ok(connection.stream)
                }
            };
            let handle = supervisor::spawn(config.name.clone(), params, backoff, connect, io);
            Supervised {
                status: handle.status.clone(),
                certificates,
                handle: Some(handle),
                _failed_status: None,
            }
        }
        Err(failure) => {
            let report = supervisor::emit(
                &failure,
                Attempt {
                    channel: &config.name,
                    attempt: 1,
                    retry_in: None,
                },
            );
            let mut failed = ChannelStatus::new(ChannelState::Failed);
            failed.failures.record(&report);
            failed.last_error = Some(LastError {
                code: report.primary.code,
                reason: report.reason,
                message: report.primary.text,
            });
            let (tx, status) = watch::channel(failed);
            Supervised {
                status,
                certificates: Arc::default(),
                handle: None,
                _failed_status: Some(tx),
            }
        }
    }
}

/// Starts session slot `slot` of `config`'s channel: its supervisor, the feeder that fills
/// its queue from the store, and the sink that records what it reports.
pub fn start(config: Arc<ChannelConfig>, slot: Slot, plumbing: &Plumbing) -> Channel {
    let (queue, queue_rx) = mpsc::channel(queue_capacity(&config));
    let (events, events_rx) = mpsc::unbounded_channel();
    let supervised = supervise_slot(
        &config,
        slot.fence.slot,
        ChannelIo {
            queue: queue_rx,
            events,
            gate: slot.gate.clone(),
            record: Some(RecordWindow::new(resend_bound(
                config.session.window_size(),
            ))),
        },
    );
    let running = supervised.handle.is_some();
    let in_flight = Arc::new(InFlight::default());
    let sink = running.then(|| {
        let sink = Sink {
            config: config.clone(),
            store: plumbing.store.clone(),
            metrics: plumbing.metrics.clone(),
            webhook: plumbing.webhook,
            outbox: plumbing.outbox.clone(),
            in_flight: in_flight.clone(),
            fence: slot.fence.clone(),
            routes: plumbing.routes.clone(),
        };
        tokio::spawn(sink.run(events_rx))
    });
    let feeder = running.then(|| {
        let (stop, stop_rx) = watch::channel(false);
        let feeder = Feeder {
            config: config.clone(),
            store: plumbing.store.clone(),
            queue,
            status: supervised.status.clone(),
            wake: plumbing.wake.clone(),
            stop: stop_rx,
            resends: plumbing.resends.clone(),
            in_flight,
            fence: slot.fence.clone(),
            routes: plumbing.routes.clone(),
        };
        (stop, tokio::spawn(feeder.run()))
    });
    Channel {
        status: supervised.status.clone(),
        config,
        slot,
        supervised,
        feeder,
        sink,
        store: plumbing.store.clone(),
    }
}

/// Everything a channel needs before its first connection, or the failure that stops it.
fn prepare(
    config: &ChannelConfig,
    slot: u16,
) -> Result<
    (
        Connector,
        Backoff,
        crate::session::SessionParams,
        ChannelCertificates,
    ),
    ChannelFailure,
> {
    let settings = tls_settings(&config.tls)?;
    warn_about_certificates(&config.name, &settings);
    let certificates = ChannelCertificates::from_settings(&config.name, &settings);
    let connector = Connector::new(&settings)?;
    // Validated with the configuration; failing here would be a bug, reported as a set-up
    // failure rather than a panic. The session parameters were built then, once.
    let backoff = Backoff::try_new(config.reconnect_ceiling.as_secs()).map_err(|e| {
        ChannelFailure::Init(InitError::Setup {
            detail: format!("reconnection-timeout: {e}"),
        })
    })?;
    let slot = u8::try_from(slot).unwrap_or(u8::MAX);
    Ok((connector, backoff, config.slot_params(slot), certificates))
}
