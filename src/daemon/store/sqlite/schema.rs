//! The schema and its versioned migrations, applied at open in one transaction.
//!
//! The version lives in SQLite's `user_version`. A file with a version newer than
//! [`MIGRATIONS`] knows was written by a newer smppd: it is refused, never guessed at.

use rusqlite::{Connection, TransactionBehavior};

/// Message states as stored (`messages.state`), in [`crate::daemon::store::MessageState::ALL`] order.
pub const QUEUED: i64 = 0;
/// `submitted`.
pub const SUBMITTED: i64 = 1;
/// `delivered`.
pub const DELIVERED: i64 = 2;
/// `failed`.
pub const FAILED: i64 = 3;
/// `expired`.
pub const EXPIRED: i64 = 4;

/// Migration `n` (1-based) brings a file from version `n - 1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: messages, segments, receipt correlation, webhook outbox, inbound parts.
    r#"
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
];

/// The newest version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Why migrating failed.
#[derive(Debug)]
pub enum MigrateError {
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
pub fn migrate(conn: &mut Connection) -> Result<i64, MigrateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(MigrateError::TooNew(found));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n as i64 + 1)?;
    }
    tx.commit()?;
    Ok(found)
}
