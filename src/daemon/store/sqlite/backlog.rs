//! The [`Backlog`] query, on the reader's connection.
//!
//! The depth of each queue comes from the writer, which counts every message in and out
//! (it was read once, with [`DEPTHS`], when the store opened): counting a queue of a
//! million at every scrape would cost a tenth of a core. The oldest message of a queue is
//! the one with the lowest `seq` (keys grow with acceptance): one seek in
//! `messages_waiting` (`queue, seq WHERE state = 0`; the literal `0`, not a parameter, is
//! what lets SQLite use that partial index). The oldest webhook event is the first row of the outbox without a
//! target.

use super::from_ms;
use super::schema::QUEUED;
use crate::daemon::store::{Backlog, QueueBacklog, ANY_CHANNEL};
use rusqlite::{Connection, OptionalExtension};

type Sql<T> = Result<T, rusqlite::Error>;

// The SQL below spells the queued state as a literal.
const _: () = assert!(QUEUED == 0);

/// The depth of every non-empty queue, read by the writer when the store opens.
pub(super) const DEPTHS: &str =
    "SELECT queue, COUNT(*) FROM messages WHERE state = 0 GROUP BY queue ORDER BY queue";

/// The first key of one queue.
pub(super) const HEAD: &str = "SELECT MIN(seq) FROM messages WHERE queue = ?1 AND state = 0";

/// Every queue of `depths` (non-empty, as the writer counts them) with its oldest message,
/// and the outbox head; `outbox` is left for the caller, which keeps that count live.
pub(super) fn backlog(conn: &Connection, depths: Vec<(String, u64)>) -> Sql<Backlog> {
    let mut head = conn.prepare_cached(HEAD)?;
    let mut heads = Vec::with_capacity(depths.len());
    for (queue, depth) in depths {
        let first: Option<i64> = head.query_row([&queue], |r| r.get(0))?;
        if let Some(first) = first {
            heads.push((queue, depth, first));
        }
    }
    let mut accepted_at = conn.prepare_cached("SELECT accepted_at FROM messages WHERE seq = ?1")?;
    let mut queues = Vec::with_capacity(heads.len());
    for (queue, depth, first) in heads {
        let oldest = accepted_at
            .query_row([first], |r| r.get::<_, i64>(0))
            .optional()?
            .map(from_ms);
        queues.push(QueueBacklog {
            queue: if queue.is_empty() {
                ANY_CHANNEL.to_string()
            } else {
                queue
            },
            depth,
            oldest,
        });
    }
    // Events queued before `created_at` existed (schema 3) fall back to when they were due:
    // their first due time was their creation time, until a retry moved it.
    let oldest_event = conn
        .prepare_cached(
            "SELECT COALESCE(created_at, due) FROM outbox WHERE target IS NULL
             ORDER BY seq LIMIT 1",
        )?
        .query_row([], |r| r.get::<_, i64>(0))
        .optional()?
        .map(from_ms);
    Ok(Backlog {
        queues,
        outbox: 0,
        oldest_event,
    })
}
