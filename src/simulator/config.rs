//! The simulator's parameters: where it listens, whom it lets bind, how it answers.
//!
//! Everything here is plain data, validated by [`SimulatorConfig::validate`] before a socket
//! opens, so that a typo in a test or on the command line fails at start-up and not halfway
//! through a run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

use super::error::SimulatorError;
use super::faults::Faults;

/// One system_id / password pair the simulator accepts in bind requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The ESME's system_id (at most 15 octets on the wire).
    pub system_id: String,
    /// The password the bind must carry; never logged.
    pub password: Secret,
}

impl Account {
    /// An account from its two parts.
    pub fn new(system_id: impl Into<String>, password: impl Into<Secret>) -> Self {
        Account {
            system_id: system_id.into(),
            password: password.into(),
        }
    }

    /// Parses `SYSTEM_ID:PASSWORD` (the password may itself contain `:`).
    pub fn parse(text: &str) -> Result<Self, SimulatorError> {
        match text.split_once(':') {
            Some((id, pw)) if !id.is_empty() => Ok(Account::new(id, pw)),
            _ => Err(SimulatorError::Config(
                "an account must be SYSTEM_ID:PASSWORD with a non-empty SYSTEM_ID \
                 (the value is not shown: it may hold a password)"
                    .into(),
            )),
        }
    }

    /// Parses a comma-separated list `id:pw,id2:pw2`, as read from `SMPPD_SIM_ACCOUNTS`.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, SimulatorError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Account::parse)
            .collect()
    }
}

/// How submit_sm_resp message ids look. Real SMSCs differ, and clients must match delivery
/// receipts against either form, so tests run against both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageIdStyle {
    /// Lower-case hexadecimal text, e.g. `1a2b3c4d`.
    #[default]
    Hex,
    /// Decimal text, e.g. `1000000042`.
    Decimal,
}

/// Which TLS protocol versions the listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3; the client picks.
    #[default]
    Both,
    /// TLS 1.2 only (older SMSC stacks).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Whether and how clients must present a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// Server authentication only.
    None,
    /// Mutual TLS: the client must present a certificate issued by this CA (PEM file).
    Required {
        /// PEM file with one or more CA certificates to trust for client certificates.
        ca: PathBuf,
    },
}

/// TLS listener settings: PEM files read when the simulator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerSettings {
    /// PEM file with the server certificate chain, leaf first.
    pub cert_chain: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// Client-certificate requirement.
    pub client_auth: ClientAuth,
    /// Offered protocol versions.
    pub versions: TlsVersions,
}

/// Everything [`super::Simulator::start`] needs.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Address to listen on; port 0 picks a free port (see [`super::SimulatorHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Accounts allowed to bind. An empty list refuses every bind.
    pub accounts: Vec<Account>,
    /// `None` for plain TCP.
    pub tls: Option<TlsServerSettings>,
    /// Form of the message ids handed out in submit_sm_resp.
    pub message_id_style: MessageIdStyle,
    /// How long after a submit_sm_resp the delivery receipt is sent.
    pub receipt_delay: Duration,
    /// Fault switches in force from the start; changeable later through the handle.
    pub faults: Faults,
    /// Largest PDU accepted from a client, in octets (command_length included).
    pub max_pdu_size: usize,
    /// Show at most this many entries in each list of the record (oldest dropped first), so a
    /// long-running `smppd simulate` does not grow without bound; up to twice as many are
    /// held between trims. `None` keeps everything, which is what tests want. Per-connection
    /// counters stay exact either way.
    pub record_limit: Option<usize>,
    /// Also append every event to this file, one JSON line each, before the answer it
    /// records goes out (see `smppd simulate --record-file`): a record that survives the
    /// process, for runs that kill and restart the simulator.
    pub record_file: Option<PathBuf>,
    /// Added to the counter behind the message ids: simulators started one after another
    /// on one port (an SMSC restarted) hand out distinct ids when each gets its own offset,
    /// as a real SMSC's ids do not repeat across its restarts.
    pub message_id_offset: u64,
    /// Send a mobile-originated deliver_sm this often to every bound receiver and
    /// transceiver, each with a text unique to this simulator (`mo <tag>-<n>`).
    pub mo_interval: Option<Duration>,
}

impl SimulatorConfig {
    /// Plain TCP on `127.0.0.1:0` with the given accounts and no faults.
    pub fn loopback(accounts: Vec<Account>) -> Self {
        SimulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            accounts,
            tls: None,
            message_id_style: MessageIdStyle::Hex,
            receipt_delay: Duration::ZERO,
            faults: Faults::default(),
            max_pdu_size: 64 * 1024,
            record_limit: None,
            record_file: None,
            message_id_offset: 0,
            mo_interval: None,
        }
    }

    /// Rejects settings that cannot work, naming the offending one.
    pub fn validate(&self) -> Result<(), SimulatorError> {
        if self.max_pdu_size < 16 {
            return Err(SimulatorError::Config(format!(
                "max_pdu_size {} is smaller than a PDU header",
                self.max_pdu_size
            )));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if a.system_id.is_empty() || a.system_id.len() > 15 {
                return Err(SimulatorError::Config(format!(
                    "account {i}: system_id must be 1 to 15 octets"
                )));
            }
            if a.password.expose().len() > 8 {
                return Err(SimulatorError::Config(format!(
                    "account {} : SMPP 3.4 passwords are at most 8 octets",
                    a.system_id
                )));
            }
        }
        if self.mo_interval.is_some_and(|i| i.is_zero()) {
            return Err(SimulatorError::Config(
                "mo_interval must be longer than zero".into(),
            ));
        }
        self.faults.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_from_the_command_line_and_the_environment() {
        let a = Account::parse("esme:pw:x").unwrap();
        assert_eq!(a.system_id, "esme");
        assert_eq!(a.password.expose(), "pw:x");
        assert!(Account::parse(":pw").is_err());
        assert!(Account::parse("nopw").is_err());
        let list = Account::parse_list("a:1, b:2,").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].system_id, "b");
    }

    #[test]
    fn an_account_error_never_shows_the_password() {
        let err = Account::parse("hunter2").unwrap_err().to_string();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let mut c = SimulatorConfig::loopback(vec![Account::new("a-very-long-system-id", "pw")]);
        assert!(c.validate().unwrap_err().to_string().contains("system_id"));
        c.accounts = vec![Account::new("ok", "waytoolongpw")];
        assert!(c.validate().unwrap_err().to_string().contains("8 octets"));
    }
}
