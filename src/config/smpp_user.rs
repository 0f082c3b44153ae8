//! `[smpp-user-NAME]`: one downstream SMPP client of the `[smpp-server]` listener — who it
//! is (`system-id`, `password-hash`), where it may connect from, how much it may send, through
//! which channels, and which inbound messages are its.
//!
//! Some rules span sections and are checked once every section is read: system-ids and
//! address ranges are unique among users, and `channels` names configured `[channel-NAME]`
//! sections.

use super::address::{AddressRange, IpNetwork};
use super::error::{ConfigError, ConfigWarning, Location, Problem};
use super::option_spec::{described, integer, optional_integer, refused, OptionSpec, Unit::*};
use super::section::{FileContext, SectionReader};
use super::suggest;
use super::ChannelConfig;
use crate::password::PasswordHash;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The prefix of every user section's name.
pub const SMPP_USER_PREFIX: &str = "smpp-user-";

/// The most credits a user may be given: 10^12 segments, far beyond any account, small
/// enough that no sum of them overflows.
pub(crate) const MAX_CREDITS: i64 = 1_000_000_000_000;

/// Every key of `[smpp-user-NAME]`.
pub(crate) const SMPP_USER_OPTIONS: &[OptionSpec] = &[
    described(
        "system-id",
        "required",
        "1-15 printable ASCII characters, unique among users (compared exactly)",
        "The system_id the client binds with.",
    ),
    described(
        "password-hash",
        "required",
        "an Argon2id PHC string ($argon2id$v=19$...), as smppd hash-password prints it",
        "The hash the bind password is checked against. Plaintext is refused.",
    ),
    refused(
        "password",
        "the SMPP server keeps no plaintext passwords: run `smppd hash-password` and write its output in password-hash",
    ),
    described(
        "allowed-ips",
        "any",
        "a list of IPv4/IPv6 addresses and CIDR networks (203.0.113.0/24, 2001:db8::/32)",
        "Where the client may connect from; a bind from elsewhere is refused.",
    ),
    integer(
        "max-binds",
        4,
        (1, 64),
        Count,
        "The most sessions the user may have bound at once.",
    ),
    integer(
        "throughput",
        100,
        (1, 100_000),
        Other("segments/s"),
        "A token bucket of this rate; a submit_sm beyond it is answered ESME_RTHROTTLED.",
    ),
    optional_integer(
        "credits",
        "unlimited",
        (0, MAX_CREDITS),
        Count,
        "The segments the user may send in all.",
    ),
    described(
        "channels",
        "required",
        "a list of [channel-NAME] names, each configured, no repeats",
        "The upstream channels for the user's messages, in order of preference (failover).",
    ),
    described(
        "address-ranges",
        "none",
        "a list of 1-21 digits with an optional leading + (ignored) and an optional trailing *",
        "Inbound messages to these addresses go to this user: an exact range beats a prefix, a longer prefix a shorter one.",
    ),
];

/// One `[smpp-user-NAME]`, validated. Its `Debug` form shows no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppUserConfig {
    /// The section name without `smpp-user-`.
    pub name: String,
    /// `system-id`.
    pub system_id: String,
    /// `password-hash`.
    pub password_hash: PasswordHash,
    /// `allowed-ips`; empty means any address.
    pub allowed_ips: Vec<IpNetwork>,
    /// `max-binds`.
    pub max_binds: u8,
    /// `throughput`, in segments per second.
    pub throughput: u32,
    /// `credits`; `None` is unlimited.
    pub credits: Option<u64>,
    /// `channels`, in order of preference.
    pub channels: Vec<String>,
    /// `address-ranges`.
    pub address_ranges: Vec<AddressRange>,
}

impl SmppUserConfig {
    /// Whether a client at `ip` may bind as this user.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|n| n.contains(ip))
    }
}

/// The user an inbound message to `address` goes to, by its `address-ranges`: an exact
/// range beats a prefix, a longer prefix beats a shorter one. `None` when no range matches.
///
/// The winner is unique: two users cannot hold the same range (the configuration refuses
/// it), and when an exact range and a prefix of the same digits both match, the exact one
/// ranks first.
pub fn user_for_address<'a>(
    users: &'a [SmppUserConfig],
    address: &str,
) -> Option<&'a SmppUserConfig> {
    users
        .iter()
        .flat_map(|user| {
            user.address_ranges.iter().filter_map(move |range| {
                Some(((range.matches(address)?, !range.is_prefix()), user))
            })
        })
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, user)| user)
}

/// What the cross-section checks need of a user section, kept even when the section had
/// problems (so that a duplicate is still reported beside them).
pub(super) struct UserKeys {
    section: String,
    system_id: String,
    channels: Vec<String>,
    address_ranges: Vec<AddressRange>,
}

/// Reads `[smpp-user-NAME]`; problems are left in the returned reader. The configuration is
/// `None` when `password-hash` is missing or refused.
pub(super) fn parse_user<'a>(
    ctx: &'a FileContext<'a>,
    section: &'a str,
    name: &str,
    table: &'a toml::Table,
) -> (Option<SmppUserConfig>, UserKeys, SectionReader<'a>) {
    let mut r = SectionReader::new(ctx, section, table, SMPP_USER_OPTIONS);
    let system_id = system_id(&mut r);
    let password_hash = password_hash(&mut r);
    let allowed_ips = allowed_ips(&mut r);
    let max_binds = r.integer("max-binds") as u8;
    let throughput = r.integer("throughput") as u32;
    let credits = r
        .has("credits")
        .then(|| r.integer("credits").unsigned_abs());
    let channels = channels(&mut r);
    let address_ranges = address_ranges(&mut r);
    r.finish();
    let keys = UserKeys {
        section: section.to_string(),
        system_id: system_id.clone(),
        channels: channels.clone(),
        address_ranges: address_ranges.clone(),
    };
    let config = password_hash.map(|password_hash| SmppUserConfig {
        name: name.to_string(),
        system_id,
        password_hash,
        allowed_ips,
        max_binds,
        throughput,
        credits,
        channels,
        address_ranges,
    });
    (config, keys, r)
}

fn system_id(r: &mut SectionReader<'_>) -> String {
    // SMPP v3.4: a system_id is at most 15 octets without its NUL.
    let id = r.required_string("system-id", 15);
    if !id.is_empty() && !id.bytes().all(|b| b.is_ascii_graphic()) {
        r.error(
            Some("system-id"),
            Problem::Invalid {
                value: id.clone(),
                expected: "printable ASCII without spaces".into(),
            },
        );
    }
    id
}

fn password_hash(r: &mut SectionReader<'_>) -> Option<PasswordHash> {
    // The value is not quoted back in any message: it may be a plaintext password.
    let Some(text) = r.opt_string("password-hash", 1024) else {
        // A `password` key is refused with its own message, which says what to write here.
        if !r.has("password-hash") && !r.has("password") {
            r.error(Some("password-hash"), Problem::Missing);
        }
        return None;
    };
    match PasswordHash::parse(&text) {
        Ok(hash) => Some(hash),
        Err(e) => {
            r.error(Some("password-hash"), Problem::PasswordHash(e));
            None
        }
    }
}

fn allowed_ips(r: &mut SectionReader<'_>) -> Vec<IpNetwork> {
    let entries = r.string_list("allowed-ips", 64);
    if is_empty_list(r, "allowed-ips") {
        r.error(
            Some("allowed-ips"),
            Problem::Conflict(
                "an empty list would let no client in: list at least one address or network, or leave the key out to allow any".into(),
            ),
        );
    }
    let mut networks = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry.trim().parse::<IpNetwork>() {
            Ok(network) => networks.push(network),
            Err(e) => r.error(
                Some("allowed-ips"),
                Problem::Invalid {
                    value: entry,
                    expected: e.to_string(),
                },
            ),
        }
    }
    networks
}

fn channels(r: &mut SectionReader<'_>) -> Vec<String> {
    let listed = r.has("channels");
    let channels = r.string_list("channels", 64);
    if !listed {
        r.error(Some("channels"), Problem::Missing);
    } else if is_empty_list(r, "channels") {
        r.error(
            Some("channels"),
            Problem::Conflict("at least one [channel-NAME] name is needed".into()),
        );
    }
    let mut seen = HashSet::new();
    for channel in &channels {
        if !seen.insert(channel.as_str()) {
            r.error(
                Some("channels"),
                Problem::Conflict(format!("\"{channel}\" is listed twice")),
            );
        }
    }
    channels
}

/// Whether `key` is written as `[]` (a list of wrong entries is reported for its entries).
fn is_empty_list(r: &SectionReader<'_>, key: &str) -> bool {
    r.peek(key)
        .and_then(toml::Value::as_array)
        .is_some_and(Vec::is_empty)
}

fn address_ranges(r: &mut SectionReader<'_>) -> Vec<AddressRange> {
    let mut ranges: Vec<AddressRange> = Vec::new();
    for entry in r.string_list("address-ranges", 64) {
        match entry.trim().parse::<AddressRange>() {
            Ok(range) if ranges.contains(&range) => r.error(
                Some("address-ranges"),
                Problem::Conflict(format!("\"{entry}\" is listed twice")),
            ),
            Ok(range) => ranges.push(range),
            Err(e) => r.error(
                Some("address-ranges"),
                Problem::Invalid {
                    value: entry,
                    expected: e.to_string(),
                },
            ),
        }
    }
    ranges
}

/// The rules that span sections: unique system-ids and address ranges, `channels` naming
/// configured channels, and users only with a listener to bind to.
pub(super) fn check_users(
    path: &Path,
    users: &[UserKeys],
    channels: &[ChannelConfig],
    server: bool,
) -> (Vec<ConfigError>, Vec<ConfigWarning>) {
    let mut errors = Vec::new();
    let at = |section: &str, key: Option<&str>| Location {
        path: path.to_path_buf(),
        section: Some(section.to_string()),
        key: key.map(str::to_string),
    };
    let channel_names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    let mut system_ids: HashMap<&str, &str> = HashMap::new();
    let mut ranges: HashMap<&AddressRange, &str> = HashMap::new();
    for user in users {
        if !user.system_id.is_empty() {
            if let Some(first) = system_ids.insert(&user.system_id, &user.section) {
                // Put back the first: a third duplicate names it too.
                system_ids.insert(&user.system_id, first);
                errors.push(ConfigError {
                    location: at(&user.section, Some("system-id")),
                    problem: Problem::Conflict(format!(
                        "\"{}\" is also the system-id of [{first}]: each user needs its own",
                        user.system_id
                    )),
                });
            }
        }
        for channel in &user.channels {
            if !channel_names.contains(&channel.as_str()) {
                let nearest = suggest::nearest(channel, channel_names.iter().copied())
                    .map(|n| format!(" (did you mean \"{n}\"?)"))
                    .unwrap_or_default();
                errors.push(ConfigError {
                    location: at(&user.section, Some("channels")),
                    problem: Problem::Conflict(format!(
                        "\"{channel}\" names no [channel-{channel}] section{nearest}"
                    )),
                });
            }
        }
        for range in &user.address_ranges {
            match ranges.get(range) {
                Some(first) => errors.push(ConfigError {
                    location: at(&user.section, Some("address-ranges")),
                    problem: Problem::Conflict(format!(
                        "\"{range}\" is also an address range of [{first}]: an inbound message to it would have two users"
                    )),
                }),
                None => {
                    ranges.insert(range, &user.section);
                }
            }
        }
    }
    let mut warnings = Vec::new();
    if let (Some(first), false) = (users.first(), server) {
        warnings.push(ConfigWarning {
            location: at(&first.section, None),
            message: format!(
                "{} [{SMPP_USER_PREFIX}NAME] section(s) but no [smpp-server]: no client can bind until it is added",
                users.len()
            ),
        });
    }
    if users.is_empty() && server {
        warnings.push(ConfigWarning {
            location: Location {
                path: path.to_path_buf(),
                section: Some(super::smpp_server::SMPP_SERVER_SECTION.to_string()),
                key: None,
            },
            message: format!(
                "no [{SMPP_USER_PREFIX}NAME] section: every bind will be refused until one is added"
            ),
        });
    }
    (errors, warnings)
}
