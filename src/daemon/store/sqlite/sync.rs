//! The syncer thread: makes commits durable and only then answers their callers.
//!
//! The writer commits with `synchronous = NORMAL`, so a commit returns once its frames are
//! written to the WAL, not once they are on disk. It hands each group's answers here with
//! the number of the newest commit they depend on, and goes on with the next group while
//! this thread runs `fdatasync` on the WAL. One sync covers every commit written before it
//! started, so while the disk is slow several commits share one sync, and the writer's CPU
//! work overlaps the disk's wait instead of following it.
//!
//! Why this is as durable as `synchronous = FULL`: an answer leaves only after a sync that
//! began after its commit's frames were written, so those frames (and the commit frame
//! that ends them) are on disk. SQLite itself syncs the WAL before a checkpoint copies it
//! into the database, syncs the database after, and syncs the WAL header before the WAL is
//! reused, so no later step can undo a synced commit. A group that wrote nothing (a claim
//! that found nothing new) still waits for the commits before it: what it read may have
//! come from them.

use super::Gauges;
use crate::daemon::store::StoreError;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// How many commits the writer may make beyond the last synced one before it waits. One:
/// the next transaction runs while the previous one is synced, and the calls that arrive
/// meanwhile gather into the one after, which keeps groups as large as when every commit
/// waited for its own fsync.
const AHEAD: u64 = 1;

/// The newest synced commit, shared by the syncer (which advances it) and the writer
/// (which waits on it).
#[derive(Debug, Default)]
pub(super) struct Progress {
    synced: Mutex<u64>,
    advanced: Condvar,
}

impl Progress {
    /// Blocks until at most [`AHEAD`] commits up to `written` are not yet synced.
    pub(super) fn wait_for_room(&self, written: u64) {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        while written.saturating_sub(*synced) > AHEAD {
            synced = self
                .advanced
                .wait(synced)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn advance(&self, to: u64) {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        *synced = (*synced).max(to);
        self.advanced.notify_all();
    }
}

/// The answers of one committed (or failed) group.
pub(super) struct Pending {
    /// The newest commit the answers depend on (0: none).
    pub commit: u64,
    /// Sends every answer, given `None` when the commit is durable or the reason it may
    /// not be.
    pub answer: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

/// The syncer's side: the WAL file and the queue of answers waiting for it.
pub(super) struct Syncer {
    wal: File,
    gauges: Arc<Gauges>,
    progress: Arc<Progress>,
    /// Every commit up to this one is on disk.
    synced: u64,
}

impl Syncer {
    /// A syncer of `wal` (the store's `-wal` file, opened by the caller).
    pub(super) fn new(wal: File, gauges: Arc<Gauges>, progress: Arc<Progress>) -> Syncer {
        Syncer {
            wal,
            gauges,
            progress,
            synced: 0,
        }
    }

    /// Runs until the writer drops its sender: takes every group waiting, syncs once if any
    /// of them depends on a commit not yet on disk, then answers them in order.
    pub(super) fn run(mut self, pending: Receiver<Pending>) {
        let mut batch = Vec::new();
        while let Ok(first) = pending.recv() {
            batch.push(first);
            batch.extend(pending.try_iter());
            let newest = batch.iter().map(|p| p.commit).max().unwrap_or(0);
            let failure = if newest > self.synced {
                let result = self.wal.sync_data();
                // The writer may go on either way: after a failure, the next sync covers
                // these frames again, and their callers hear of the failure.
                self.progress.advance(newest);
                match result {
                    Ok(()) => {
                        self.synced = newest;
                        self.gauges.syncs.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Err(e) => Some(StoreError::Write(format!(
                        "the commit may not be on disk: syncing the WAL failed: {e}"
                    ))),
                }
            } else {
                None
            };
            for p in batch.drain(..) {
                let failed = if p.commit > self.synced {
                    failure.clone()
                } else {
                    None
                };
                (p.answer)(failed);
            }
        }
    }
}

/// The writer's side.
pub(super) type SyncQueue = Sender<Pending>;
