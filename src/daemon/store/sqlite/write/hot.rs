//! The statements the writer runs for nearly every message, prepared once.
//!
//! rusqlite's statement cache hashes and compares a statement's text each time it is taken,
//! and clears its bindings and files it back in its LRU list each time it is put back: for
//! statements run a few times per message, a share of the writer's time worth saving. These
//! live as long as the writer's connection; everything else goes through the cache.

use super::{Sql, WAITING};
use rusqlite::{Connection, Statement};

/// A message accepted.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, channel, routed, queue, state, dest, src,
        delivery_report, send_validity, encoding, data_coding, segments, accepted_at,
        expires_at, idem_key, idem_fingerprint, body, origin, origin_receipts, charged)
     VALUES (?1, ?2, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
        ?18)";

/// The first answer for a held message of one segment, as the claim left it.
const FIRST_ACK: &str = "UPDATE messages SET smsc_id = ?2, acked_on = ?3, channel = ?3, acked = 1,
        state = 1, submitted_at = ?4,
        finished_at = CASE WHEN delivery_report = 0 THEN ?4 ELSE NULL END
     WHERE seq = ?1 AND state = 0 AND smsc_id IS NULL";

/// A kept first answer and its final receipt as one row write (see `kept_acks`).
const SETTLE: &str = "UPDATE messages SET smsc_id = ?2, acked_on = ?3, channel = ?3, acked = 1,
        state = ?4, submitted_at = ?5, finished_at = ?5, receipt = ?6, receipt_error = ?7,
        failure_reason = COALESCE(?8, failure_reason)
     WHERE seq = ?1 AND state = 0 AND smsc_id IS NULL";

/// One stored form of an SMSC id.
const CORRELATE: &str = "INSERT OR IGNORE INTO correlation (channel, form, seq, idx, smsc_id)
     VALUES (?1, ?2, ?3, ?4, ?5)";

/// An event for the webhook (`target` NULL) or an SMPP user.
const INSERT_EVENT: &str =
    "INSERT INTO outbox (body, due, created_at, target) VALUES (?1, ?2, ?2, ?3)";

/// The writer's hottest statements, borrowing its connection.
pub(super) struct Hot<'c> {
    /// [`INSERT_MESSAGE`].
    pub insert_message: Statement<'c>,
    /// [`FIRST_ACK`].
    pub first_ack: Statement<'c>,
    /// [`SETTLE`].
    pub settle: Statement<'c>,
    /// [`CORRELATE`].
    pub correlate: Statement<'c>,
    /// [`WAITING`].
    pub waiting: Statement<'c>,
    /// [`INSERT_EVENT`].
    pub insert_event: Statement<'c>,
}

impl<'c> Hot<'c> {
    /// Prepares them on `conn` (migrated).
    pub(super) fn prepare(conn: &'c Connection) -> Sql<Hot<'c>> {
        Ok(Hot {
            insert_message: conn.prepare(INSERT_MESSAGE)?,
            first_ack: conn.prepare(FIRST_ACK)?,
            settle: conn.prepare(SETTLE)?,
            correlate: conn.prepare(CORRELATE)?,
            waiting: conn.prepare(WAITING)?,
            insert_event: conn.prepare(INSERT_EVENT)?,
        })
    }
}
