//! [`spawn`]: the task that keeps one channel connected and bound.
//!
//! ```text
//!  Starting ─► Connecting ─► Binding ─► Bound ─┬─ stop ──► Stopped
//!                 ▲  │          │              │
//!                 │  │ fail     │ fail         │ link lost, unbound by SMSC
//!                 │  ▼          ▼              ▼
//!                 └──────── BackingOff ◄───────┘
//!     Connecting ── fatal (configuration) ──► Failed
//! ```
//!
//! The task owns the channel's queue receiver for its whole life, so messages wait there
//! between sessions; messages a session handed back are sent first by the next one. How to
//! connect (TCP, TLS) is a function passed in, so this file knows nothing of the transport.
//! State, counters and the last error are published on a `watch` channel.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::session::{
    Counters, CountersSnapshot, EndReason, Inbound, OutboundMessage, Session, SessionError,
    SessionIo, SessionParams, SubmitOutcome,
};
use crate::supervisor::backoff::Backoff;

/// A boxed error from the connect function.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a connect attempt failed, and whether trying again can help.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// Network or handshake trouble: back off and try again.
    #[error("{0}")]
    Retry(BoxError),
    /// The channel cannot work as configured (bad keystore, ...): give up.
    #[error("{0}")]
    Fatal(BoxError),
}

/// What stopped the channel from being bound, as kept in [`ChannelStatus::last_error`].
#[derive(Debug, Error)]
pub enum ChannelError {
    /// The connect function failed.
    #[error("connect failed: {0}")]
    Connect(#[source] ConnectError),
    /// Binding or the bound session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Where the channel is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// The task has not tried anything yet.
    Starting,
    /// Opening the connection.
    Connecting,
    /// Connected; the bind is on its way.
    Binding,
    /// Bound: messages flow.
    Bound,
    /// Waiting before the next attempt.
    BackingOff {
        /// How long this wait lasts.
        delay: Duration,
    },
    /// Stopped on request.
    Stopped,
    /// Given up: the configuration must be fixed.
    Failed,
}

/// What the channel publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The current state.
    pub state: ChannelState,
    /// Message totals over every session, as of the last state change (see
    /// [`ChannelHandle::counters`] for live totals).
    pub counters: CountersSnapshot,
    /// The last failure, as text for status pages (logged once, when it happened).
    pub last_error: Option<String>,
    /// Connect attempts so far.
    pub connect_attempts: u64,
    /// Successful binds so far.
    pub binds: u64,
}

/// The layer above's ends of the message flow, lent to the channel for its lifetime.
#[derive(Debug)]
pub struct ChannelIo {
    /// Messages to submit.
    pub queue: mpsc::Receiver<OutboundMessage>,
    /// Final outcomes of submitted messages.
    pub outcomes: mpsc::UnboundedSender<SubmitOutcome>,
    /// Inbound messages, each to be accepted before the SMSC is answered.
    pub inbound: mpsc::UnboundedSender<Inbound>,
}

/// What the channel gives back when its task ends: nothing taken from the queue is lost.
#[derive(Debug)]
pub struct ChannelEnd {
    /// The queue, with whatever was never taken from it.
    pub queue: mpsc::Receiver<OutboundMessage>,
    /// Messages taken but never resolved (in flight or pending when the last session ended).
    pub unsent: VecDeque<OutboundMessage>,
}

/// The layer above's handle on a running channel.
#[derive(Debug)]
pub struct ChannelHandle {
    /// State, counters and last error, updated on every change.
    pub status: watch::Receiver<ChannelStatus>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: JoinHandle<ChannelEnd>,
}

impl ChannelHandle {
    /// The message totals right now (updated by the running session as it goes).
    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    /// Asks the channel to stop gracefully (drain, unbind, close) and waits for it.
    pub async fn stop(self) -> Result<ChannelEnd, tokio::task::JoinError> {
        let _ = self.stop.send(true);
        self.task.await
    }
}

struct Runner<C> {
    name: String,
    params: SessionParams,
    backoff: Backoff,
    connect: C,
    io: ChannelIo,
    counters: Arc<Counters>,
    status: watch::Sender<ChannelStatus>,
    stop: watch::Receiver<bool>,
    unsent: VecDeque<OutboundMessage>,
}

/// Starts the task for channel `name`. `connect` opens a fresh stream each time it is
/// called (the transport's connect-with-timeout, TLS included).
pub fn spawn<C, Fut, S>(
    name: impl Into<String>,
    params: SessionParams,
    backoff: Backoff,
    connect: C,
    io: ChannelIo,
) -> ChannelHandle
where
    C: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, ConnectError>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (status_tx, status) = watch::channel(ChannelStatus {
        state: ChannelState::Starting,
        counters: CountersSnapshot::default(),
        last_error: None,
        connect_attempts: 0,
        binds: 0,
    });
    let (stop, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let runner = Runner {
        name: name.into(),
        params,
        backoff,
        connect,
        io,
        counters: counters.clone(),
        status: status_tx,
        stop: stop_rx,
        unsent: VecDeque::new(),
    };
    let task = tokio::spawn(runner.run());
    ChannelHandle {
        status,
        counters,
        stop,
        task,
    }
}

impl<C, Fut, S> Runner<C>
where
    C: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, ConnectError>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn publish(&self, state: ChannelState) {
        let counters = self.counters.snapshot();
        self.status.send_modify(|s| {
            s.state = state;
            s.counters = counters;
        });
    }

    fn record(&self, error: &ChannelError) {
        // The one place a channel failure is logged.
        tracing::warn!(channel = %self.name, error = %error, "channel failure");
        let text = error.to_string();
        self.status.send_modify(|s| s.last_error = Some(text));
    }

    fn stop_requested(&self) -> bool {
        *self.stop.borrow()
    }

    /// Waits for `f` unless a stop comes first (`None`).
    async fn unless_stopped<T>(&mut self, f: impl Future<Output = T>) -> Option<T> {
        let mut stop = self.stop.clone();
        tokio::select! {
            v = f => Some(v),
            _ = stop.wait_for(|s| *s) => None,
        }
    }

    async fn run(mut self) -> ChannelEnd {
        let end_state = self.cycle().await;
        self.publish(end_state);
        ChannelEnd {
            queue: self.io.queue,
            unsent: self.unsent,
        }
    }

    async fn cycle(&mut self) -> ChannelState {
        loop {
            if self.stop_requested() {
                return ChannelState::Stopped;
            }
            self.publish(ChannelState::Connecting);
            self.status.send_modify(|s| s.connect_attempts += 1);
            let attempt = (self.connect)();
            let stream = match self.unless_stopped(attempt).await {
                None => return ChannelState::Stopped,
                Some(Ok(stream)) => stream,
                Some(Err(ConnectError::Fatal(e))) => {
                    self.record(&ChannelError::Connect(ConnectError::Fatal(e)));
                    return ChannelState::Failed;
                }
                Some(Err(e)) => {
                    self.record(&ChannelError::Connect(e));
                    if !self.back_off().await {
                        return ChannelState::Stopped;
                    }
                    continue;
                }
            };
            self.publish(ChannelState::Binding);
            let bind = Session::bind(stream, self.params.clone());
            let session = match self.unless_stopped(bind).await {
                None => return ChannelState::Stopped,
                Some(Ok(session)) => session,
                Some(Err(e)) => {
                    self.record(&e.into());
                    if !self.back_off().await {
                        return ChannelState::Stopped;
                    }
                    continue;
                }
            };
            self.backoff.reset();
            self.status.send_modify(|s| s.binds += 1);
            self.publish(ChannelState::Bound);
            let end = session
                .run(SessionIo {
                    queue: &mut self.io.queue,
                    resend: std::mem::take(&mut self.unsent),
                    outcomes: self.io.outcomes.clone(),
                    inbound: self.io.inbound.clone(),
                    stop: self.stop.clone(),
                    counters: self.counters.clone(),
                })
                .await;
            self.unsent = end.unsent;
            match end.result {
                Ok(EndReason::Stopped) => return ChannelState::Stopped,
                Ok(EndReason::UnboundBySmsc) => {
                    tracing::info!(channel = %self.name, "unbound by the SMSC; reconnecting");
                }
                Err(e) => self.record(&e.into()),
            }
            if !self.back_off().await {
                return ChannelState::Stopped;
            }
        }
    }

    /// Sleeps the next back-off delay; `false` if a stop came first.
    async fn back_off(&mut self) -> bool {
        let delay = self.backoff.next_delay();
        self.publish(ChannelState::BackingOff { delay });
        self.unless_stopped(tokio::time::sleep(delay))
            .await
            .is_some()
    }
}
