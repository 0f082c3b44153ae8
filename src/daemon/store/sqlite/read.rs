//! The reader thread: queries from a read-only connection.

use super::schema::QUEUED;
use super::write::{segment_records, state_of};
use super::{from_ms, Read, Reply};
use crate::daemon::store::record::{
    Failure, MessageRecord, MessageState, OutboxEvent, StoreStats, StoredPart, Transition,
};
use crate::daemon::store::{MessageId, StoreError};
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

type Sql<T> = Result<T, rusqlite::Error>;

/// The state of the reader thread.
pub(super) struct Reader {
    conn: Connection,
    path: PathBuf,
}

fn answer<T>(reply: Reply<T>, result: Sql<T>) {
    let _ = reply.send(result.map_err(|e| StoreError::Read(e.to_string())));
}

impl Reader {
    pub(super) fn new(conn: Connection, path: PathBuf) -> Reader {
        Reader { conn, path }
    }

    /// Answers queries until every handle is dropped.
    pub(super) fn run(self, mut queries: mpsc::UnboundedReceiver<Read>) {
        while let Some(query) = queries.blocking_recv() {
            match query {
                Read::Get(id, r) => answer(r, get(&self.conn, &id)),
                Read::Parts(r) => answer(r, parts(&self.conn)),
                Read::Stats(r) => answer(r, stats(&self.conn, &self.path)),
                Read::Backlog(depths, r) => answer(r, super::backlog::backlog(&self.conn, depths)),
                Read::Credits(r) => answer(r, credits(&self.conn)),
            }
        }
    }
}

/// One message with its segments and the history its timestamps tell.
pub(super) fn get(conn: &Connection, id: &MessageId) -> Sql<Option<MessageRecord>> {
    let row = conn
        .prepare_cached(
            "SELECT seq, channel, dest, src, delivery_report, state, accepted_at, submitted_at,
                finished_at, failure_status, failure_reason, expires_at, segments, origin
             FROM messages WHERE id = ?1",
        )?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, i64>(12)?,
                r.get::<_, Option<String>>(13)?,
            ))
        })
        .optional()?;
    let Some((
        seq,
        channel,
        to,
        from,
        delivery_report,
        state,
        accepted,
        submitted,
        finished,
        status,
        reason,
        expires,
        count,
        origin,
    )) = row
    else {
        return Ok(None);
    };
    let segments = segment_records(conn, seq, count)?;
    let state = state_of(state);
    let mut history = vec![Transition {
        state: MessageState::Queued,
        at: from_ms(accepted),
    }];
    if let Some(at) = submitted {
        history.push(Transition {
            state: MessageState::Submitted,
            at: from_ms(at),
        });
    }
    if let (true, Some(at)) = (state.is_final(), finished) {
        history.push(Transition {
            state,
            at: from_ms(at),
        });
    }
    let failure = reason.map(|reason| Failure {
        status: status.and_then(|s| u32::try_from(s).ok()),
        reason,
    });
    Ok(Some(MessageRecord {
        id: id.clone(),
        channel,
        to,
        from,
        delivery_report,
        state,
        segments,
        failure,
        history,
        expires_at: from_ms(expires),
        origin,
    }))
}

/// The first `limit` events for `target` (an SMPP user; `None`: the webhook), in order.
pub(super) fn outbox(
    conn: &Connection,
    target: Option<&str>,
    limit: usize,
) -> Sql<Vec<OutboxEvent>> {
    let event = |r: &rusqlite::Row| {
        Ok(OutboxEvent {
            seq: r.get(0)?,
            body: r.get(1)?,
            attempts: r.get::<_, i64>(2)?.clamp(0, i64::from(u32::MAX)) as u32,
            due: from_ms(r.get(3)?),
        })
    };
    // Two statements, each matching one partial index (`IS NULL` cannot take a parameter).
    match target {
        None => conn
            .prepare_cached(
                "SELECT seq, body, attempts, due FROM outbox WHERE target IS NULL
                 ORDER BY seq LIMIT ?1",
            )?
            .query_map([limit as i64], event)?
            .collect(),
        Some(user) => conn
            .prepare_cached(
                "SELECT seq, body, attempts, due FROM outbox WHERE target = ?1
                 AND target IS NOT NULL ORDER BY seq LIMIT ?2",
            )?
            .query_map(rusqlite::params![user, limit as i64], event)?
            .collect(),
    }
}

/// Every SMPP user's balance.
fn credits(conn: &Connection) -> Sql<Vec<(String, u64)>> {
    let mut s = conn.prepare_cached("SELECT user, balance FROM smpp_credits ORDER BY user")?;
    let rows = s.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
    })?;
    rows.collect()
}

fn parts(conn: &Connection) -> Sql<Vec<StoredPart>> {
    let mut s = conn.prepare_cached(
        "SELECT channel, set_key, number, data FROM inbound_parts ORDER BY channel, set_key, number",
    )?;
    let rows = s.query_map([], |r| {
        Ok(StoredPart {
            channel: r.get(0)?,
            set: r.get(1)?,
            number: r.get(2)?,
            data: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// Counts for inspection; scans the tables, so it is for people, not for every scrape.
pub(super) fn stats(conn: &Connection, path: &Path) -> Sql<StoreStats> {
    let schema_version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let mut by_state: Vec<(MessageState, u64)> =
        MessageState::ALL.iter().map(|s| (*s, 0)).collect();
    {
        let mut s = conn.prepare("SELECT state, COUNT(*) FROM messages GROUP BY state")?;
        let rows = s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            let state = state_of(state);
            if let Some(slot) = by_state.iter_mut().find(|(s, _)| *s == state) {
                slot.1 += n as u64;
            }
        }
    }
    let queued_by_channel = {
        let mut s = conn.prepare(
            "SELECT queue, COUNT(*) FROM messages WHERE state = ?1 GROUP BY queue ORDER BY queue",
        )?;
        let rows = s.query_map([QUEUED], |r| {
            let queue: String = r.get(0)?;
            let n: i64 = r.get(1)?;
            Ok((
                if queue.is_empty() {
                    "*".to_string()
                } else {
                    queue
                },
                n as u64,
            ))
        })?;
        rows.collect::<Sql<Vec<_>>>()?
    };
    let oldest_queued = conn
        .query_row(
            "SELECT accepted_at FROM messages WHERE state = ?1 ORDER BY seq LIMIT 1",
            [QUEUED],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(from_ms);
    let count = |sql: &str| {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let file_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).ok()
        })
        .map(|m| m.len())
        .sum();
    Ok(StoreStats {
        schema_version,
        by_state,
        queued_by_channel,
        oldest_queued,
        outbox: count("SELECT COUNT(*) FROM outbox")?,
        inbound_parts: count("SELECT COUNT(*) FROM inbound_parts")?,
        correlations: count("SELECT COUNT(DISTINCT seq * 256 + idx) FROM correlation")?,
        file_bytes,
    })
}
