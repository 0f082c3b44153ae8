//! Who may bind: the address guard, `allowed-ips`, the Argon2id password check (on the
//! blocking pool, a few at a time) and `max-binds`. Every refusal is one log event.

use super::guard::FailureGuard;
use super::users::{User, Users};
use crate::codec::CommandStatus;
use crate::password::PasswordHash;
use crate::secret::Secret;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::Semaphore;

/// Password checks running at once: each takes a core and ~19 MiB for a few tens of
/// milliseconds, so a reconnect storm queues here instead of taking every thread and
/// gigabytes of memory. One core fewer than the machine has (at least one), so that a
/// storm of binds leaves a core to the sessions and the store.
pub(crate) fn concurrent_checks() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// Why a bind was refused, as logged (the client sees only the status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address failed too often lately.
    Blocked,
    /// Not in the user's `allowed-ips`.
    Address,
    /// No user binds with that system_id.
    UnknownSystemId,
    /// The password does not match.
    Password,
    /// `max-binds` sessions are bound already.
    MaxBinds,
    /// The check could not run (the daemon is stopping).
    Unavailable,
}

impl Refusal {
    /// The bind_resp status: an unknown system_id and a wrong password get the same one.
    pub fn status(self) -> CommandStatus {
        match self {
            Refusal::UnknownSystemId | Refusal::Password => CommandStatus::EsmeRinvpaswd,
            Refusal::Blocked | Refusal::Address | Refusal::MaxBinds | Refusal::Unavailable => {
                CommandStatus::EsmeRbindfail
            }
        }
    }

    /// The reason in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Blocked => "address blocked after repeated bind failures",
            Refusal::Address => "address not in allowed-ips",
            Refusal::UnknownSystemId => "unknown system_id",
            Refusal::Password => "wrong password",
            Refusal::MaxBinds => "max-binds sessions already bound",
            Refusal::Unavailable => "the password check could not run",
        }
    }
}

/// The checks every bind goes through.
#[derive(Debug)]
pub struct Gate {
    users: Arc<Users>,
    guard: FailureGuard,
    checks: Semaphore,
}

impl Gate {
    /// A gate for `users`.
    pub fn new(users: Arc<Users>) -> Gate {
        Gate {
            users,
            guard: FailureGuard::default(),
            checks: Semaphore::new(concurrent_checks()),
        }
    }

    /// Checks a bind from `ip`; the user, counted as bound, or why not.
    pub async fn check(
        &self,
        ip: IpAddr,
        system_id: &str,
        password: Secret,
    ) -> Result<Arc<User>, Refusal> {
        if self.guard.blocked(ip, Instant::now()) {
            return Err(Refusal::Blocked);
        }
        let user = self.users.by_system_id(system_id);
        let config = user.as_ref().map(|u| u.config());
        if config.as_ref().is_some_and(|c| !c.allows(ip)) {
            return Err(Refusal::Address);
        }
        // An unknown system_id costs the same check as a known one: its answer must not
        // come back sooner.
        let known = config.as_ref().map(|c| c.password_hash.clone());
        let Ok(_permit) = self.checks.acquire().await else {
            return Err(Refusal::Unavailable);
        };
        let matched = tokio::task::spawn_blocking(move || match known {
            Some(hash) => hash.verify(&password),
            None => {
                if let Some(decoy) = decoy() {
                    let _ = decoy.verify(&password);
                }
                false
            }
        })
        .await
        .map_err(|_| Refusal::Unavailable)?;
        let refused = match (&user, matched) {
            (None, _) => Some(Refusal::UnknownSystemId),
            (Some(_), false) => Some(Refusal::Password),
            (Some(_), true) => None,
        };
        if let Some(refusal) = refused {
            self.guard.failed(ip, Instant::now());
            return Err(refusal);
        }
        match user {
            Some(user) if user.bind() => Ok(user),
            _ => Err(Refusal::MaxBinds),
        }
    }
}

/// A hash of a random password with the parameters every user's has, checked for unknown
/// system_ids; `None` only when hashing failed.
fn decoy() -> Option<&'static PasswordHash> {
    static DECOY: OnceLock<Option<PasswordHash>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let password = Secret::new(crate::daemon::store::MessageId::generate().as_str());
            PasswordHash::hash(&password)
                .ok()
                .and_then(|phc| PasswordHash::parse(&phc).ok())
        })
        .as_ref()
}
