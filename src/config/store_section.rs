//! `[store]`: where and how accepted messages are kept on disk.
//!
//! The section is optional. Without it the store is `smppd.db` in `$STATE_DIRECTORY` when
//! systemd sets it (the unit's `StateDirectory=smppd`), else beside the configuration file.

use super::options::{supported, OptionSpec};
use super::section::{FileContext, SectionReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name of the section.
pub const STORE_SECTION: &str = "store";

/// The file name used when `path` is not set.
pub const DEFAULT_FILE: &str = "smppd.db";

/// Every key of `[store]`.
pub const STORE_OPTIONS: &[OptionSpec] = &[
    supported(
        "path",
        "smppd.db in $STATE_DIRECTORY, else beside the configuration file",
        "a file path (relative to the configuration file)",
        "The SQLite database holding queued and finished messages, receipt correlation, the webhook outbox and parts of long inbound messages.",
    ),
    supported(
        "max-queued",
        "1000000",
        "1-100000000",
        "The most messages waiting to be sent; beyond it POST /v1/messages answers 503 with the reason.",
    ),
    supported(
        "default-validity",
        "172800",
        "60-8640000 (s)",
        "How long a message may wait to be sent when neither the request's validity nor the channel's x-smpp-validity-period says; then it expires.",
    ),
    supported(
        "receipt-wait",
        "259200",
        "60-8640000 (s)",
        "How long a submitted message waits for its delivery receipt; then it counts as finished and is purged finished-retention later.",
    ),
];

/// `[store]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `path`, resolved (see the module's documentation for the default).
    pub path: PathBuf,
    /// `max-queued`.
    pub max_queued: u64,
    /// `default-validity`.
    pub default_validity: Duration,
    /// `receipt-wait`.
    pub receipt_wait: Duration,
}

impl StoreConfig {
    /// The defaults for a configuration file at `config_path`, with the process's
    /// `$STATE_DIRECTORY` looked up in `env`.
    pub fn defaults(config_path: &Path, env: &dyn Fn(&str) -> Option<String>) -> StoreConfig {
        StoreConfig {
            path: default_path(config_path, env),
            max_queued: 1_000_000,
            default_validity: Duration::from_secs(48 * 3600),
            receipt_wait: Duration::from_secs(72 * 3600),
        }
    }
}

/// `smppd.db` in the first directory of `$STATE_DIRECTORY` (systemd may list several,
/// separated by colons), else beside the configuration file.
fn default_path(config_path: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let state = env("STATE_DIRECTORY")
        .and_then(|dirs| dirs.split(':').next().map(str::to_string))
        .filter(|d| !d.is_empty());
    match state {
        Some(dir) => PathBuf::from(dir).join(DEFAULT_FILE),
        None => config_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(DEFAULT_FILE),
    }
}

/// Reads `[store]`; problems are left in the returned reader.
pub(super) fn parse_store<'a>(
    ctx: &'a FileContext<'a>,
    table: &'a toml::Table,
) -> (StoreConfig, SectionReader<'a>) {
    let mut r = SectionReader::new(ctx, STORE_SECTION, table, STORE_OPTIONS);
    let defaults = StoreConfig::defaults(ctx.path, ctx.env);
    let path = r.path("path").unwrap_or(defaults.path);
    let max_queued = r.integer("max-queued", 1, 100_000_000, 1_000_000);
    let validity = r.integer("default-validity", 60, 8_640_000, 172_800);
    let receipt_wait = r.integer("receipt-wait", 60, 8_640_000, 259_200);
    r.finish();
    let config = StoreConfig {
        path,
        max_queued: max_queued.unsigned_abs(),
        default_validity: Duration::from_secs(validity.unsigned_abs()),
        receipt_wait: Duration::from_secs(receipt_wait.unsigned_abs()),
    };
    (config, r)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const CHANNEL: &str = "[channel-a]\nx-smpp-host = \"h\"\nx-smpp-system-id = \"a\"\n";

    #[test]
    fn the_default_file_follows_systemd_or_the_configuration() {
        let path = Path::new("/etc/smppd/smppd.toml");
        let config = Config::parse(CHANNEL, path, &|_| None).unwrap().config;
        assert_eq!(config.store.path, Path::new("/etc/smppd/smppd.db"));
        assert_eq!(config.store.max_queued, 1_000_000);
        assert_eq!(config.store.default_validity, Duration::from_secs(172_800));
        let env = |v: &str| (v == "STATE_DIRECTORY").then(|| "/var/lib/smppd:/x".to_string());
        let config = Config::parse(CHANNEL, path, &env).unwrap().config;
        assert_eq!(config.store.path, Path::new("/var/lib/smppd/smppd.db"));
    }

    #[test]
    fn every_key_is_read_and_checked() {
        let path = Path::new("/etc/smppd/smppd.toml");
        let text = format!(
            "{CHANNEL}[store]\npath = \"data/q.db\"\nmax-queued = 5\ndefault-validity = 600\nreceipt-wait = 3600\n"
        );
        let config = Config::parse(&text, path, &|_| None).unwrap().config;
        assert_eq!(config.store.path, Path::new("/etc/smppd/data/q.db"));
        assert_eq!(config.store.max_queued, 5);
        assert_eq!(config.store.default_validity, Duration::from_secs(600));
        assert_eq!(config.store.receipt_wait, Duration::from_secs(3600));
        let text = format!("{CHANNEL}[store]\nmax-queued = 0\nreceipt-wai = 1\n");
        let errors = Config::parse(&text, path, &|_| None).unwrap_err().0;
        let keys: Vec<_> = errors
            .iter()
            .filter_map(|e| e.location.key.clone())
            .collect();
        assert_eq!(keys, ["max-queued", "receipt-wai"], "{errors:?}");
    }
}
