//! The PostgreSQL schema and its versioned migrations.
//!
//! The version lives in the one row of `schema_version`. Every start applies what is
//! missing in one transaction that first takes a transaction-scoped advisory lock, so nodes
//! starting at once migrate one after the other (the second finds the work done). A database
//! with a version newer than [`MIGRATIONS`] knows was migrated by a newer smppd: it is
//! refused, never guessed at. The versions count PostgreSQL's own steps; they are not the
//! SQLite file's `user_version`.

use super::error::{Pg, PgError};
use tokio_postgres::Client;

/// The key of the advisory lock held while migrating ("smppd" in ASCII): any number works
/// as long as every smppd uses the same.
const MIGRATION_LOCK: i64 = 0x73_6d70_7064;

/// Migration `n` (1-based) brings a database from version `n - 1` to `n`.
///
/// The tables mirror the SQLite store's (see `sqlite/schema.rs`), with one difference:
/// a claim is a durable record on the message (`claimed_by` node, `claimed_on` channel,
/// `claimed_at`), not a mark kept in memory, so that several nodes can share the queue and
/// a node's claims can be handed back when it stops or dies.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: messages (segments packed in `body`), segment states of longer messages, receipt
    // correlation, webhook outbox, inbound parts.
    r#"
    CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        routed TEXT NOT NULL,
        queue TEXT NOT NULL,
        state BIGINT NOT NULL,
        resend BOOLEAN NOT NULL DEFAULT false,
        acked BIGINT NOT NULL DEFAULT 0,
        dest TEXT NOT NULL,
        src TEXT,
        delivery_report BOOLEAN NOT NULL,
        send_validity BOOLEAN NOT NULL,
        encoding TEXT NOT NULL,
        data_coding BIGINT NOT NULL,
        segments BIGINT NOT NULL,
        body BYTEA NOT NULL,
        accepted_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        submitted_at BIGINT,
        finished_at BIGINT,
        failure_status BIGINT,
        failure_reason TEXT,
        idem_key TEXT,
        idem_fingerprint TEXT,
        smsc_id TEXT,
        acked_on TEXT,
        receipt TEXT,
        receipt_error TEXT,
        claimed_by TEXT,
        claimed_on TEXT,
        claimed_at BIGINT
    );
    CREATE UNIQUE INDEX messages_idem ON messages (idem_key) WHERE idem_key IS NOT NULL;
    CREATE INDEX messages_waiting ON messages (queue, seq) WHERE state = 0 AND claimed_by IS NULL;
    CREATE INDEX messages_queued ON messages (queue, seq) WHERE state = 0;
    CREATE INDEX messages_claimed ON messages (claimed_by) WHERE claimed_by IS NOT NULL;
    CREATE INDEX messages_expiry ON messages (expires_at) WHERE state = 0;
    CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX messages_awaiting ON messages (submitted_at) WHERE state = 1 AND finished_at IS NULL;

    CREATE TABLE segments (
        seq BIGINT NOT NULL,
        idx BIGINT NOT NULL,
        smsc_id TEXT NOT NULL,
        acked_on TEXT NOT NULL,
        receipt TEXT,
        receipt_error TEXT,
        PRIMARY KEY (seq, idx)
    );

    CREATE TABLE correlation (
        channel TEXT NOT NULL,
        form TEXT NOT NULL,
        seq BIGINT NOT NULL,
        idx BIGINT NOT NULL,
        smsc_id TEXT NOT NULL,
        PRIMARY KEY (channel, form, seq, idx)
    );
    CREATE INDEX correlation_seq ON correlation (seq);

    CREATE TABLE outbox (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        body BYTEA NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0,
        due BIGINT NOT NULL,
        created_at BIGINT NOT NULL
    );

    CREATE TABLE inbound_parts (
        channel TEXT NOT NULL,
        set_key TEXT NOT NULL,
        number BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (channel, set_key, number)
    );
    "#,
    // 2: several nodes. A claim names the session slot (and its lease epoch) that holds
    // it, so that a takeover returns exactly that slot's claims; the nodes and the slot
    // leases with their fencing epochs; claims on webhook events, so that the nodes share
    // the outbox instead of each sending every event; per-node counts whose sums are the
    // cluster's queue and outbox sizes.
    r#"
    ALTER TABLE messages ADD COLUMN claimed_slot INTEGER, ADD COLUMN claimed_epoch BIGINT;
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;
    CREATE INDEX messages_slot ON messages (claimed_on, claimed_slot) WHERE claimed_by IS NOT NULL;

    CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        instance BIGINT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL
    );

    CREATE TABLE node_counts (
        node TEXT PRIMARY KEY,
        waiting BIGINT NOT NULL DEFAULT 0,
        outbox BIGINT NOT NULL DEFAULT 0
    );
    INSERT INTO node_counts (node, waiting, outbox)
        VALUES ('', (SELECT COUNT(*) FROM messages WHERE state = 0), (SELECT COUNT(*) FROM outbox));

    CREATE TABLE leases (
        channel TEXT NOT NULL,
        slot INTEGER NOT NULL,
        node TEXT,
        epoch BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (channel, slot)
    );
    "#,
    // 3: the SMPP server's users, as in the SQLite store's version 5: who submitted a
    // message, the receipts it asked for and what it was charged; the user an outbox event
    // goes to (NULL: the webhook); the users' balances.
    r#"
    ALTER TABLE messages ADD COLUMN origin TEXT,
        ADD COLUMN origin_receipts BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN charged BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN target TEXT;
    CREATE INDEX outbox_webhook ON outbox (seq) WHERE target IS NULL;
    CREATE INDEX outbox_users ON outbox (target, seq) WHERE target IS NOT NULL;
    CREATE TABLE smpp_credits (
        "user" TEXT PRIMARY KEY,
        balance BIGINT NOT NULL
    );
    "#,
];

/// The newest version this build writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// The version of the database, 0 when it has no smppd schema; reads only.
pub(super) async fn version(client: &Client) -> Pg<i64> {
    let exists = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?
        .try_get::<_, bool>(0)?;
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt("SELECT version FROM schema_version", &[])
        .await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => 0,
    })
}

/// Brings the database to [`latest`], all steps in one transaction under the migration
/// lock; returns the version found.
pub(super) async fn migrate(client: &mut Client) -> Pg<i64> {
    let tx = client.transaction().await?;
    match steps(&tx).await {
        Ok(found) => {
            tx.commit().await?;
            Ok(found)
        }
        Err(e) => {
            // At once, not when the connection closes: until then the transaction would
            // hold the migration lock and keep every other node from starting.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The steps of [`migrate`], inside its transaction.
async fn steps(tx: &tokio_postgres::Transaction<'_>) -> Pg<i64> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await?;
    let found: i64 = match tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await?
    {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    if found > latest() {
        return Err(PgError::TooNew {
            found,
            known: latest(),
        });
    }
    for step in MIGRATIONS.iter().skip(found.max(0) as usize) {
        tx.batch_execute(step).await?;
    }
    tx.execute("UPDATE schema_version SET version = $1", &[&latest()])
        .await?;
    Ok(found)
}
