//! Starting a channel from its validated configuration: read its keystore once, build its
//! TLS context once, and hand the supervisor a connect function that uses them.
//!
//! Set-up failures (a wrong keystore password, a missing file...) are logged here as 43010
//! then 42403, and leave the channel `Failed` without a task: retrying cannot fix them, only
//! a configuration change can (SIGHUP, or a restart).

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};

use crate::config::{ChannelConfig, KeystoreSource, TlsOptions};
use crate::session::{CountersSnapshot, Inbound, OutboundMessage, SubmitOutcome};
use crate::supervisor::{
    self, Attempt, Backoff, ChannelEnd, ChannelFailure, ChannelHandle, ChannelIo, ChannelState,
    ChannelStatus, LastError,
};
use crate::transport::keystore::Keystore;
use crate::transport::{self, Connector, InitError, KeystoreFile, Timeouts, TlsSettings};

/// How many messages may wait in a channel's queue before `enqueue` reports it full.
pub const QUEUE_CAPACITY: usize = 10_000;

/// A configured channel: its supervisor task (unless set-up failed) and the daemon's end of
/// its queue.
#[derive(Debug)]
pub struct Channel {
    /// The configuration it runs with (compared on SIGHUP to decide on a restart). Shared,
    /// because request and inbound handling look it up per message.
    pub config: Arc<ChannelConfig>,
    /// Where the daemon puts messages for this channel.
    pub queue: mpsc::Sender<OutboundMessage>,
    /// State, counters and last error.
    pub status: watch::Receiver<ChannelStatus>,
    handle: Option<ChannelHandle>,
    /// Kept for a channel whose set-up failed, so its status channel stays open.
    _failed_status: Option<watch::Sender<ChannelStatus>>,
}

impl Channel {
    /// Message totals right now.
    pub fn counters(&self) -> CountersSnapshot {
        match &self.handle {
            Some(h) => h.counters(),
            None => CountersSnapshot::default(),
        }
    }

    /// Stops the channel gracefully (drain, unbind, close) and gives back what it held.
    pub async fn stop(self) -> Option<ChannelEnd> {
        self.handle?.stop().await.ok()
    }
}

/// The TLS settings of a channel, its keystore read (once) from disk.
pub fn tls_settings(tls: &TlsOptions) -> Result<TlsSettings, InitError> {
    let options = transport::TlsOptions {
        version: tls.version,
        server_name: tls.server_name.clone(),
        trust_all: tls.trust_all,
    };
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

/// Starts `config`'s channel. Outcomes and inbound messages of every channel go to the same
/// two senders; inbound ones are tagged with the channel's name.
pub fn start(
    config: ChannelConfig,
    outcomes: mpsc::UnboundedSender<SubmitOutcome>,
    inbound: mpsc::UnboundedSender<(String, Inbound)>,
) -> Channel {
    let (queue, queue_rx) = mpsc::channel(QUEUE_CAPACITY);
    match prepare(&config) {
        Ok((connector, backoff, params)) => {
            let (inbound_tx, mut inbound_rx) = mpsc::unbounded_channel();
            let name = config.name.clone();
            // Tag inbound messages with their channel; the task ends with the channel.
            tokio::spawn(async move {
                while let Some(msg) = inbound_rx.recv().await {
                    if inbound.send((name.clone(), msg)).is_err() {
                        break;
                    }
                }
            });
            let connector = Arc::new(connector);
            let (host, port) = (config.host.clone(), config.port);
            let timeouts = Timeouts {
                connect: config.connect_timeout,
                handshake: config.connect_timeout,
            };
            let connect = move || {
                let connector = connector.clone();
                let host = host.clone();
                async move {
                    connector
                        .connect(&host, port, timeouts)
                        .await
                        .map(|c| c.stream)
                        .map_err(ChannelFailure::Connect)
                }
            };
            let handle = supervisor::spawn(
                config.name.clone(),
                params,
                backoff,
                connect,
                ChannelIo {
                    queue: queue_rx,
                    outcomes,
                    inbound: inbound_tx,
                },
            );
            Channel {
                status: handle.status.clone(),
                config: Arc::new(config),
                queue,
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
            let (tx, status) = watch::channel(ChannelStatus {
                state: ChannelState::Failed,
                counters: CountersSnapshot::default(),
                last_error: Some(LastError {
                    code: report.primary.code,
                    reason: report.reason,
                    message: report.primary.text,
                }),
                connect_attempts: 0,
                binds: 0,
            });
            Channel {
                config: Arc::new(config),
                queue,
                status,
                handle: None,
                _failed_status: Some(tx),
            }
        }
    }
}

/// Everything a channel needs before its first connection, or the failure that stops it.
fn prepare(
    config: &ChannelConfig,
) -> Result<(Connector, Backoff, crate::session::SessionParams), ChannelFailure> {
    let settings = tls_settings(&config.tls)?;
    warn_about_certificates(&config.name, &settings);
    let connector = Connector::new(&settings)?;
    // Both were validated with the configuration; failing here would be a bug, reported as
    // a set-up failure rather than a panic.
    let backoff = Backoff::try_new(config.reconnect_ceiling.as_secs()).map_err(|e| {
        ChannelFailure::Init(InitError::Setup {
            detail: format!("reconnection-timeout: {e}"),
        })
    })?;
    let params = config.session_params().map_err(|e| {
        ChannelFailure::Init(InitError::Setup {
            detail: e.to_string(),
        })
    })?;
    Ok((connector, backoff, params))
}
