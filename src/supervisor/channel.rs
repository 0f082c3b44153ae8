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
//!
//! A bind is not yet a recovery: the back-off (and the `attempt` count of the log lines)
//! starts over only once a session proved healthy ([`proved_healthy`]), so an SMSC that
//! accepts every bind and then unbinds or sends garbage is retried ever more slowly. A
//! failure (or an unbind by the SMSC) that repeats within a minute of its last full log line
//! is counted, and summarised in one line ([`crate::supervisor::repeats`]); the bind that
//! follows a counted failure is logged at debug level only.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::session::{
    Counters, CountersSnapshot, EndReason, OutboundMessage, RecordWindow, SendGate, Session,
    SessionEvent, SessionIo, SessionParams,
};
use crate::supervisor::backoff::{proved_healthy, Backoff};
use crate::supervisor::failure::{self, Attempt, ChannelFailure};
use crate::supervisor::failure_counts::FailureCounts;
use crate::supervisor::repeats::{Repeats, Summary, Verdict, SUMMARY_WINDOW};

/// The last failure of a channel, as status pages and `GET /v1/channels` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// The documented log code of the primary event (43009 or 43010).
    pub code: u32,
    /// The stable machine-readable reason.
    pub reason: &'static str,
    /// The primary event's text.
    pub message: String,
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

impl ChannelState {
    /// The state in a word or phrase, as status pages show it: `starting`, `connecting`,
    /// `binding`, `bound`, `backing off`, `stopped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Starting => "starting",
            ChannelState::Connecting => "connecting",
            ChannelState::Binding => "binding",
            ChannelState::Bound => "bound",
            ChannelState::BackingOff { .. } => "backing off",
            ChannelState::Stopped => "stopped",
            ChannelState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ChannelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the channel publishes about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The current state.
    pub state: ChannelState,
    /// Message totals over every session, as of the last state change (see
    /// [`ChannelHandle::counters`] for live totals).
    pub counters: CountersSnapshot,
    /// The last failure (logged once, when it happened).
    pub last_error: Option<LastError>,
    /// Connect attempts so far.
    pub connect_attempts: u64,
    /// Successful binds so far.
    pub binds: u64,
    /// When the last successful bind happened (the supervisor's clock), `None` before the
    /// first.
    pub last_bind: Option<std::time::Instant>,
    /// Every failure so far, by documented code (also those the log only counted).
    pub failures: FailureCounts,
}

impl ChannelStatus {
    /// The status of a channel that has not tried anything yet.
    pub fn new(state: ChannelState) -> ChannelStatus {
        ChannelStatus {
            state,
            counters: CountersSnapshot::default(),
            last_error: None,
            connect_attempts: 0,
            binds: 0,
            last_bind: None,
            failures: FailureCounts::default(),
        }
    }

    /// How long ago the last successful bind was, on the clock the supervisor records it
    /// with; `None` before the first bind.
    pub fn since_last_bind(&self) -> Option<Duration> {
        self.last_bind.map(|at| now().saturating_duration_since(at))
    }
}

/// The layer above's ends of the message flow, lent to the channel for its lifetime.
#[derive(Debug)]
pub struct ChannelIo {
    /// Messages to submit.
    pub queue: mpsc::Receiver<OutboundMessage>,
    /// Outcomes of submitted messages and inbound messages, in the order they happened
    /// (each inbound message to be accepted before the SMSC is answered).
    pub events: mpsc::UnboundedSender<SessionEvent>,
    /// The licence to send: while it is closed the channel neither connects nor writes
    /// (see [`SendGate`]); [`SendGate::always`] when the channel is not shared.
    pub gate: SendGate,
    /// The places for written submits whose outcome is not recorded yet, shared by the
    /// channel's successive sessions ([`RecordWindow`]); `None`: no such bound.
    pub record: Option<RecordWindow>,
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
    /// Failures since the last healthy session, this one included (the `attempt` log field).
    attempt: u32,
    /// The failure that keeps repeating, counted instead of logged.
    repeats: Repeats<Recurring>,
    /// A bind was logged at info since the last failure or summary was logged: the binds
    /// of a flapping link after it are not worth an info line each, but the first bind
    /// after a failure (also one that repeated while the SMSC was down) is.
    bind_told: bool,
}

/// What the supervisor counts when it repeats: the same code and reason, or another unbind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recurring {
    Failure { code: u32, reason: &'static str },
    UnboundBySmsc,
}

/// The clock the supervisor measures with: tokio's, so that tests can pause it.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Logs the summary of a run whose window has ended; what follows is logged in full again.
fn poll_repeats(repeats: &mut Repeats<Recurring>, bind_told: &mut bool, channel: &str) {
    if let Some(summary) = repeats.poll(now()) {
        log_summary(channel, summary);
        *bind_told = false;
    }
}

fn log_summary(channel: &str, summary: Summary<Recurring>) {
    match summary.key {
        Recurring::Failure { code, reason } => {
            failure::emit_repeated(channel, code, reason, summary.repeated, summary.over)
        }
        Recurring::UnboundBySmsc => {
            let (repeated, over_s) = (summary.repeated, summary.over.as_secs());
            tracing::info!(
                channel,
                event = "unbound_by_smsc_repeated",
                repeated,
                over_s,
                "unbound by the SMSC: repeated {repeated} times in the last {over_s} s"
            );
        }
    }
}

/// Starts the task for channel `name`. `connect` opens a fresh stream each time it is
/// called (the transport's connect-with-timeout, TLS included); a failure it returns is
/// retried after the back-off when [`ChannelFailure::retryable`], and puts the channel in
/// [`ChannelState::Failed`] otherwise.
pub fn spawn<C, Fut, S>(
    name: impl Into<String>,
    params: SessionParams,
    backoff: Backoff,
    connect: C,
    io: ChannelIo,
) -> ChannelHandle
where
    C: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, ChannelFailure>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (status_tx, status) = watch::channel(ChannelStatus::new(ChannelState::Starting));
    let (stop, stop_rx) = watch::channel(false);
    let counters = Arc::new(Counters::default());
    let name = name.into();
    let runner = Runner {
        params: params.with_channel(&name),
        name,
        backoff,
        connect,
        io,
        counters: counters.clone(),
        status: status_tx,
        stop: stop_rx,
        unsent: VecDeque::new(),
        attempt: 0,
        repeats: Repeats::new(SUMMARY_WINDOW),
        bind_told: false,
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
    Fut: Future<Output = Result<S, ChannelFailure>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn publish(&self, state: ChannelState) {
        let counters = self.counters.snapshot();
        self.status.send_modify(|s| {
            s.state = state;
            s.counters = counters;
        });
    }

    /// The one place a channel failure is logged: its pair of coded events (43009 + 43011,
    /// or 43010 + 42403), with the delay before the next attempt when there is one; or, when
    /// it repeats the failure logged last, only counted.
    fn record(&mut self, failure: &ChannelFailure, retry_in: Option<Duration>) {
        let report = failure.report();
        let key = Recurring::Failure {
            code: report.primary.code,
            reason: report.reason,
        };
        if self.count(key) == Verdict::Log {
            failure::emit_report(
                &report,
                Attempt {
                    channel: &self.name,
                    attempt: self.attempt,
                    retry_in,
                },
            );
        }
        // Counted whether or not it was logged: a rate alert must see every occurrence.
        self.status.send_modify(|s| {
            s.failures.record(&report);
            s.last_error = Some(LastError {
                code: report.primary.code,
                reason: report.reason,
                message: report.primary.text.clone(),
            });
        });
    }

    /// Counts an occurrence of `key`, logging the summary of the run it ends, if any.
    fn count(&mut self, key: Recurring) -> Verdict {
        let (verdict, closed) = self.repeats.on_failure(key, now());
        if let Some(summary) = closed {
            log_summary(&self.name, summary);
        }
        if verdict == Verdict::Log {
            self.bind_told = false;
        }
        verdict
    }

    /// A session proved healthy: the back-off and the attempt count start over, and a
    /// failure that repeated before is summarised now.
    fn recovered(&mut self) {
        self.backoff.reset();
        self.attempt = 0;
        if let Some(summary) = self.repeats.close(now()) {
            log_summary(&self.name, summary);
        }
    }

    /// Logs `failure`, then waits out the back-off. Returns the state to end in, if the
    /// channel must not try again (a failure that retrying cannot fix, or a stop).
    async fn fail(&mut self, failure: ChannelFailure) -> Option<ChannelState> {
        self.attempt = self.attempt.saturating_add(1);
        if !failure.retryable() {
            self.record(&failure, None);
            return Some(ChannelState::Failed);
        }
        let delay = self.backoff.next_delay();
        self.record(&failure, Some(delay));
        self.back_off(delay).await
    }

    /// Waits `delay` before the next attempt; `Some(Stopped)` if a stop came first.
    async fn back_off(&mut self, delay: Duration) -> Option<ChannelState> {
        self.publish(ChannelState::BackingOff { delay });
        match self.unless_stopped(tokio::time::sleep(delay)).await {
            Some(()) => None,
            None => Some(ChannelState::Stopped),
        }
    }

    fn stop_requested(&self) -> bool {
        *self.stop.borrow() || !self.io.gate.is_open_now()
    }

    /// Waits for `f` unless a stop comes first (`None`). Meanwhile, the summary of a
    /// repeating failure is logged when its window ends.
    async fn unless_stopped<T>(&mut self, f: impl Future<Output = T>) -> Option<T> {
        let mut stop = self.stop.clone();
        tokio::pin!(f);
        loop {
            let due = self.repeats.deadline();
            tokio::select! {
                v = &mut f => return Some(v),
                _ = stop.wait_for(|s| *s) => return None,
                _ = sleep_until(due), if due.is_some() => {
                    poll_repeats(&mut self.repeats, &mut self.bind_told, &self.name);
                }
            }
        }
    }

    async fn run(mut self) -> ChannelEnd {
        let end_state = self.cycle().await;
        // What was counted and not yet summarised is not lost with the task.
        if let Some(summary) = self.repeats.close(now()) {
            log_summary(&self.name, summary);
        }
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
                // The gate may have closed while connecting: no bind then.
                Some(Ok(_)) if self.stop_requested() => return ChannelState::Stopped,
                Some(Ok(stream)) => stream,
                Some(Err(failure)) => match self.fail(failure).await {
                    Some(end) => return end,
                    None => continue,
                },
            };
            self.publish(ChannelState::Binding);
            let bind = Session::bind(stream, self.params.clone());
            let session = match self.unless_stopped(bind).await {
                None => return ChannelState::Stopped,
                Some(Ok(session)) => session,
                Some(Err(e)) => match self.fail(e.into()).await {
                    Some(end) => return end,
                    None => continue,
                },
            };
            let bound_at = now();
            self.status.send_modify(|s| {
                s.binds += 1;
                s.last_bind = Some(bound_at);
            });
            self.publish(ChannelState::Bound);
            if self.bind_told {
                tracing::debug!(channel = %self.name, event = "bound", "bound to the SMSC");
            } else {
                tracing::info!(channel = %self.name, event = "bound", "bound to the SMSC");
                self.bind_told = true;
            }
            let before = self.counters.snapshot();
            let end = {
                let run = session.run(SessionIo {
                    queue: &mut self.io.queue,
                    resend: std::mem::take(&mut self.unsent),
                    events: self.io.events.clone(),
                    stop: self.stop.clone(),
                    counters: self.counters.clone(),
                    gate: self.io.gate.clone(),
                    record: self.io.record.clone(),
                });
                tokio::pin!(run);
                loop {
                    let due = self.repeats.deadline();
                    tokio::select! {
                        end = &mut run => break end,
                        _ = sleep_until(due), if due.is_some() => {
                            poll_repeats(&mut self.repeats, &mut self.bind_told, &self.name);
                        }
                    }
                }
            };
            self.unsent = end.unsent;
            let after = self.counters.snapshot();
            let exchanges = (after.acknowledged.saturating_sub(before.acknowledged))
                .saturating_add(after.received.saturating_sub(before.received));
            if proved_healthy(now().saturating_duration_since(bound_at), exchanges) {
                self.recovered();
            }
            let failure = match end.result {
                Ok(EndReason::Stopped) => return ChannelState::Stopped,
                // The right to send ran out: whoever holds the gate decides what comes next.
                Ok(EndReason::Fenced) => return ChannelState::Stopped,
                Ok(EndReason::UnboundBySmsc) => {
                    // Not a failure, but an SMSC that unbinds at once is no better than one
                    // that fails: the same back-off, the same counting.
                    if self.count(Recurring::UnboundBySmsc) == Verdict::Log {
                        tracing::info!(
                            channel = %self.name,
                            event = "unbound_by_smsc",
                            "unbound by the SMSC; reconnecting"
                        );
                    }
                    let delay = self.backoff.next_delay();
                    match self.back_off(delay).await {
                        Some(end) => return end,
                        None => continue,
                    }
                }
                Err(e) => ChannelFailure::from(e),
            };
            if let Some(end) = self.fail(failure).await {
                return end;
            }
        }
    }
}

/// Sleeps until `at`; never returns when there is nothing to wait for (the caller's branch is
/// disabled then anyway).
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_word() {
        let words = [
            (ChannelState::Starting, "starting"),
            (ChannelState::Connecting, "connecting"),
            (ChannelState::Binding, "binding"),
            (ChannelState::Bound, "bound"),
            (
                ChannelState::BackingOff {
                    delay: Duration::from_secs(3),
                },
                "backing off",
            ),
            (ChannelState::Stopped, "stopped"),
            (ChannelState::Failed, "failed"),
        ];
        for (state, word) in words {
            assert_eq!(state.as_str(), word);
            assert_eq!(state.to_string(), word);
        }
    }
}
