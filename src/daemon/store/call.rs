//! [`Call`]: a write as a backend's writer takes it from the queue, [`Done`]: what it
//! produced inside the transaction, and [`answer`]: how the result goes back once the
//! transaction is committed (or failed). Shared by the SQLite and PostgreSQL writers, which
//! differ in how they run a call, not in what a call is.

use super::record::{Accepted, Applied, ClaimedMessage, NewMessage, OutboxEvent, Refused, Upkeep};
use super::{Change, Fence, StoreError};
use std::time::SystemTime;
use tokio::sync::oneshot;

/// Where a call's result goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Told whether an [`Call::Apply`] ran (committed, perhaps not yet durable) as soon as the
/// writer knows; a backend that does not tell drops it.
pub(super) type RanReply = Option<oneshot::Sender<bool>>;

/// A write call for a backend's writer.
pub(super) enum Call {
    Accept(
        Vec<NewMessage>,
        SystemTime,
        Reply<Vec<Result<Accepted, Refused>>>,
    ),
    /// The fence's slot claims from its channel's queue, the shared one and these.
    Claim(
        Fence,
        Vec<String>,
        usize,
        SystemTime,
        Reply<Vec<ClaimedMessage>>,
    ),
    Release(Option<Fence>, Vec<(i64, bool)>, Reply<()>),
    Apply(
        Fence,
        Vec<Change>,
        SystemTime,
        Reply<Vec<Applied>>,
        RanReply,
    ),
    FailUnconfigured(Vec<String>, String, SystemTime, Reply<u64>),
    OutboxDelivered(Vec<i64>, Reply<()>),
    OutboxRetry(i64, SystemTime, Reply<()>),
    Upkeep(SystemTime, Reply<Upkeep>),
    /// Read by the writer, not a reader: its answer then waits, like every write's, until
    /// the commits before it are durable, so no event leaves before it is.
    /// For an SMPP user's events, or the webhook's (`None`).
    OutboxDue(Option<String>, usize, Reply<Vec<OutboxEvent>>),
    /// Users with a balance (and its first value), users without.
    Credits(Vec<(String, Option<u64>)>, Reply<()>),
    /// Adds to a user's balance: the new balance, `None` for a user without one.
    CreditsAdd(String, u64, Reply<Option<u64>>),
}

/// What one call produced, kept until its transaction commits.
pub(super) enum Done {
    Accept(Vec<Result<Accepted, Refused>>),
    Claim(Vec<ClaimedMessage>),
    Apply(Vec<Applied>),
    Count(u64),
    Upkeep(Upkeep),
    Outbox(Vec<OutboxEvent>),
    Balance(Option<u64>),
    Nothing,
}

/// A call whose run gave no result: a writer bug, reported as a failed write.
pub(super) fn missing_result() -> StoreError {
    StoreError::Write("internal: a call produced no result".into())
}

/// Sends a call its answer (after its transaction committed, or failed).
pub(super) fn answer(call: Call, result: Result<Done, StoreError>) {
    fn send<T>(reply: Reply<T>, result: Result<Done, StoreError>, pick: fn(Done) -> Option<T>) {
        let _ = reply.send(result.and_then(|d| pick(d).ok_or_else(missing_result)));
    }
    match call {
        Call::Accept(_, _, r) => send(r, result, |d| match d {
            Done::Accept(v) => Some(v),
            _ => None,
        }),
        Call::Claim(_, _, _, _, r) => send(r, result, |d| match d {
            Done::Claim(v) => Some(v),
            _ => None,
        }),
        Call::Apply(_, _, _, r, _) => send(r, result, |d| match d {
            Done::Apply(v) => Some(v),
            _ => None,
        }),
        Call::FailUnconfigured(_, _, _, r) => send(r, result, |d| match d {
            Done::Count(n) => Some(n),
            _ => None,
        }),
        Call::Upkeep(_, r) => send(r, result, |d| match d {
            Done::Upkeep(u) => Some(u),
            _ => None,
        }),
        Call::OutboxDue(_, _, r) => send(r, result, |d| match d {
            Done::Outbox(v) => Some(v),
            _ => None,
        }),
        Call::CreditsAdd(_, _, r) => send(r, result, |d| match d {
            Done::Balance(b) => Some(b),
            _ => None,
        }),
        Call::Release(_, _, r)
        | Call::OutboxDelivered(_, r)
        | Call::OutboxRetry(_, _, r)
        | Call::Credits(_, r) => send(r, result, |d| match d {
            Done::Nothing => Some(()),
            _ => None,
        }),
    }
}
