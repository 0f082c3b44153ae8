//! The [`Backlog`] query, on the reader's connection.
//!
//! `messages_waiting` (`queue, seq WHERE state = 0`) answers the count per queue from the
//! index alone; the literal `0` (not a parameter) is what lets SQLite use that partial
//! index. The oldest message of a queue is the one with the lowest `seq` (keys grow with
//! acceptance), and the oldest event is the outbox's first row: both primary-key look-ups.

use super::from_ms;
use super::schema::QUEUED;
use crate::daemon::store::{Backlog, QueueBacklog, ANY_CHANNEL};
use rusqlite::{Connection, OptionalExtension};

type Sql<T> = Result<T, rusqlite::Error>;

// The SQL below spells the queued state as a literal.
const _: () = assert!(QUEUED == 0);

/// Depth and first key of every non-empty queue.
pub(super) const QUEUES: &str = "SELECT queue, COUNT(*), MIN(seq) FROM messages WHERE state = 0
     GROUP BY queue ORDER BY queue";

/// Every non-empty queue and the outbox head; `outbox` is left for the caller, which keeps
/// that count live.
pub(super) fn backlog(conn: &Connection) -> Sql<Backlog> {
    let heads: Vec<(String, u64, i64)> = {
        let mut s = conn.prepare_cached(QUEUES)?;
        let rows = s.query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get(2)?))
        })?;
        rows.collect::<Sql<_>>()?
    };
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
        .prepare_cached("SELECT COALESCE(created_at, due) FROM outbox ORDER BY seq LIMIT 1")?
        .query_row([], |r| r.get::<_, i64>(0))
        .optional()?
        .map(from_ms);
    Ok(Backlog {
        queues,
        outbox: 0,
        oldest_event,
    })
}
