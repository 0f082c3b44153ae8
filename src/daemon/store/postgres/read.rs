//! Queries, run on the pool's connections (never the writer's): each sees every committed
//! transaction and never waits for the writer.

use super::error::Pg;
use super::write::{from_ms, ms, state_of, QUEUED};
use crate::daemon::store::record::{
    Failure, MessageRecord, MessageState, OutboxEvent, SegmentRecord, StoreStats, StoredPart,
    Transition,
};
use crate::daemon::store::state::receipt_state;
use crate::daemon::store::{Backlog, MessageId, QueueBacklog, ANY_CHANNEL};
use std::time::SystemTime;
use tokio_postgres::{Client, Row};

fn segment(r: &Row) -> Pg<SegmentRecord> {
    Ok(SegmentRecord {
        smsc_message_id: r.try_get(1)?,
        receipt: r
            .try_get::<_, Option<String>>(2)?
            .map(|w| receipt_state(&w)),
        receipt_error: r.try_get(3)?,
    })
}

/// What is known of each segment of message `seq` (of `count`), in order: the message row
/// holds it for one segment, `segments` for more (a row per acknowledged segment).
pub(super) async fn segment_records(c: &Client, seq: i64, count: i64) -> Pg<Vec<SegmentRecord>> {
    if count == 1 {
        let row = c
            .query_opt(
                "SELECT 0::int8, smsc_id, receipt, receipt_error FROM messages WHERE seq = $1",
                &[&seq],
            )
            .await?;
        return Ok(match row {
            Some(r) => vec![segment(&r)?],
            None => vec![SegmentRecord::default()],
        });
    }
    let mut records = vec![SegmentRecord::default(); usize::try_from(count).unwrap_or(0)];
    let rows = c
        .query(
            "SELECT idx, smsc_id, receipt, receipt_error FROM segments WHERE seq = $1",
            &[&seq],
        )
        .await?;
    for r in rows {
        let idx: i64 = r.try_get(0)?;
        if let Some(slot) = usize::try_from(idx).ok().and_then(|i| records.get_mut(i)) {
            *slot = segment(&r)?;
        }
    }
    Ok(records)
}

/// One message with its segments and the history its timestamps tell.
pub(super) async fn get(c: &Client, id: &MessageId) -> Pg<Option<MessageRecord>> {
    let Some(r) = c
        .query_opt(
            "SELECT seq, channel, dest, src, delivery_report, state, accepted_at, submitted_at,
                finished_at, failure_status, failure_reason, expires_at, segments, origin
             FROM messages WHERE id = $1",
            &[&id.as_str()],
        )
        .await?
    else {
        return Ok(None);
    };
    let seq: i64 = r.try_get(0)?;
    let count: i64 = r.try_get(12)?;
    let segments = segment_records(c, seq, count).await?;
    let state = state_of(r.try_get(5)?);
    let mut history = vec![Transition {
        state: MessageState::Queued,
        at: from_ms(r.try_get(6)?),
    }];
    if let Some(at) = r.try_get::<_, Option<i64>>(7)? {
        history.push(Transition {
            state: MessageState::Submitted,
            at: from_ms(at),
        });
    }
    if let (true, Some(at)) = (state.is_final(), r.try_get::<_, Option<i64>>(8)?) {
        history.push(Transition {
            state,
            at: from_ms(at),
        });
    }
    let status: Option<i64> = r.try_get(9)?;
    let failure = r.try_get::<_, Option<String>>(10)?.map(|reason| Failure {
        status: status.and_then(|s| u32::try_from(s).ok()),
        reason,
    });
    Ok(Some(MessageRecord {
        id: id.clone(),
        channel: r.try_get(1)?,
        to: r.try_get(2)?,
        from: r.try_get(3)?,
        delivery_report: r.try_get(4)?,
        state,
        segments,
        failure,
        history,
        expires_at: from_ms(r.try_get(11)?),
        origin: r.try_get(13)?,
    }))
}

/// The first `limit` events of the outbox, in order.
/// Takes the first `limit` webhook events no other node is sending, for `hold`: they are
/// this node's to send until then (a node that dies leaves them to the others after it).
/// Several nodes so share the outbox; each keeps the order of what it took.
pub(super) async fn outbox(
    c: &Client,
    node: &str,
    target: Option<&str>,
    limit: usize,
    now: SystemTime,
    hold: std::time::Duration,
) -> Pg<Vec<OutboxEvent>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let now_ms = ms(now);
    let until = ms(now + hold);
    // Two statements, each matching one partial index (`IS NULL` takes no parameter).
    let mut rows = match target {
        None => {
            c.query(
                "UPDATE outbox o SET claimed_by = $1, claimed_until = $3
                 FROM (SELECT seq FROM outbox WHERE target IS NULL
                       AND (claimed_until IS NULL OR claimed_until <= $2 OR claimed_by = $1)
                       ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) c
                 WHERE o.seq = c.seq
                 RETURNING o.seq, o.body, o.attempts, o.due",
                &[&node, &now_ms, &until, &limit],
            )
            .await?
        }
        Some(user) => {
            c.query(
                "UPDATE outbox o SET claimed_by = $1, claimed_until = $3
                 FROM (SELECT seq FROM outbox WHERE target = $5 AND target IS NOT NULL
                       AND (claimed_until IS NULL OR claimed_until <= $2 OR claimed_by = $1)
                       ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED) c
                 WHERE o.seq = c.seq
                 RETURNING o.seq, o.body, o.attempts, o.due",
                &[&node, &now_ms, &until, &limit, &user],
            )
            .await?
        }
    };
    rows.sort_by_key(|r| r.try_get::<_, i64>(0).unwrap_or(i64::MAX));
    rows.iter()
        .map(|r| {
            Ok(OutboxEvent {
                seq: r.try_get(0)?,
                body: r.try_get(1)?,
                attempts: r.try_get::<_, i64>(2)?.clamp(0, i64::from(u32::MAX)) as u32,
                due: from_ms(r.try_get(3)?),
            })
        })
        .collect()
}

/// Every SMPP user's balance.
pub(super) async fn credits(c: &Client) -> Pg<Vec<(String, u64)>> {
    let rows = c
        .query(
            "SELECT \"user\", balance FROM smpp_credits ORDER BY \"user\"",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get::<_, i64>(1)?.max(0) as u64)))
        .collect()
}

/// Every kept part of long inbound messages.
pub(super) async fn parts(c: &Client) -> Pg<Vec<StoredPart>> {
    let rows = c
        .query(
            "SELECT channel, set_key, number, data FROM inbound_parts
             ORDER BY channel, set_key, number",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredPart {
                channel: r.try_get(0)?,
                set: r.try_get(1)?,
                number: r.try_get::<_, i64>(2)?.clamp(0, 255) as u8,
                data: r.try_get(3)?,
            })
        })
        .collect()
}

/// Counts for inspection; scans the tables, so it is for people, not for every scrape.
pub(super) async fn stats(c: &Client) -> Pg<StoreStats> {
    let schema_version = super::schema::version(c).await?;
    let mut by_state: Vec<(MessageState, u64)> =
        MessageState::ALL.iter().map(|s| (*s, 0)).collect();
    for r in c
        .query("SELECT state, COUNT(*) FROM messages GROUP BY state", &[])
        .await?
    {
        let state = state_of(r.try_get(0)?);
        let n: i64 = r.try_get(1)?;
        if let Some(slot) = by_state.iter_mut().find(|(s, _)| *s == state) {
            slot.1 += n.max(0) as u64;
        }
    }
    let mut queued_by_channel = Vec::new();
    for r in c
        .query(
            "SELECT queue, COUNT(*) FROM messages WHERE state = $1 GROUP BY queue ORDER BY queue",
            &[&QUEUED],
        )
        .await?
    {
        let queue: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        queued_by_channel.push((
            if queue.is_empty() {
                ANY_CHANNEL.to_string()
            } else {
                queue
            },
            n.max(0) as u64,
        ));
    }
    let oldest_queued = c
        .query_opt(
            "SELECT accepted_at FROM messages WHERE state = $1 ORDER BY seq LIMIT 1",
            &[&QUEUED],
        )
        .await?
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()?
        .map(from_ms);
    let r = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM outbox),
                (SELECT COUNT(*) FROM inbound_parts),
                (SELECT COUNT(*) FROM (SELECT DISTINCT seq, idx FROM correlation) AS c),
                (SELECT COALESCE(SUM(pg_total_relation_size(t.oid)), 0)::int8
                 FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE n.nspname = current_schema() AND t.relkind = 'r')",
            &[],
        )
        .await?;
    let count = |i: usize| -> Pg<u64> { Ok(r.try_get::<_, i64>(i)?.max(0) as u64) };
    Ok(StoreStats {
        schema_version,
        by_state,
        queued_by_channel,
        oldest_queued,
        outbox: count(0)?,
        inbound_parts: count(1)?,
        correlations: count(2)?,
        file_bytes: count(3)?,
    })
}

/// Every non-empty queue and the outbox head; `outbox` is left for the caller, which keeps
/// that count live.
pub(super) async fn backlog(c: &Client) -> Pg<Backlog> {
    // The oldest message of a queue is the one with the lowest key (keys grow with
    // acceptance): a primary-key look-up per queue.
    let rows = c
        .query(
            "SELECT q.queue, q.depth, m.accepted_at
             FROM (SELECT queue, COUNT(*) AS depth, MIN(seq) AS first FROM messages
                   WHERE state = 0 GROUP BY queue) AS q
             JOIN messages m ON m.seq = q.first
             ORDER BY q.queue",
            &[],
        )
        .await?;
    let mut queues = Vec::with_capacity(rows.len());
    for r in rows {
        let queue: String = r.try_get(0)?;
        queues.push(QueueBacklog {
            queue: if queue.is_empty() {
                ANY_CHANNEL.to_string()
            } else {
                queue
            },
            depth: r.try_get::<_, i64>(1)?.max(0) as u64,
            oldest: Some(from_ms(r.try_get(2)?)),
        });
    }
    let oldest_event = c
        .query_opt(
            "SELECT created_at FROM outbox WHERE target IS NULL ORDER BY seq LIMIT 1",
            &[],
        )
        .await?
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()?
        .map(from_ms);
    Ok(Backlog {
        queues,
        outbox: 0,
        oldest_event,
    })
}
