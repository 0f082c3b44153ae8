//! The schema and its versioned migrations, applied at open in one transaction.
//!
//! The version lives in SQLite's `user_version`. A file with a version newer than
//! [`MIGRATIONS`] knows was written by a newer smppd: it is refused, never guessed at.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Message states as stored (`messages.state`), in [`crate::daemon::store::MessageState::ALL`] order.
pub(super) const QUEUED: i64 = 0;
/// `submitted`.
pub(super) const SUBMITTED: i64 = 1;
/// `delivered`.
pub(super) const DELIVERED: i64 = 2;
/// `failed`.
pub(super) const FAILED: i64 = 3;
/// `expired`.
pub(super) const EXPIRED: i64 = 4;

/// One step of the schema: SQL, then (for steps that reshape data) a Rust function run in
/// the same transaction.
pub(super) struct Migration {
    /// Statements run first.
    pub sql: &'static str,
    /// Data reshaping that SQL alone cannot express.
    pub then: Option<fn(&Transaction) -> rusqlite::Result<()>>,
}

/// Migration `n` (1-based) brings a file from version `n - 1` to `n`.
pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: messages, segments, receipt correlation, webhook outbox, inbound parts.
    Migration {
        sql: r#"
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        routed TEXT NOT NULL,
        queue TEXT NOT NULL,
        state INTEGER NOT NULL,
        claimed INTEGER NOT NULL DEFAULT 0,
        resend INTEGER NOT NULL DEFAULT 0,
        acked INTEGER NOT NULL DEFAULT 0,
        dest TEXT NOT NULL,
        src TEXT,
        delivery_report INTEGER NOT NULL,
        send_validity INTEGER NOT NULL,
        encoding TEXT NOT NULL,
        data_coding INTEGER NOT NULL,
        segments INTEGER NOT NULL,
        accepted_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        submitted_at INTEGER,
        finished_at INTEGER,
        failure_status INTEGER,
        failure_reason TEXT,
        idem_key TEXT,
        idem_fingerprint TEXT
    );
    CREATE UNIQUE INDEX messages_idem ON messages(idem_key) WHERE idem_key IS NOT NULL;
    CREATE INDEX messages_waiting ON messages(queue, seq) WHERE state = 0 AND claimed = 0;
    CREATE INDEX messages_expiry ON messages(expires_at) WHERE state = 0;
    CREATE INDEX messages_finished ON messages(finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX messages_awaiting ON messages(submitted_at) WHERE state = 1 AND finished_at IS NULL;

    CREATE TABLE segments (
        seq INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        body BLOB NOT NULL,
        payload INTEGER NOT NULL,
        esm_class INTEGER NOT NULL,
        data_coding INTEGER NOT NULL,
        sar_ref INTEGER,
        sar_total INTEGER,
        sar_seqnum INTEGER,
        smsc_id TEXT,
        acked_on TEXT,
        receipt TEXT,
        receipt_error TEXT,
        PRIMARY KEY (seq, idx)
    ) WITHOUT ROWID;

    CREATE TABLE correlation (
        channel TEXT NOT NULL,
        form TEXT NOT NULL,
        seq INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        smsc_id TEXT NOT NULL,
        PRIMARY KEY (channel, form, seq, idx)
    ) WITHOUT ROWID;

    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        body BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due INTEGER NOT NULL
    );

    CREATE TABLE inbound_parts (
        channel TEXT NOT NULL,
        set_key TEXT NOT NULL,
        number INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (channel, set_key, number)
    ) WITHOUT ROWID;
    "#,
        then: None,
    },
    // 2: the segments packed into the message row (`body`, see `body.rs`); the state of a
    // one-segment message's segment in its row too, so that the usual message is one row;
    // `segments` keeps only the state of the segments of longer messages, written as they
    // are acknowledged. Claims are kept by the writer, not per row: `claims` holds, per
    // queue, the highest key handed to a channel since nothing was last held, so a start
    // after a crash knows which queued messages may have reached the SMSC.
    Migration {
        sql: r#"
    ALTER TABLE messages ADD COLUMN body BLOB;
    ALTER TABLE messages ADD COLUMN smsc_id TEXT;
    ALTER TABLE messages ADD COLUMN acked_on TEXT;
    ALTER TABLE messages ADD COLUMN receipt TEXT;
    ALTER TABLE messages ADD COLUMN receipt_error TEXT;
    UPDATE messages SET resend = 1 WHERE claimed = 1;
    DROP INDEX messages_waiting;
    ALTER TABLE messages DROP COLUMN claimed;
    CREATE INDEX messages_waiting ON messages(queue, seq) WHERE state = 0;

    CREATE TABLE segment_states (
        seq INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        smsc_id TEXT NOT NULL,
        acked_on TEXT NOT NULL,
        receipt TEXT,
        receipt_error TEXT,
        PRIMARY KEY (seq, idx)
    ) WITHOUT ROWID;

    CREATE TABLE claims (
        queue TEXT PRIMARY KEY,
        upto INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
        then: Some(pack_segments),
    },
    // 3: when each webhook event was queued, for the age of the oldest one
    // (`smppd_webhook_oldest_event_age_seconds`): `due` moves with every retry. Events
    // queued before have none; the backlog query falls back to their `due`.
    Migration {
        sql: "ALTER TABLE outbox ADD COLUMN created_at INTEGER;",
        then: None,
    },
    // 4: no `h:` correlation rows (an all-hex id is found through its folded form).
    Migration {
        sql: "DELETE FROM correlation WHERE form LIKE 'h:%';",
        then: None,
    },
    // 5: the SMPP server's users. A message records the user that submitted it (`origin`,
    // NULL for the HTTP API), the receipts it asked for and the credits it was charged;
    // an outbox event names the user it goes to (`target`, NULL for the webhook), read per
    // target in order; a user with a balance has a row in `smpp_credits`.
    Migration {
        sql: r#"
    ALTER TABLE messages ADD COLUMN origin TEXT;
    ALTER TABLE messages ADD COLUMN origin_receipts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN charged INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN target TEXT;
    CREATE INDEX outbox_webhook ON outbox(seq) WHERE target IS NULL;
    CREATE INDEX outbox_users ON outbox(target, seq) WHERE target IS NOT NULL;
    CREATE TABLE smpp_credits (
        user TEXT PRIMARY KEY,
        balance INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
        then: None,
    },
];

/// Migration 2's data step: packs each message's segment rows into `messages.body`, moves
/// the state of acknowledged segments to the message row (one segment) or to
/// `segment_states` (more), and replaces the old table.
fn pack_segments(tx: &Transaction) -> rusqlite::Result<()> {
    use crate::sms::{Field, SarValues, Segment};
    let mut rows = Vec::new();
    {
        let mut s = tx.prepare(
            "SELECT seq, idx, body, payload, esm_class, data_coding, sar_ref, sar_total,
                sar_seqnum, smsc_id, acked_on, receipt, receipt_error
             FROM segments ORDER BY seq, idx",
        )?;
        let mut q = s.query([])?;
        while let Some(r) = q.next()? {
            let sar = match (r.get(6)?, r.get(7)?, r.get(8)?) {
                (Some(msg_ref_num), Some(total_segments), Some(segment_seqnum)) => {
                    Some(SarValues {
                        msg_ref_num,
                        total_segments,
                        segment_seqnum,
                    })
                }
                _ => None,
            };
            let segment = Segment {
                bytes: r.get(2)?,
                field: if r.get(3)? {
                    Field::MessagePayload
                } else {
                    Field::ShortMessage
                },
                esm_class: r.get(4)?,
                data_coding: r.get(5)?,
                sar,
            };
            let state: (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = (r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?);
            rows.push((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, segment, state));
        }
    }
    let mut at = 0;
    while at < rows.len() {
        let seq = rows[at].0;
        let end = rows[at..]
            .iter()
            .position(|r| r.0 != seq)
            .map_or(rows.len(), |n| at + n);
        let group = &rows[at..end];
        let segments: Vec<Segment> = group.iter().map(|r| r.2.clone()).collect();
        tx.execute(
            "UPDATE messages SET body = ?2 WHERE seq = ?1",
            rusqlite::params![seq, crate::daemon::store::body::pack(&segments)],
        )?;
        for (_, idx, _, (smsc_id, acked_on, receipt, receipt_error)) in group {
            let (Some(smsc_id), Some(acked_on)) = (smsc_id, acked_on) else {
                continue;
            };
            if group.len() == 1 {
                tx.execute(
                    "UPDATE messages SET smsc_id = ?2, acked_on = ?3, receipt = ?4,
                        receipt_error = ?5 WHERE seq = ?1",
                    rusqlite::params![seq, smsc_id, acked_on, receipt, receipt_error],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO segment_states (seq, idx, smsc_id, acked_on, receipt,
                        receipt_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![seq, idx, smsc_id, acked_on, receipt, receipt_error],
                )?;
            }
        }
        at = end;
    }
    tx.execute_batch("DROP TABLE segments; ALTER TABLE segment_states RENAME TO segments;")
}

/// The newest version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why migrating failed.
#[derive(Debug)]
pub(super) enum MigrateError {
    /// The file is newer than this build.
    TooNew(i64),
    /// SQLite refused.
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Brings the file to [`latest`], all steps in one transaction; returns the version found.
pub(super) fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(MigrateError::TooNew(found));
    }
    for (n, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(step.sql)?;
        if let Some(then) = step.then {
            then(&tx)?;
        }
        tx.pragma_update(None, "user_version", n as i64 + 1)?;
    }
    tx.commit()?;
    Ok(found)
}
