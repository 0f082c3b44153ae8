//! Nodes and session-slot leases on PostgreSQL: the statements a node's lease keeper runs.
//!
//! A row of `leases` is one session slot of one channel: the node holding it, the fencing
//! epoch and when the hold expires. Every time is the server's clock (`clock_timestamp()`),
//! so nodes with skewed clocks still agree on who holds what; a node only ever compares
//! its own monotonic clock with its own earlier readings (see the keeper in
//! `crate::daemon::cluster`).
//!
//! * **Acquire** takes a slot that is free or whose hold expired, raising its epoch, and in
//!   the same transaction gives what the slot's former holder had claimed back to the queue
//!   (as re-sends: they may have reached the SMSC).
//! * **Renew** extends the holds this node has with the epochs it has; a slot missing from
//!   the answer was lost.
//! * **Release** gives a slot up (a graceful stop, or more slots than this node's share).
//!
//! The writer's fenced writes lock the lease row `FOR SHARE` (see `write.rs`), so a
//! takeover and a write of the former holder are never both committed.

use super::error::{Pg, PgError};
use super::pool;
use super::tls::Connector;
use crate::daemon::store::StoreError;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config};

/// A statement sequence in flight on the keeper's connection.
type Boxed<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A session slot this node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldSlot {
    /// The channel.
    pub channel: String,
    /// The slot, 0-based.
    pub slot: u16,
    /// The epoch it is held with.
    pub epoch: i64,
}

/// A slot won by [`Leases::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquired {
    /// The new epoch.
    pub epoch: i64,
    /// The node that held it before, when its hold expired rather than being released.
    pub from: Option<String>,
    /// Messages the former holder had claimed, back in the queue.
    pub requeued: u64,
}

/// One node as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Its `node-name`.
    pub name: String,
    /// Its last heartbeat (server time).
    pub heartbeat: SystemTime,
    /// When it (last) started.
    pub started: SystemTime,
    /// Whether its heartbeat is younger than one lease.
    pub alive: bool,
}

/// One slot lease as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The channel.
    pub channel: String,
    /// The slot.
    pub slot: u16,
    /// The holder; `None` when released.
    pub node: Option<String>,
    /// The epoch.
    pub epoch: i64,
    /// When the hold expires (server time); meaningless when `node` is `None`.
    pub expires: SystemTime,
    /// Whether the hold is still valid (server time).
    pub valid: bool,
}

/// The whole picture, read at each turn of the keeper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Every node that ever registered, by name.
    pub nodes: Vec<NodeRow>,
    /// Every slot lease, by channel and slot.
    pub leases: Vec<LeaseRow>,
}

impl ClusterView {
    /// Nodes whose heartbeat is younger than one lease (at least 1: the caller counts).
    pub fn alive(&self) -> usize {
        self.nodes.iter().filter(|n| n.alive).count()
    }
}

/// The lease statements, on a connection of their own (a transaction needs one, and the
/// keeper's turns must not queue behind the writer's).
pub struct Leases {
    config: Config,
    tls: Connector,
    target: String,
    node: String,
    instance: i64,
    lease: Duration,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("node", &self.node)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

fn ms_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0).unsigned_abs())
}

/// Milliseconds since the epoch of a `timestamptz` column, computed by the server.
macro_rules! ms_sql {
    ($col:literal) => {
        concat!("(extract(epoch FROM ", $col, ") * 1000)::int8")
    };
}

impl Leases {
    /// The statements of node `node`, this process being `instance`, with holds of `lease`,
    /// on connections through `tls`.
    pub(super) fn new(
        config: Config,
        tls: Connector,
        target: String,
        node: String,
        instance: i64,
        lease: Duration,
    ) -> Leases {
        Leases {
            config,
            tls,
            target,
            node,
            instance,
            lease,
            client: Mutex::new(None),
        }
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// How long a hold lasts.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Runs `f` on the connection (opened again when it closed), within one lease: a
    /// server that does not answer must not hold the keeper past the holds it renews.
    async fn with<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Client) -> Boxed<'c, Pg<T>>,
    ) -> Result<T, StoreError> {
        let run = async {
            let mut guard = self.client.lock().await;
            if guard.as_ref().is_none_or(|c| c.is_closed()) {
                let client = pool::open(&self.config, &self.tls, &self.target).await?;
                // A lock held by a frozen node's open transaction must not hold a turn past
                // its time: the server gives up waiting (and ends idle transactions) itself,
                // so a turn abandoned by its timeout leaves no backend waiting behind it.
                let quarter = (self.lease / 4).max(Duration::from_millis(250)).as_millis();
                client
                    .batch_execute(&format!(
                        "SET lock_timeout = {quarter}; SET idle_in_transaction_session_timeout = {quarter}"
                    ))
                    .await?;
                *guard = Some(client);
            }
            let Some(client) = guard.as_mut() else {
                return Err(PgError::Sql("not connected".into()));
            };
            let result = f(client).await;
            if result.is_err() {
                // A failed transaction may leave the connection in an unknown state.
                *guard = None;
            }
            result
        };
        match tokio::time::timeout(self.lease / 2, run).await {
            Ok(result) => result.map_err(PgError::into_write),
            Err(_) => {
                *self.client.lock().await = None;
                Err(StoreError::Write(format!(
                    "PostgreSQL did not answer within {} ms",
                    self.lease.as_millis() / 2
                )))
            }
        }
    }

    /// Records this node as started. `Ok(false)` while another live process (a heartbeat
    /// younger than one lease, another instance) uses the same name.
    pub async fn register(&self) -> Result<bool, StoreError> {
        let (node, instance, lease) = (self.node.clone(), self.instance, ms_of(self.lease));
        self.with(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "INSERT INTO nodes AS n (name, instance, started_at, heartbeat_at)
                         VALUES ($1, $2, clock_timestamp(), clock_timestamp())
                         ON CONFLICT (name) DO UPDATE
                            SET instance = $2, started_at = clock_timestamp(),
                                heartbeat_at = clock_timestamp()
                            WHERE n.instance = $2
                               OR n.heartbeat_at < clock_timestamp() - $3::int8 * interval '1 millisecond'
                         RETURNING 1",
                        &[&node, &instance, &lease],
                    )
                    .await?;
                Ok(row.is_some())
            })
        })
        .await
    }

    /// One turn: the heartbeat, the renewal of `held` (what comes back is still held), and
    /// the picture of every node and lease.
    pub async fn turn(
        &self,
        held: &[HeldSlot],
    ) -> Result<(Vec<HeldSlot>, ClusterView), StoreError> {
        let (node, instance, lease) = (self.node.clone(), self.instance, ms_of(self.lease));
        let channels: Vec<String> = held.iter().map(|h| h.channel.clone()).collect();
        let slots: Vec<i32> = held.iter().map(|h| i32::from(h.slot)).collect();
        let epochs: Vec<i64> = held.iter().map(|h| h.epoch).collect();
        self.with(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE nodes SET heartbeat_at = clock_timestamp()
                     WHERE name = $1 AND instance = $2",
                    &[&node, &instance],
                )
                .await?;
                let renewed = c
                    .query(
                        "UPDATE leases l
                            SET expires_at = clock_timestamp() + $5::int8 * interval '1 millisecond'
                         FROM UNNEST($2::text[], $3::int4[], $4::int8[]) AS h(channel, slot, epoch)
                         WHERE l.channel = h.channel AND l.slot = h.slot AND l.epoch = h.epoch
                            AND l.node = $1
                         RETURNING l.channel, l.slot, l.epoch",
                        &[&node, &channels, &slots, &epochs, &lease],
                    )
                    .await?;
                let mut kept = Vec::with_capacity(renewed.len());
                for r in renewed {
                    kept.push(HeldSlot {
                        channel: r.try_get(0)?,
                        slot: slot_of(r.try_get(1)?)?,
                        epoch: r.try_get(2)?,
                    });
                }
                let view = view(c, lease).await?;
                Ok((kept, view))
            })
        })
        .await
    }

    /// Takes slot `slot` of `channel` if it is free or its hold expired, and gives what
    /// its former holder claimed back to the queue; `None` when another node holds it.
    pub async fn acquire(&self, channel: &str, slot: u16) -> Result<Option<Acquired>, StoreError> {
        let (node, lease) = (self.node.clone(), ms_of(self.lease));
        let channel = channel.to_string();
        self.with(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let slot = i32::from(slot);
                let before = tx
                    .query_opt(
                        "SELECT node FROM leases WHERE channel = $1 AND slot = $2 FOR UPDATE",
                        &[&channel, &slot],
                    )
                    .await?;
                let from: Option<String> = match &before {
                    Some(row) => row.try_get(0)?,
                    None => None,
                };
                let won = tx
                    .query_opt(
                        "INSERT INTO leases AS l (channel, slot, node, epoch, expires_at, acquired_at)
                         VALUES ($1, $2, $3, 1, clock_timestamp() + $4::int8 * interval '1 millisecond',
                                 clock_timestamp())
                         ON CONFLICT (channel, slot) DO UPDATE
                            SET node = $3, epoch = l.epoch + 1,
                                expires_at = clock_timestamp() + $4::int8 * interval '1 millisecond',
                                acquired_at = clock_timestamp()
                            WHERE l.node IS NULL OR l.expires_at <= clock_timestamp()
                         RETURNING epoch",
                        &[&channel, &slot, &node, &lease],
                    )
                    .await?;
                let Some(won) = won else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                let epoch: i64 = won.try_get(0)?;
                let requeued = tx
                    .execute(
                        "UPDATE messages SET resend = true, claimed_by = NULL, claimed_on = NULL,
                            claimed_at = NULL
                         WHERE claimed_by IS NOT NULL AND claimed_on = $1 AND claimed_slot = $2
                            AND state = 0",
                        &[&channel, &slot],
                    )
                    .await?;
                tx.commit().await?;
                Ok(Some(Acquired {
                    epoch,
                    from,
                    requeued,
                }))
            })
        })
        .await
    }

    /// Gives up `held` (nothing happens when it is no longer held with that epoch).
    pub async fn release(&self, held: &HeldSlot) -> Result<(), StoreError> {
        let node = self.node.clone();
        let held = held.clone();
        self.with(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE leases SET node = NULL, expires_at = clock_timestamp()
                     WHERE channel = $1 AND slot = $2 AND epoch = $3 AND node = $4",
                    &[&held.channel, &i32::from(held.slot), &held.epoch, &node],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}

impl Leases {
    /// Marks this node as stopped (its heartbeat moved a lease into the past), so that a
    /// restart under the same name need not wait for it to fall silent.
    pub async fn sign_off(&self) -> Result<(), StoreError> {
        let (node, instance, lease) = (self.node.clone(), self.instance, ms_of(self.lease));
        self.with(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE nodes
                        SET heartbeat_at = clock_timestamp() - 2 * $3::int8 * interval '1 millisecond'
                     WHERE name = $1 AND instance = $2",
                    &[&node, &instance, &lease],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}

/// A slot number read back.
fn slot_of(n: i32) -> Pg<u16> {
    u16::try_from(n).map_err(|_| PgError::Damaged(format!("slot number {n}")))
}

/// Every node and lease, with liveness judged on the server's clock.
async fn view(c: &Client, lease: i64) -> Pg<ClusterView> {
    let mut nodes = Vec::new();
    for r in c
        .query(
            concat!(
                "SELECT name, ",
                ms_sql!("heartbeat_at"),
                ", ",
                ms_sql!("started_at"),
                ", heartbeat_at > clock_timestamp() - $1::int8 * interval '1 millisecond'
                 FROM nodes ORDER BY name"
            ),
            &[&lease],
        )
        .await?
    {
        nodes.push(NodeRow {
            name: r.try_get(0)?,
            heartbeat: from_ms(r.try_get(1)?),
            started: from_ms(r.try_get(2)?),
            alive: r.try_get(3)?,
        });
    }
    let mut leases = Vec::new();
    for r in c
        .query(
            concat!(
                "SELECT channel, slot, node, epoch, ",
                ms_sql!("expires_at"),
                ", node IS NOT NULL AND expires_at > clock_timestamp()
                 FROM leases ORDER BY channel, slot"
            ),
            &[],
        )
        .await?
    {
        leases.push(LeaseRow {
            channel: r.try_get(0)?,
            slot: slot_of(r.try_get(1)?)?,
            node: r.try_get(2)?,
            epoch: r.try_get(3)?,
            expires: from_ms(r.try_get(4)?),
            valid: r.try_get(5)?,
        });
    }
    Ok(ClusterView { nodes, leases })
}
