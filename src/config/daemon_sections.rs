//! The daemon's own sections: `[http]` (the HTTP API) and `[webhook]` (where inbound messages
//! and delivery receipts are POSTed). Both are optional; a file without `[http]` gets the API
//! on 127.0.0.1:8080 with the defaults below, a file without `[webhook]` sends no events.
//!
//! Like [`super::options::CHANNEL_OPTIONS`], the two tables here are the single source for the
//! keys, their defaults and ranges, and the configuration reference (docs/configuration.md).

use super::error::Problem;
use super::option_spec::{described, integer, integer_default, OptionSpec, Unit::*};
use super::section::{FileContext, SectionReader};
use crate::secret::Secret;
use std::net::SocketAddr;
use std::time::Duration;

/// The name of the HTTP API section.
pub(crate) const HTTP_SECTION: &str = "http";
/// The name of the webhook section.
pub(crate) const WEBHOOK_SECTION: &str = "webhook";

/// A daemon section smppd knows, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// `[http]`.
    Http,
    /// `[webhook]`.
    Webhook,
    /// `[store]`.
    Store,
}

/// Which daemon section `name` is, if any.
pub(super) fn known(name: &str) -> Option<Section> {
    match name {
        HTTP_SECTION => Some(Section::Http),
        WEBHOOK_SECTION => Some(Section::Webhook),
        super::store_section::STORE_SECTION => Some(Section::Store),
        _ => None,
    }
}

/// The default listening address: loopback only, so that an API without a bearer token is
/// not reachable from the network by accident.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Every key of `[http]`.
pub(crate) const HTTP_OPTIONS: &[OptionSpec] = &[
    described(
        "listen",
        DEFAULT_LISTEN,
        "IP:port",
        "Where the HTTP API listens. Keep it on loopback unless bearer-token is set.",
    ),
    described(
        "bearer-token",
        "none (no authentication)",
        "1-4096 printable ASCII characters; inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "When set, /v1/* and /metrics require `Authorization: Bearer <token>`. A secret: never logged.",
    ),
    integer(
        "max-body-bytes",
        4 * 1024 * 1024,
        (1024, 64 * 1024 * 1024),
        Count,
        "Largest request body accepted; larger ones get 413.",
    ),
    described(
        "allowed-origins",
        "none",
        "a list of origins, scheme://host[:port]",
        "Web pages allowed to call the API from a browser: a request with an `Origin` header not listed gets 403.",
    ),
    described(
        "allowed-hosts",
        "none",
        "a list of host names or IP addresses, each with an optional :port (without one, any port)",
        "Without bearer-token, the `Host` header must name the listen address, localhost, 127.0.0.1 or [::1], or one of these; else 421.",
    ),
    integer(
        "max-tracked-messages",
        100_000,
        (1, 10_000_000),
        Count,
        "Kept for existing files and ignored with a warning: the durable store keeps every accepted message on disk; [store] max-queued bounds the queue.",
    ),
    integer(
        "finished-retention",
        3600,
        (1, 604_800),
        Seconds,
        "How long a delivered, failed or expired message stays queryable.",
    ),
];

/// Every key of `[webhook]`.
pub(crate) const WEBHOOK_OPTIONS: &[OptionSpec] = &[
    described(
        "url",
        "required",
        "http:// or https:// URL",
        "Where inbound messages and delivery receipts are POSTed as JSON.",
    ),
    described(
        "bearer-token",
        "none",
        "1-4096 printable ASCII characters; inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Sent as `Authorization: Bearer <token>` with every POST. A secret: never logged.",
    ),
    integer(
        "timeout-ms",
        5000,
        (100, 120_000),
        Millis,
        "How long one POST may take before it counts as failed and is retried.",
    ),
    integer(
        "max-queued-events",
        10_000,
        (1, 1_000_000),
        Count,
        "Events waiting for delivery; when full, the deliver_sm is not acknowledged (the SMSC redelivers).",
    ),
    integer(
        "retry-min-ms",
        500,
        (10, 60_000),
        Millis,
        "First retry delay; it doubles after each failure.",
    ),
    integer(
        "retry-max-ms",
        60_000,
        (10, 3_600_000),
        Millis,
        "Ceiling of the retry delay; at least retry-min-ms.",
    ),
];

/// `[http]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `listen`.
    pub listen: SocketAddr,
    /// `bearer-token`; `None` means no authentication.
    pub bearer_token: Option<Secret>,
    /// `max-body-bytes`.
    pub max_body_bytes: usize,
    /// `max-tracked-messages`.
    pub max_tracked_messages: usize,
    /// `finished-retention`.
    pub finished_retention: Duration,
    /// `allowed-origins`, each in one spelling: lower case, without the scheme's default port.
    pub allowed_origins: Vec<String>,
    /// `allowed-hosts`, each in one spelling: lower case.
    pub allowed_hosts: Vec<String>,
}

/// An origin (`scheme://host[:port]`, as browsers send it in `Origin`) in one spelling:
/// lower case, without the scheme's default port. `None` when `text` is not an http or https
/// origin (a path, a query or user information make it something else).
pub(crate) fn origin_key(text: &str) -> Option<String> {
    let uri = text.parse::<hyper::Uri>().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    let host = authority.host();
    if host.is_empty()
        || authority.as_str().contains('@')
        || !matches!(uri.path(), "" | "/")
        || uri.query().is_some()
        || text.ends_with('/')
    {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match authority.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// A `Host` header value or `allowed-hosts` entry (`name`, `name:port`, an IP address,
/// `[v6]:port`) in one spelling: lower case. `None` when it is not a host with an optional
/// port.
pub(crate) fn host_key(text: &str) -> Option<String> {
    let authority = text.parse::<hyper::http::uri::Authority>().ok()?;
    if authority.host().is_empty() || authority.as_str().contains('@') {
        return None;
    }
    // After the host, nothing or `:` and a port number (`http` lets `h:port` through).
    let rest = authority.as_str().get(authority.host().len()..)?;
    if !rest.is_empty() && rest.strip_prefix(':')?.parse::<u16>().is_err() {
        return None;
    }
    Some(authority.as_str().to_ascii_lowercase())
}

impl Default for HttpConfig {
    fn default() -> Self {
        let default = |name| integer_default(HTTP_OPTIONS, name).unsigned_abs();
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            bearer_token: None,
            max_body_bytes: default("max-body-bytes") as usize,
            max_tracked_messages: default("max-tracked-messages") as usize,
            finished_retention: Duration::from_secs(default("finished-retention")),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// `[webhook]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `url`, checked to be an absolute http or https URL.
    pub url: String,
    /// `bearer-token`.
    pub bearer_token: Option<Secret>,
    /// `timeout-ms`.
    pub timeout: Duration,
    /// `max-queued-events`.
    pub max_queued_events: usize,
    /// `retry-min-ms`.
    pub retry_min: Duration,
    /// `retry-max-ms`.
    pub retry_max: Duration,
}

impl WebhookConfig {
    /// A webhook to `url` with every other key at its default (for tests and tools).
    pub fn new(url: impl Into<String>) -> Self {
        let default = |name| integer_default(WEBHOOK_OPTIONS, name).unsigned_abs();
        WebhookConfig {
            url: url.into(),
            bearer_token: None,
            timeout: Duration::from_millis(default("timeout-ms")),
            max_queued_events: default("max-queued-events") as usize,
            retry_min: Duration::from_millis(default("retry-min-ms")),
            retry_max: Duration::from_millis(default("retry-max-ms")),
        }
    }
}

fn token(r: &mut SectionReader<'_>) -> Option<Secret> {
    let token = r.secret("bearer-token", 4096)?;
    // The token travels in an HTTP header: control characters and spaces could not be sent
    // (or would split the header), so they are refused here rather than failing later.
    let expected = if token.is_empty() {
        "a non-empty token (leave the key out for no authentication)"
    } else if !token.expose().bytes().all(|b| b.is_ascii_graphic()) {
        "printable ASCII without spaces (it is sent in an HTTP header)"
    } else {
        return Some(token);
    };
    r.error(
        Some("bearer-token"),
        Problem::Invalid {
            // Never the secret itself.
            value: String::new(),
            expected: expected.into(),
        },
    );
    None
}

/// Reads `[http]`; problems are left in the returned reader.
pub(super) fn parse_http<'a>(
    ctx: &'a FileContext<'a>,
    table: &'a toml::Table,
) -> (HttpConfig, SectionReader<'a>) {
    let mut r = SectionReader::new(ctx, HTTP_SECTION, table, HTTP_OPTIONS);
    let defaults = HttpConfig::default();
    let listen_text = r.string("listen", 64, DEFAULT_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            r.error(
                Some("listen"),
                Problem::Invalid {
                    value: listen_text,
                    expected: "IP:port, e.g. 127.0.0.1:8080 or [::1]:8080".into(),
                },
            );
            defaults.listen
        }
    };
    let bearer_token = token(&mut r);
    let max_body_bytes = r.integer("max-body-bytes");
    if r.has("max-tracked-messages") {
        r.warn(
            Some("max-tracked-messages"),
            "has no effect: every accepted message is kept on disk; [store] max-queued bounds the queue",
        );
    }
    let max_tracked = r.integer("max-tracked-messages");
    let retention = r.integer("finished-retention");
    let allowed_origins = keys(
        &mut r,
        "allowed-origins",
        origin_key,
        "an origin: scheme://host[:port], e.g. https://ops.example.net, without a path",
    );
    let allowed_hosts = keys(
        &mut r,
        "allowed-hosts",
        host_key,
        "a host name or IP address with an optional :port, e.g. smppd.internal or 10.0.0.5:8080",
    );
    r.finish();
    let config = HttpConfig {
        listen,
        bearer_token,
        max_body_bytes: max_body_bytes.unsigned_abs() as usize,
        max_tracked_messages: max_tracked.unsigned_abs() as usize,
        finished_retention: Duration::from_secs(retention.unsigned_abs()),
        allowed_origins,
        allowed_hosts,
    };
    (config, r)
}

/// A list option whose entries `key_of` checks and spells one way; each entry it refuses is
/// reported with `expected`.
fn keys(
    r: &mut SectionReader<'_>,
    key: &'static str,
    key_of: fn(&str) -> Option<String>,
    expected: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for entry in r.string_list(key, 512) {
        match key_of(entry.trim()) {
            Some(k) => out.push(k),
            None => r.error(
                Some(key),
                Problem::Invalid {
                    value: entry,
                    expected: expected.into(),
                },
            ),
        }
    }
    out
}

/// Whether `url` is an absolute http(s) URL with a host, as the webhook client needs.
fn valid_webhook_url(url: &str) -> bool {
    match url.parse::<hyper::Uri>() {
        Ok(uri) => {
            matches!(uri.scheme_str(), Some("http") | Some("https"))
                && uri.host().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

/// Reads `[webhook]`; problems are left in the returned reader.
pub(super) fn parse_webhook<'a>(
    ctx: &'a FileContext<'a>,
    table: &'a toml::Table,
) -> (WebhookConfig, SectionReader<'a>) {
    let mut r = SectionReader::new(ctx, WEBHOOK_SECTION, table, WEBHOOK_OPTIONS);
    let url = r.required_string("url", 2048);
    if !url.is_empty() && !valid_webhook_url(&url) {
        r.error(
            Some("url"),
            Problem::Invalid {
                value: url.clone(),
                expected: "an absolute http:// or https:// URL with a host".into(),
            },
        );
    }
    let bearer_token = token(&mut r);
    let ms = |n: i64| Duration::from_millis(n.unsigned_abs());
    let timeout = ms(r.integer("timeout-ms"));
    let max_queued = r.integer("max-queued-events");
    let retry_min = ms(r.integer("retry-min-ms"));
    let retry_max = ms(r.integer("retry-max-ms"));
    if retry_max < retry_min {
        r.error(
            Some("retry-max-ms"),
            Problem::Conflict(format!(
                "retry-max-ms ({}) must be at least retry-min-ms ({})",
                retry_max.as_millis(),
                retry_min.as_millis()
            )),
        );
    }
    r.finish();
    let config = WebhookConfig {
        url,
        bearer_token,
        timeout,
        max_queued_events: max_queued.unsigned_abs() as usize,
        retry_min,
        retry_max,
    };
    (config, r)
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError, ConfigErrors, Parsed, Problem};
    use super::*;
    use std::path::Path;

    const CHANNEL: &str = "[channel-a]\nx-smpp-host = \"h\"\nx-smpp-system-id = \"a\"\n";

    fn parse(extra: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, ConfigErrors> {
        let text = format!("{CHANNEL}\n{extra}");
        Config::parse(&text, Path::new("/etc/smppd/smppd.toml"), env)
    }

    fn errors(extra: &str) -> Vec<ConfigError> {
        match parse(extra, &|_| None) {
            Ok(_) => panic!("expected errors for {extra}"),
            Err(ConfigErrors(e)) => e,
        }
    }

    #[test]
    fn absent_sections_give_defaults() {
        let config = parse("", &|_| None).unwrap().config;
        assert_eq!(config.http, HttpConfig::default());
        assert_eq!(config.http.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.webhook, None);
    }

    #[test]
    fn full_sections_are_read() {
        let extra = "[http]\nlisten = \"[::1]:9000\"\nbearer-token = { env = \"TOKEN\" }\n\
                     max-body-bytes = 2048\nmax-tracked-messages = 5\nfinished-retention = 60\n\
                     [webhook]\nurl = \"https://hooks.example.net/sms\"\ntimeout-ms = 250\n\
                     max-queued-events = 3\nretry-min-ms = 10\nretry-max-ms = 20\n";
        let env = |v: &str| (v == "TOKEN").then(|| "t0k3n".to_string());
        let config = parse(extra, &env).unwrap().config;
        assert_eq!(config.http.listen.to_string(), "[::1]:9000");
        assert_eq!(config.http.bearer_token.unwrap().expose(), "t0k3n");
        assert_eq!(config.http.max_body_bytes, 2048);
        assert_eq!(config.http.max_tracked_messages, 5);
        assert_eq!(config.http.finished_retention, Duration::from_secs(60));
        let hook = config.webhook.unwrap();
        assert_eq!(hook.url, "https://hooks.example.net/sms");
        assert_eq!(hook.timeout, Duration::from_millis(250));
        assert_eq!(hook.max_queued_events, 3);
        assert_eq!(hook.retry_min, Duration::from_millis(10));
        assert_eq!(hook.retry_max, Duration::from_millis(20));
    }

    #[test]
    fn unknown_keys_get_the_nearest_name() {
        let e = errors(
            "[http]\nlisen = \"127.0.0.1:1\"\n[webhook]\nurl = \"http://h/\"\ntimeot-ms = 5\n",
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].location.section.as_deref(), Some("http"));
        assert_eq!(
            e[0].problem,
            Problem::UnknownKey {
                nearest: Some("listen".into())
            }
        );
        assert_eq!(e[1].location.key.as_deref(), Some("timeot-ms"));
        assert_eq!(
            e[1].problem,
            Problem::UnknownKey {
                nearest: Some("timeout-ms".into())
            }
        );
    }

    #[test]
    fn bad_values_are_all_reported() {
        let e = errors(
            "[http]\nlisten = \"localhost\"\nmax-body-bytes = 10\nbearer-token = \"\"\n\
             [webhook]\nurl = \"ftp://x/\"\nretry-min-ms = 500\nretry-max-ms = 100\n",
        );
        let keys: Vec<_> = e.iter().filter_map(|e| e.location.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "listen",
                "bearer-token",
                "max-body-bytes",
                "url",
                "retry-max-ms"
            ]
        );
    }

    #[test]
    fn webhook_needs_a_url_and_other_sections_stay_refused() {
        let e = errors("[webhook]\ntimeout-ms = 100\n");
        assert_eq!(e[0].location.key.as_deref(), Some("url"));
        assert_eq!(e[0].problem, Problem::Missing);
        let e = errors("[htp]\n");
        assert_eq!(
            e[0].problem,
            Problem::UnknownSection {
                nearest: Some("http".into())
            }
        );
    }

    #[test]
    fn allowed_origins_and_hosts_are_read_in_one_spelling() {
        let extra = "[http]\nallowed-origins = [\"HTTPS://Ops.Example.net:443\", \"http://localhost:3000\"]\n\
                     allowed-hosts = [\"SMPPD.internal\", \"10.0.0.5:8080\", \"[::1]:9\"]\n";
        let http = parse(extra, &|_| None).unwrap().config.http;
        assert_eq!(
            http.allowed_origins,
            ["https://ops.example.net", "http://localhost:3000"]
        );
        assert_eq!(
            http.allowed_hosts,
            ["smppd.internal", "10.0.0.5:8080", "[::1]:9"]
        );
        assert!(HttpConfig::default().allowed_origins.is_empty());
        assert!(HttpConfig::default().allowed_hosts.is_empty());
    }

    #[test]
    fn malformed_origins_and_hosts_are_named() {
        let e = errors(
            "[http]\nallowed-origins = [\"https://a.example/path\", \"ftp://b\", \"c.example\", \"*\"]\n\
             allowed-hosts = [\"user@h\", \"h:port\", \"\", 5]\n",
        );
        let keys: Vec<_> = e.iter().filter_map(|e| e.location.key.as_deref()).collect();
        assert_eq!(
            keys,
            [
                "allowed-origins",
                "allowed-origins",
                "allowed-origins",
                "allowed-origins",
                "allowed-hosts",
                "allowed-hosts",
                "allowed-hosts",
                "allowed-hosts"
            ],
            "{e:?}"
        );
        let e = errors("[http]\nallowed-hosts = \"h\"\n");
        assert_eq!(
            e[0].problem,
            Problem::WrongType {
                expected: "an array of strings",
                found: "a string"
            }
        );
    }

    #[test]
    fn tokens_must_fit_in_a_header_and_are_never_echoed() {
        let e = errors("[webhook]\nurl = \"http://h/\"\nbearer-token = \"two words\"\n");
        assert_eq!(e[0].location.key.as_deref(), Some("bearer-token"));
        assert!(!e[0].to_string().contains("two words"), "{}", e[0]);
    }

    #[test]
    fn tokens_never_appear_in_debug_output() {
        let extra = "[http]\nbearer-token = \"very-secret\"\n";
        let parsed = parse(extra, &|_| None).unwrap();
        assert!(parsed.inline_secret);
        assert!(!format!("{:?}", parsed.config).contains("very-secret"));
    }
}
