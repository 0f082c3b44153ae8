//! The users as the server runs them: configuration (replaced on reload), throughput bucket,
//! bound sessions, counters, and the events of theirs being delivered right now.

use crate::config::SmppUserConfig;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

/// Counters of one user, since the start.
#[derive(Debug, Default)]
pub struct UserCounters {
    /// Submits committed and answered with our id.
    pub accepted: AtomicU64,
    /// Submits answered ESME_RTHROTTLED (over `throughput`).
    pub throttled: AtomicU64,
    /// Submits refused for want of credits.
    pub no_credit: AtomicU64,
    /// Other refused submits (invalid, queue full, store failure).
    pub refused: AtomicU64,
    /// deliver_sm (receipts and inbound messages) the user acknowledged.
    pub delivered: AtomicU64,
    /// Binds refused.
    pub bind_refusals: AtomicU64,
}

/// A token bucket: `rate` tokens a second, at most one second's worth saved up.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32, now: Instant) -> Bucket {
        Bucket {
            rate: f64::from(rate.max(1)),
            tokens: f64::from(rate.max(1)),
            last: now,
        }
    }

    fn take(&mut self, n: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        let n = f64::from(n.max(1));
        // A submit costing more than a whole second's worth passes when the bucket is
        // full, so that a long message is slowed, never refused for ever.
        if self.tokens >= n || self.tokens >= self.rate {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// One user.
#[derive(Debug)]
pub struct User {
    /// The section name (`[smpp-user-NAME]`): the store and the API know the user by it.
    pub name: String,
    config: RwLock<Arc<SmppUserConfig>>,
    bucket: Mutex<Bucket>,
    /// Sessions bound now.
    pub binds: AtomicUsize,
    /// Counters.
    pub counters: UserCounters,
    /// Outbox events handed to one of its sessions and not yet answered: the other
    /// sessions skip them.
    in_flight: Mutex<HashSet<i64>>,
    /// Held by an outbox read from its start until its events are handed out, and taken
    /// before an answered event leaves `in_flight`: so no read that began before the event
    /// was deleted can hand it out again once it is no longer marked.
    pub outbox: Arc<tokio::sync::Mutex<()>>,
}

impl User {
    fn new(config: SmppUserConfig) -> User {
        User {
            name: config.name.clone(),
            bucket: Mutex::new(Bucket::new(config.throughput, Instant::now())),
            config: RwLock::new(Arc::new(config)),
            binds: AtomicUsize::new(0),
            counters: UserCounters::default(),
            in_flight: Mutex::new(HashSet::new()),
            outbox: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The configuration now.
    pub fn config(&self) -> Arc<SmppUserConfig> {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes `n` segments' worth from the throughput bucket; `false`: over the rate.
    pub fn take(&self, n: u32) -> bool {
        self.bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(n, Instant::now())
    }

    /// Counts one more bound session unless `max-binds` are bound already.
    pub fn bind(&self) -> bool {
        let max = usize::from(self.config().max_binds);
        self.binds
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// One bound session ended.
    pub fn unbound(&self) {
        let _ = self
            .binds
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Marks `seq` as being delivered; `false` when another session has it.
    pub fn start_delivery(&self, seq: i64) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(seq)
    }

    /// `seq` is no longer being delivered (answered, or given back).
    pub fn end_delivery(&self, seq: i64) {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&seq);
    }

    /// How many of its events are being delivered now.
    pub fn delivering(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Every user, by system_id.
#[derive(Debug, Default)]
pub struct Users {
    by_system_id: RwLock<HashMap<String, Arc<User>>>,
}

impl Users {
    /// No users.
    pub fn new() -> Arc<Users> {
        Arc::new(Users::default())
    }

    /// Takes the configured users: a user kept by name keeps its counters, binds and
    /// bucket state (its throughput is the new one); returns the users whose sessions must
    /// end (removed, or whose credentials or allowed addresses changed).
    pub fn load(&self, configs: &[SmppUserConfig]) -> Vec<String> {
        let mut map = self
            .by_system_id
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut by_name: HashMap<String, Arc<User>> = map
            .drain()
            .map(|(_, user)| (user.name.clone(), user))
            .collect();
        let mut ended = Vec::new();
        for config in configs {
            let user = match by_name.remove(&config.name) {
                Some(user) => {
                    let old = user.config();
                    if old.system_id != config.system_id
                        || old.password_hash != config.password_hash
                        || old.allowed_ips != config.allowed_ips
                    {
                        ended.push(user.name.clone());
                    }
                    if old.throughput != config.throughput {
                        *user.bucket.lock().unwrap_or_else(PoisonError::into_inner) =
                            Bucket::new(config.throughput, Instant::now());
                    }
                    *user.config.write().unwrap_or_else(PoisonError::into_inner) =
                        Arc::new(config.clone());
                    user
                }
                None => Arc::new(User::new(config.clone())),
            };
            map.insert(config.system_id.clone(), user);
        }
        ended.extend(by_name.into_keys());
        ended
    }

    /// The user binding as `system_id`.
    pub fn by_system_id(&self, system_id: &str) -> Option<Arc<User>> {
        self.by_system_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(system_id)
            .cloned()
    }

    /// Every user, by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        let mut users: Vec<Arc<User>> = self
            .by_system_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_bucket_allows_its_rate_and_refills_with_time() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10, t0);
        assert!((0..10).all(|_| b.take(1, t0)));
        assert!(!b.take(1, t0));
        assert!(b.take(1, t0 + Duration::from_millis(100)));
        assert!(!b.take(1, t0 + Duration::from_millis(100)));
        // Never more than one second saved up.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(1, later)).count(), 10);
    }

    #[test]
    fn a_costly_submit_waits_for_a_full_bucket_but_is_not_refused_for_ever() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2, t0);
        assert!(b.take(5, t0));
        assert!(!b.take(1, t0 + Duration::from_millis(500)));
        assert!(b.take(5, t0 + Duration::from_secs(10)));
    }
}
