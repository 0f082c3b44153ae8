//! `[store]`: where and how accepted messages are kept on disk.
//!
//! The section is optional. Without it the store is `smppd.db` in `$STATE_DIRECTORY` when
//! systemd sets it (the unit's `StateDirectory=smppd`), else beside the configuration file.
//! `backend = "postgres"` keeps it in a PostgreSQL database instead (`url`, `password`,
//! `node-name`, `pool-size`, `lease-seconds`, `tls`, `tls-ca`).

use super::error::Problem;
use super::option_spec::{choice, described, integer, integer_default, OptionSpec, Unit::*};
use super::section::{FileContext, SectionReader};
use crate::daemon::store::postgres::url::{self as pg_url, UrlProblem};
use crate::daemon::store::postgres::PgTls;
use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name of the section.
pub(crate) const STORE_SECTION: &str = "store";

/// The file name used when `path` is not set.
pub(crate) const DEFAULT_FILE: &str = "smppd.db";

/// Every key of `[store]`.
pub(crate) const STORE_OPTIONS: &[OptionSpec] = &[
    choice(
        "backend",
        "sqlite",
        &["sqlite", "postgres"],
        "Where the store lives: an SQLite file on this machine, or a PostgreSQL database.",
    ),
    described(
        "path",
        "smppd.db in $STATE_DIRECTORY (systemd's StateDirectory=smppd: /var/lib/smppd), else beside the configuration file",
        "a file path, relative to the configuration file",
        "The SQLite database holding queued and finished messages, receipt correlation, the webhook outbox and parts of long inbound messages.",
    ),
    integer(
        "max-queued",
        1_000_000,
        (1, 100_000_000),
        Count,
        "The most messages waiting to be sent; beyond it POST /v1/messages answers 503 with the reason.",
    ),
    integer(
        "default-validity",
        48 * 3600,
        (60, 8_640_000),
        Seconds,
        "How long a message may wait to be sent when neither the request's validity nor the channel's x-smpp-validity-period says; then it expires.",
    ),
    integer(
        "receipt-wait",
        72 * 3600,
        (60, 8_640_000),
        Seconds,
        "How long a submitted message waits for its delivery receipt; then it counts as finished and is purged finished-retention later.",
    ),
    described(
        "url",
        "— (required with backend = \"postgres\")",
        "postgres://USER@HOST:PORT/DATABASE or host=... dbname=... pairs",
        "The PostgreSQL database (backend = \"postgres\"). A URL holding a password is refused: use password.",
    ),
    described(
        "password",
        "—",
        "a secret: inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "The PostgreSQL user's password, when the server asks for one.",
    ),
    described(
        "node-name",
        "the host name",
        "1-64 of A-Z a-z 0-9 . _ -",
        "This node's name in the database (recorded on the messages it claims); unique per node.",
    ),
    integer(
        "pool-size",
        4,
        (1, 64),
        Count,
        "Connections to PostgreSQL for queries; writes use one more of their own.",
    ),
    integer(
        "lease-seconds",
        10,
        (2, 600),
        Seconds,
        "How long a node's hold on a channel's session slot lasts without renewal (backend = \"postgres\"). The holder renews it every quarter of that and stops sending before it can expire; another node takes an expired slot over.",
    ),
    described(
        "tls",
        "on; off when every host of url is on this machine: a Unix socket directory, localhost, 127.0.0.0/8 or ::1",
        "on, off",
        "TLS to PostgreSQL (backend = \"postgres\"). on: required, the server's certificate verified (chain and host name, as libpq's sslmode=verify-full).",
    ),
    described(
        "tls-ca",
        "the system's trust store",
        "a PEM file path, relative to the configuration file",
        "The CA certificates trusted for the PostgreSQL server's certificate (tls = \"on\").",
    ),
];

/// The keys only `backend = "postgres"` reads.
const POSTGRES_KEYS: &[&str] = &[
    "url",
    "password",
    "node-name",
    "pool-size",
    "lease-seconds",
    "tls",
    "tls-ca",
];

/// The most octets of a PostgreSQL URL.
const MAX_URL: usize = 4096;

/// `[store] backend`, with what each needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// The SQLite file at [`StoreConfig::path`].
    Sqlite,
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

/// `[store]` with `backend = "postgres"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStore {
    /// `url`: the server and database, without a password.
    pub url: String,
    /// `password`.
    pub password: Option<Secret>,
    /// `node-name`; `None` for the host name (looked up by the daemon).
    pub node_name: Option<String>,
    /// `pool-size`.
    pub pool_size: usize,
    /// `lease-seconds`.
    pub lease: std::time::Duration,
    /// `tls` and `tls-ca`, the default resolved from the URL's host.
    pub tls: PgTls,
}

/// `[store]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `backend` and its settings.
    pub backend: StoreBackend,
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
        let default = |name| integer_default(STORE_OPTIONS, name).unsigned_abs();
        StoreConfig {
            backend: StoreBackend::Sqlite,
            path: default_path(config_path, env),
            max_queued: default("max-queued"),
            default_validity: Duration::from_secs(default("default-validity")),
            receipt_wait: Duration::from_secs(default("receipt-wait")),
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
    let max_queued = r.integer("max-queued");
    let validity = r.integer("default-validity");
    let receipt_wait = r.integer("receipt-wait");
    let backend = backend(&mut r);
    r.finish();
    let config = StoreConfig {
        backend,
        path,
        max_queued: max_queued.unsigned_abs(),
        default_validity: Duration::from_secs(validity.unsigned_abs()),
        receipt_wait: Duration::from_secs(receipt_wait.unsigned_abs()),
    };
    (config, r)
}

/// Reads `backend` and, for PostgreSQL, its keys; the PostgreSQL keys without that backend
/// are an error (they would be silently unused).
fn backend(r: &mut SectionReader<'_>) -> StoreBackend {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Sqlite,
        Postgres,
    }
    let kind = r.choice(
        "backend",
        &[("sqlite", Kind::Sqlite), ("postgres", Kind::Postgres)],
    );
    if kind == Kind::Sqlite {
        for &key in POSTGRES_KEYS {
            if r.has(key) {
                r.error(
                    Some(key),
                    Problem::Invalid {
                        value: String::new(),
                        expected: "no value: it is for backend = \"postgres\"".into(),
                    },
                );
            }
        }
        // Marked as read: the error above is the only one for them.
        r.skip(POSTGRES_KEYS);
        return StoreBackend::Sqlite;
    }
    let url = r.opt_string("url", MAX_URL);
    let password = r.secret("password", 1024);
    let node_name = r.opt_string("node-name", 64);
    let pool_size = r.integer("pool-size").unsigned_abs() as usize;
    let lease = std::time::Duration::from_secs(r.integer("lease-seconds").unsigned_abs());
    if let Some(name) = &node_name {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            r.error(
                Some("node-name"),
                Problem::Invalid {
                    value: name.clone(),
                    expected: "1-64 of A-Z a-z 0-9 . _ -".into(),
                },
            );
        }
    }
    let url = match url {
        None => {
            r.error(
                Some("url"),
                Problem::Invalid {
                    value: String::new(),
                    expected: "a postgres:// URL: it is required with backend = \"postgres\""
                        .into(),
                },
            );
            String::new()
        }
        Some(url) => {
            if let Err(problem) = pg_url::check(&url) {
                r.error(Some("url"), url_problem(problem));
            }
            url
        }
    };
    let tls = tls(r, &url);
    StoreBackend::Postgres(PostgresStore {
        url,
        password,
        node_name,
        pool_size,
        lease,
        tls,
    })
}

/// Reads `tls` and `tls-ca`; without `tls`, the default the URL's host implies.
fn tls(r: &mut SectionReader<'_>, url: &str) -> PgTls {
    let on = if r.has("tls") {
        r.choice_or("tls", &[("on", true), ("off", false)], true)
    } else {
        PgTls::default_for(url) != PgTls::Off
    };
    let ca = r.path("tls-ca");
    if on {
        if pg_url::check(url).is_ok_and(|config| pg_url::names_a_unix_socket(&config)) {
            r.error(
                Some("tls"),
                Problem::Invalid {
                    value: "on".into(),
                    expected: "off (or no tls) with a Unix socket directory as the url's host: PostgreSQL offers no TLS on Unix sockets".into(),
                },
            );
        }
        return PgTls::Verify { ca };
    }
    if ca.is_some() {
        r.error(
            Some("tls-ca"),
            Problem::Invalid {
                value: String::new(),
                expected: "no value: it is for tls = \"on\" (tls is off, by setting or because the url's host is on this machine)".into(),
            },
        );
    }
    PgTls::Off
}

/// The configuration's error for a refused URL. The URL itself is never quoted back (it may
/// hold a password).
fn url_problem(problem: UrlProblem) -> Problem {
    Problem::Invalid {
        value: "(the URL, not shown)".into(),
        expected: problem.to_string(),
    }
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

    #[test]
    fn postgres_is_configured_with_a_url_without_a_password() {
        let path = Path::new("/etc/smppd/smppd.toml");
        let text = format!(
            "{CHANNEL}[store]\nbackend = \"postgres\"\nurl = \"postgres://smppd@db1:5432/smppd\"\npassword = {{ env = \"PGPW\" }}\nnode-name = \"gw-a\"\npool-size = 8\nlease-seconds = 4\n"
        );
        let env = |v: &str| (v == "PGPW").then(|| "s3cret".to_string());
        let config = Config::parse(&text, path, &env).unwrap().config;
        let StoreBackend::Postgres(pg) = &config.store.backend else {
            panic!("{:?}", config.store.backend);
        };
        assert_eq!(pg.url, "postgres://smppd@db1:5432/smppd");
        assert_eq!(pg.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert_eq!(pg.node_name.as_deref(), Some("gw-a"));
        assert_eq!(pg.pool_size, 8);
        assert_eq!(pg.lease, std::time::Duration::from_secs(4));
        assert!(!format!("{config:?}").contains("s3cret"));
        let defaults = format!("{CHANNEL}[store]\nbackend = \"postgres\"\nurl = \"host=/run/postgresql dbname=smppd\"\n");
        let config = Config::parse(&defaults, path, &|_| None).unwrap().config;
        let StoreBackend::Postgres(pg) = &config.store.backend else {
            panic!("{:?}", config.store.backend);
        };
        assert_eq!((pg.node_name.as_deref(), pg.pool_size), (None, 4));
        assert_eq!(pg.lease, std::time::Duration::from_secs(10));
        assert_eq!(
            StoreConfig::defaults(path, &|_| None).backend,
            StoreBackend::Sqlite
        );
    }

    #[test]
    fn a_url_with_a_password_and_postgres_keys_without_postgres_are_refused() {
        let path = Path::new("/etc/smppd/smppd.toml");
        let errors = |store: &str| {
            let text = format!("{CHANNEL}[store]\n{store}");
            Config::parse(&text, path, &|_| None).unwrap_err().0
        };
        let e = errors("backend = \"postgres\"\nurl = \"postgres://smppd:hunter2@db1/smppd\"\n");
        assert_eq!(e.len(), 1, "{e:?}");
        let text = e[0].to_string();
        assert!(text.contains("without a password"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let e = errors("backend = \"postgres\"\nurl = \"host=db1 password=hunter2\"\n");
        assert!(!e[0].to_string().contains("hunter2"), "{e:?}");
        let e = errors("backend = \"postgres\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("url"), "{e:?}");
        let e = errors("backend = \"postgres\"\nurl = \"postgres://db1/x\"\nnode-name = \"a b\"\npool-size = 0\n");
        let keys: Vec<_> = e.iter().filter_map(|e| e.location.key.clone()).collect();
        assert_eq!(keys, ["pool-size", "node-name"], "{e:?}");
        let e = errors("url = \"postgres://db1/x\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("url"), "{e:?}");
        assert!(
            e[0].to_string().contains("backend = \"postgres\""),
            "{}",
            e[0]
        );
        let e = errors("backend = \"mysql\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("backend"), "{e:?}");
    }

    fn postgres_tls(store: &str) -> PgTls {
        let path = Path::new("/etc/smppd/smppd.toml");
        let text = format!("{CHANNEL}[store]\nbackend = \"postgres\"\n{store}");
        let config = Config::parse(&text, path, &|_| None).unwrap().config;
        match config.store.backend {
            StoreBackend::Postgres(pg) => pg.tls,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tls_defaults_to_on_except_on_this_machine() {
        let remote = PgTls::Verify { ca: None };
        for (url, expected) in [
            ("postgres://smppd@db1.example:5432/smppd", &remote),
            ("postgres://smppd@192.0.2.10/smppd", &remote),
            ("postgres://smppd@127.0.0.1/smppd", &PgTls::Off),
            ("postgres://smppd@localhost/smppd", &PgTls::Off),
            ("postgres://smppd@[::1]:5433/smppd", &PgTls::Off),
            ("host=/run/postgresql dbname=smppd", &PgTls::Off),
        ] {
            assert_eq!(
                &postgres_tls(&format!("url = \"{url}\"\n")),
                expected,
                "{url}"
            );
        }
        assert_eq!(
            postgres_tls("url = \"postgres://smppd@db1/smppd\"\ntls = \"off\"\n"),
            PgTls::Off
        );
        assert_eq!(
            postgres_tls(
                "url = \"postgres://smppd@127.0.0.1/smppd\"\ntls = \"on\"\ntls-ca = \"pki/db-ca.pem\"\n"
            ),
            PgTls::Verify {
                ca: Some(PathBuf::from("/etc/smppd/pki/db-ca.pem"))
            },
            "tls-ca is relative to the configuration file"
        );
    }

    #[test]
    fn tls_keys_are_refused_where_they_would_be_unused() {
        let path = Path::new("/etc/smppd/smppd.toml");
        let errors = |store: &str| {
            let text = format!("{CHANNEL}[store]\n{store}");
            Config::parse(&text, path, &|_| None).unwrap_err().0
        };
        for store in [
            "tls = \"on\"\n",
            "backend = \"sqlite\"\ntls-ca = \"ca.pem\"\n",
        ] {
            let e = errors(store);
            assert_eq!(e.len(), 1, "{e:?}");
            let key = e[0].location.key.as_deref().unwrap_or_default();
            assert!(key.starts_with("tls"), "{e:?}");
            assert!(
                e[0].to_string().contains("backend = \"postgres\""),
                "{}",
                e[0]
            );
        }
        let e = errors("backend = \"postgres\"\nurl = \"postgres://db1/x\"\ntls = \"off\"\ntls-ca = \"ca.pem\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("tls-ca"), "{e:?}");
        let e = errors("backend = \"postgres\"\nurl = \"postgres://db1/x\"\ntls = \"yes\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("tls"), "{e:?}");
        let e = errors(
            "backend = \"postgres\"\nurl = \"host=/run/postgresql dbname=x\"\ntls = \"on\"\n",
        );
        assert_eq!(e[0].location.key.as_deref(), Some("tls"), "{e:?}");
        assert!(e[0].to_string().contains("Unix socket"), "{}", e[0]);
    }

    #[test]
    fn tls_parameters_in_the_url_point_to_the_tls_key() {
        let path = Path::new("/etc/smppd/smppd.toml");
        for url in [
            "postgres://smppd@db1/smppd?sslmode=require",
            "postgres://smppd@db1/smppd?sslrootcert=/etc/ca.pem",
            "host=db1 dbname=smppd sslmode=verify-full",
        ] {
            let text = format!("{CHANNEL}[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n");
            let e = Config::parse(&text, path, &|_| None).unwrap_err().0;
            assert_eq!(e.len(), 1, "{e:?}");
            assert_eq!(e[0].location.key.as_deref(), Some("url"), "{e:?}");
            let text = e[0].to_string();
            assert!(
                text.contains("[store] tls") && text.contains("ssl"),
                "{text}"
            );
        }
    }
}
