//! Configuration: one TOML file, one `[channel-NAME]` section per SMPP account, plus the
//! optional `[http]` (the HTTP API), `[webhook]` and `[store]` sections, and the SMPP server's
//! `[smpp-server]` (its listener) and `[smpp-user-NAME]` (one per client) sections, turned into
//! typed, validated values before anything starts. Any other section is an error.
//!
//! The option names are those of the Genesys Driver for SMS and MMS, verbatim (see
//! [`OPTION_TABLES`]). Every problem in a file is collected — an unknown key with the
//! nearest valid one, a value out of range, a refused option with the reason — so that a start
//! (or `smppd check-config`) reports them all at once, naming file, section and key.
//!
//! Depends on: the parameter types of the layers below (session, transport), which it builds
//! and validates, and [`crate::password`] for the SMPP users' hashes; nothing at run time.

mod address;
mod channel;
mod daemon_sections;
mod error;
mod option_spec;
mod options;
mod section;
mod smpp_server;
mod smpp_user;
mod store_section;
mod suggest;

// The whole file, and what reading it found.
pub use error::{ConfigError, ConfigErrors, ConfigWarning, Location, Problem};

// The channels.
pub use address::{AddressRange, AddressRangeError, IpNetwork, IpNetworkError, MAX_RANGE_DIGITS};
pub use channel::{
    relative_time, ChannelConfig, ChannelTls, InboundEncoding, KeystoreSource, OutboundEncoding,
};

// The daemon's sections: HTTP API, webhook, store.
pub(crate) use daemon_sections::{host_key, origin_key};
pub use daemon_sections::{HttpConfig, WebhookConfig};
pub use store_section::{PostgresStore, StoreBackend, StoreConfig};

// The SMPP server and its users.
pub use smpp_server::{Pkcs12File, ServerTls, SmppServerConfig};
pub(crate) use smpp_user::MAX_CREDITS;
pub use smpp_user::{user_for_address, SmppUserConfig, SMPP_USER_PREFIX};

// The description of every option, as `OPTION_TABLES` lists them.
pub use option_spec::{Absent, OptionSpec, Support, Unit, Values};

use crate::limited_file;
use section::FileContext;
use std::path::{Path, PathBuf};

/// The largest configuration file read: a thousand channels take well under a megabyte, and
/// a path naming `/dev/zero` or a log file must not fill memory.
pub const MAX_CONFIG_FILE: u64 = 16 * 1024 * 1024;

/// The prefix of every channel section's name.
pub const CHANNEL_PREFIX: &str = "channel-";

/// Every section's option table, under the name the configuration reference gives the section
/// (docs/configuration.md heads each section's table with it; a test checks that the
/// reference states each option's default and values as the table does).
pub const OPTION_TABLES: &[(&str, &[OptionSpec])] = &[
    ("[channel-NAME]", options::CHANNEL_OPTIONS),
    ("[http]", daemon_sections::HTTP_OPTIONS),
    ("[webhook]", daemon_sections::WEBHOOK_OPTIONS),
    ("[store]", store_section::STORE_OPTIONS),
    ("[smpp-server]", smpp_server::SMPP_SERVER_OPTIONS),
    ("[smpp-user-NAME]", smpp_user::SMPP_USER_OPTIONS),
];

/// A whole configuration file, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The channels, in the order the file lists them (the order matters for channel choice).
    pub channels: Vec<ChannelConfig>,
    /// `[http]`: the HTTP API (defaults when the section is absent).
    pub http: HttpConfig,
    /// `[webhook]`: where inbound messages and receipts go; `None` sends no events.
    pub webhook: Option<WebhookConfig>,
    /// `[store]`: the durable store (defaults when the section is absent).
    pub store: StoreConfig,
    /// `[smpp-server]`: the listener for downstream SMPP clients; `None` accepts no binds.
    pub smpp_server: Option<SmppServerConfig>,
    /// The `[smpp-user-NAME]` sections, in the order the file lists them.
    pub smpp_users: Vec<SmppUserConfig>,
}

/// A configuration that passed validation, and what is worth telling about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Notices that do not stop a start (ignored Genesys options, lax permissions...).
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// Reads and validates `path`, resolving `{ env = .. }` secrets from the process
    /// environment and `{ file = .. }` secrets relative to the file's directory.
    ///
    /// The file and every secret file must be regular files (a FIFO, a device or a directory
    /// is refused without being opened for a blocking read), of at most [`MAX_CONFIG_FILE`]
    /// and [`crate::secret::MAX_SECRET_FILE`] bytes. Reading may still wait on a slow disk or
    /// network file system: the daemon calls this off its runtime, with a time limit.
    pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
        let unreadable = |error: String| {
            ConfigErrors(vec![ConfigError {
                location: file_location(path),
                problem: Problem::Read(error),
            }])
        };
        let data = limited_file::read(path, MAX_CONFIG_FILE, "a configuration file")
            .map_err(|e| unreadable(e.to_string()))?;
        let text = String::from_utf8(data).map_err(|e| {
            unreadable(format!(
                "not UTF-8 text (at byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let env = |var: &str| std::env::var(var).ok();
        let mut loaded = Self::parse(&text, path, &env)?;
        if loaded.inline_secret {
            if let Some(w) = permissions_warning(path) {
                loaded.warnings.push(w);
            }
        }
        Ok(Loaded {
            config: loaded.config,
            warnings: loaded.warnings,
        })
    }

    /// Validates `text` as if read from `path`, looking environment variables up with `env`.
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Parsed, ConfigErrors> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| line_and_column(text, span.start))
                .map(|(line, column)| format!("line {line}, column {column}: "))
                .unwrap_or_default();
            ConfigErrors(vec![ConfigError {
                location: file_location(path),
                problem: Problem::Syntax(format!("{at}{}", e.message())),
            }])
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let ctx = FileContext {
            path,
            base_dir,
            env,
        };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut channels = Vec::new();
        let mut inline_secret = false;
        let mut http = HttpConfig::default();
        let mut webhook = None;
        let mut store = StoreConfig::defaults(path, env);
        let mut smpp_server = None;
        let mut server_section = false;
        let mut smpp_users = Vec::new();
        let mut user_keys = Vec::new();
        for (section, value) in &table {
            let located = |key: Option<&str>| Location {
                path: path.to_path_buf(),
                section: Some(section.clone()),
                key: key.map(str::to_string),
            };
            if let (Some(daemon_section), toml::Value::Table(body)) =
                (daemon_sections::known(section), value)
            {
                let reader = match daemon_section {
                    daemon_sections::Section::Http => {
                        let (config, reader) = daemon_sections::parse_http(&ctx, body);
                        http = config;
                        reader
                    }
                    daemon_sections::Section::Webhook => {
                        let (config, reader) = daemon_sections::parse_webhook(&ctx, body);
                        webhook = Some(config);
                        reader
                    }
                    daemon_sections::Section::Store => {
                        let (config, reader) = store_section::parse_store(&ctx, body);
                        store = config;
                        reader
                    }
                };
                errors.extend(reader.errors);
                warnings.extend(reader.warnings);
                inline_secret |= reader.inline_secret;
                continue;
            }
            if let (smpp_server::SMPP_SERVER_SECTION, toml::Value::Table(body)) =
                (section.as_str(), value)
            {
                let (config, reader) = smpp_server::parse_server(&ctx, body);
                smpp_server = config;
                server_section = true;
                errors.extend(reader.errors);
                warnings.extend(reader.warnings);
                inline_secret |= reader.inline_secret;
                continue;
            }
            if let (Some(name), toml::Value::Table(body)) =
                (section.strip_prefix(SMPP_USER_PREFIX), value)
            {
                if !valid_channel_name(name) {
                    errors.push(ConfigError {
                        location: located(None),
                        problem: Problem::BadUserName,
                    });
                    continue;
                }
                let (config, keys, reader) = smpp_user::parse_user(&ctx, section, name, body);
                errors.extend(reader.errors);
                warnings.extend(reader.warnings);
                inline_secret |= reader.inline_secret;
                smpp_users.extend(config);
                user_keys.push(keys);
                continue;
            }
            let Some(name) = section.strip_prefix(CHANNEL_PREFIX) else {
                let problem = match value {
                    toml::Value::Table(_) => Problem::UnknownSection {
                        nearest: suggest::nearest(
                            section,
                            [
                                "channel-NAME",
                                daemon_sections::HTTP_SECTION,
                                daemon_sections::WEBHOOK_SECTION,
                                store_section::STORE_SECTION,
                                smpp_server::SMPP_SERVER_SECTION,
                                "smpp-user-NAME",
                            ],
                        ),
                    },
                    _ => Problem::UnknownKey { nearest: None },
                };
                let location = match value {
                    toml::Value::Table(_) => located(None),
                    _ => Location {
                        path: path.to_path_buf(),
                        section: None,
                        key: Some(section.clone()),
                    },
                };
                errors.push(ConfigError { location, problem });
                continue;
            };
            if !valid_channel_name(name) {
                errors.push(ConfigError {
                    location: located(None),
                    problem: Problem::BadChannelName,
                });
                continue;
            }
            let toml::Value::Table(body) = value else {
                errors.push(ConfigError {
                    location: located(None),
                    problem: Problem::WrongType {
                        expected: "a [section]",
                        found: "a value",
                    },
                });
                continue;
            };
            let (channel, reader) = channel::parse(&ctx, section, name, body);
            errors.extend(reader.errors);
            warnings.extend(reader.warnings);
            inline_secret |= reader.inline_secret;
            channels.push(channel);
        }
        let (user_errors, user_warnings) =
            smpp_user::check_users(path, &user_keys, &channels, server_section);
        errors.extend(user_errors);
        warnings.extend(user_warnings);
        // No channel is a valid configuration: the daemon starts, serves its API and answers
        // 503 "no channel is configured" to every message until a reload adds a channel. That
        // is how the Debian package's configuration starts before anyone has filled it in.
        if channels.is_empty() && errors.is_empty() {
            warnings.push(ConfigWarning {
                location: file_location(path),
                message: "no [channel-NAME] section: no message can be sent until one is \
                          added (then reload: SIGHUP)"
                    .to_string(),
            });
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Parsed {
            config: Config {
                path: path.to_path_buf(),
                channels,
                http,
                webhook,
                store,
                smpp_server,
                smpp_users,
            },
            warnings,
            inline_secret,
        })
    }
}

/// The result of [`Config::parse`]: like [`Loaded`], and whether the text held an inline
/// secret (so that the caller can check the file's permissions).
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The configuration.
    pub config: Config,
    /// Notices that do not stop a start.
    pub warnings: Vec<ConfigWarning>,
    /// Whether any secret was written inline in the file.
    pub inline_secret: bool,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn file_location(path: &Path) -> Location {
    Location {
        path: path.to_path_buf(),
        section: None,
        key: None,
    }
}

fn valid_channel_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A warning when a file holding inline passwords can be read by group or others.
#[cfg(unix)]
fn permissions_warning(path: &Path) -> Option<ConfigWarning> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| ConfigWarning {
        location: file_location(path),
        message: format!(
            "holds inline passwords but is readable by group or others (mode {:o}); \
             chmod 600 it, or use {{ env = \"VAR\" }} / {{ file = \"PATH\" }}",
            mode & 0o777
        ),
    })
}

#[cfg(not(unix))]
fn permissions_warning(_path: &Path) -> Option<ConfigWarning> {
    None
}

#[cfg(test)]
mod session_option_tests;
#[cfg(test)]
mod smpp_tests;
#[cfg(test)]
mod tests;
