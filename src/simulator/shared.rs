//! State shared by the accept loop, every connection task and the handle.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::secret::Secret;

use super::config::{Account, SimulatorConfig};
use super::error::SimulatorError;
use super::faults::Faults;
use super::journal::Journal;
use super::message_id::MessageIds;
use super::record::Recorder;
use super::registry::Registry;

/// Why a bind was refused, before it is turned into a command_status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// system_id and password match an account.
    Valid,
    /// No account has this system_id.
    UnknownSystemId,
    /// The account exists; the password differs.
    WrongPassword,
}

#[derive(Debug)]
pub(crate) struct Shared {
    accounts: Vec<Account>,
    faults: Mutex<Faults>,
    pub(crate) receipt_delay: Duration,
    pub(crate) max_pdu_size: usize,
    pub(crate) ids: MessageIds,
    pub(crate) recorder: Recorder,
    pub(crate) registry: Registry,
}

impl Shared {
    /// The state for `config`; fails only when its record file cannot be opened.
    pub(crate) fn new(config: &SimulatorConfig) -> Result<Self, SimulatorError> {
        let journal = match &config.record_file {
            Some(path) => {
                Some(
                    Journal::open(path).map_err(|source| SimulatorError::RecordFile {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        Ok(Shared {
            accounts: config.accounts.clone(),
            faults: Mutex::new(config.faults.clone()),
            receipt_delay: config.receipt_delay,
            max_pdu_size: config.max_pdu_size,
            ids: MessageIds::new(config.message_id_style, config.message_id_offset),
            recorder: Recorder::new(config.record_limit, journal),
            registry: Registry::default(),
        })
    }

    /// The faults in force right now.
    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Checks a bind's credentials against the accounts.
    pub(crate) fn check(&self, system_id: &str, password: &Secret) -> Credentials {
        match self.accounts.iter().find(|a| a.system_id == system_id) {
            None => Credentials::UnknownSystemId,
            Some(a) if a.password == *password => Credentials::Valid,
            Some(_) => Credentials::WrongPassword,
        }
    }
}
