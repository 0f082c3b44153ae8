//! `[store] url`: what smppd accepts in it and what its host implies, decided here for
//! `check-config`, the start and the store alike.
//!
//! A URL may not carry a password (it belongs in `[store] password`, which never shows in
//! logs) nor TLS parameters (`sslmode`, `sslrootcert`, ...): TLS is `[store] tls` and
//! `tls-ca`, so that one setting decides whether the link is encrypted and verified.

use std::net::IpAddr;
use std::str::FromStr;
use tokio_postgres::config::Host;

/// Why a URL is refused, worded as what is expected instead. Never holds the URL, which may
/// hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlProblem {
    /// It does not parse.
    #[error("postgres://USER@HOST:PORT/DATABASE (or key=value pairs: host=... dbname=...)")]
    Unparsable,
    /// It holds a password.
    #[error("a URL without a password: put it in [store] password (inline, {{ env = \"VAR\" }} or {{ file = \"PATH\" }})")]
    Password,
    /// It holds a TLS parameter, named.
    #[error("a URL without {0}: TLS is set by [store] tls = \"on\" | \"off\" (and tls-ca for the CA to trust)")]
    TlsParameter(String),
}

/// Parses `url` (a `postgres://` URL or `key=value` text) and refuses what smppd does not
/// take from it: a password, or a TLS parameter.
pub(crate) fn check(url: &str) -> Result<tokio_postgres::Config, UrlProblem> {
    // Before parsing: the parser refuses the TLS parameters it does not know (`sslrootcert`)
    // with a message that says nothing of where TLS is set.
    if let Some(name) = parameter_names(url)
        .into_iter()
        .find(|n| is_tls_parameter(n))
    {
        return Err(UrlProblem::TlsParameter(name));
    }
    // The parser's message may quote the text; it is not shown, so that a password typed
    // into a malformed URL does not reach a log.
    let config = tokio_postgres::Config::from_str(url).map_err(|_| UrlProblem::Unparsable)?;
    if config.get_password().is_some() {
        return Err(UrlProblem::Password);
    }
    Ok(config)
}

/// Whether TLS is on when `[store] tls` is not set: off only when every address the URL
/// names is on this machine (a Unix socket directory, `localhost`, 127.0.0.0/8 or ::1),
/// where nothing crosses a network.
pub(crate) fn tls_by_default(config: &tokio_postgres::Config) -> bool {
    let hosts = config.get_hosts();
    let local_hosts = hosts.iter().all(|host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => is_loopback(name),
    });
    let local_addrs = config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    let names_any = !hosts.is_empty() || !config.get_hostaddrs().is_empty();
    !(names_any && local_hosts && local_addrs)
}

/// Whether a host of the URL is a Unix socket directory, where PostgreSQL offers no TLS.
pub(crate) fn names_a_unix_socket(config: &tokio_postgres::Config) -> bool {
    config
        .get_hosts()
        .iter()
        .any(|host| matches!(host, Host::Unix(_)))
}

fn is_loopback(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// libpq's TLS parameters, and any other `ssl...` one a later libpq may add.
fn is_tls_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("ssl") || name == "requiressl"
}

/// The parameter names of a URL (its query) or of `key=value` text, best effort: enough to
/// find a parameter, not to validate (the parser does that).
fn parameter_names(url: &str) -> Vec<String> {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        let Some((_, query)) = url.split_once('?') else {
            return Vec::new();
        };
        let query = query.split('#').next().unwrap_or_default();
        return query
            .split('&')
            .map(|pair| {
                pair.split('=')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            })
            .filter(|name| !name.is_empty())
            .collect();
    }
    key_value_names(url)
}

/// The keys of `key=value` text, where a value may be quoted (`'a b'`) and a backslash
/// escapes the next character.
fn key_value_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if key.is_empty() {
            return names;
        }
        names.push(key);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            return names;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '\'' if quoted => break,
                c if c.is_whitespace() && !quoted => break,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_tls(url: &str) -> bool {
        tls_by_default(&check(url).unwrap())
    }

    #[test]
    fn tls_is_off_by_default_only_on_this_machine() {
        for local in [
            "postgres://smppd@127.0.0.1/smppd",
            "postgres://smppd@127.1.2.3:5433/smppd",
            "postgres://smppd@[::1]/smppd",
            "postgres://smppd@localhost/smppd",
            "postgres://smppd@LocalHost,127.0.0.1/smppd",
            "host=/run/postgresql dbname=smppd",
            "postgres://smppd@%2Frun%2Fpostgresql/smppd",
            "host=localhost hostaddr=127.0.0.1 dbname=smppd",
        ] {
            assert!(!default_tls(local), "{local}");
        }
        for remote in [
            "postgres://smppd@db1:5432/smppd",
            "postgres://smppd@10.0.0.5/smppd",
            "postgres://smppd@localhost,db2/smppd",
            "postgres://smppd@[2001:db8::1]/smppd",
            "host=localhost hostaddr=10.0.0.5 dbname=smppd",
            "postgres://smppd@localhost.example/smppd",
        ] {
            assert!(default_tls(remote), "{remote}");
        }
    }

    #[test]
    fn tls_parameters_are_refused_by_name() {
        for (url, name) in [
            ("postgres://u@db1/x?sslmode=require", "sslmode"),
            (
                "postgres://u@db1/x?application_name=a&sslrootcert=/ca.pem",
                "sslrootcert",
            ),
            ("postgresql://u@db1/x?SSLMODE=disable", "SSLMODE"),
            ("host=db1 sslmode=verify-full dbname=x", "sslmode"),
            (
                "host=db1 options='-c a=b sslmode=x' sslnegotiation=direct",
                "sslnegotiation",
            ),
            ("host = db1 requiressl = 1", "requiressl"),
        ] {
            assert_eq!(
                check(url).unwrap_err(),
                UrlProblem::TlsParameter(name.into()),
                "{url}"
            );
        }
        let problem = check("postgres://u@db1/x?sslmode=require").unwrap_err();
        assert!(problem.to_string().contains("[store] tls"), "{problem}");
        // Inside a quoted value it is no parameter.
        assert!(check("host=db1 options='-c sslmode=x' dbname=x").is_ok());
    }

    #[test]
    fn passwords_and_nonsense_are_refused_without_quoting_the_url() {
        assert_eq!(
            check("postgres://u:hunter2@db1/x").unwrap_err(),
            UrlProblem::Password
        );
        assert_eq!(
            check("host=db1 password=hunter2").unwrap_err(),
            UrlProblem::Password
        );
        let problem = check("postgres://u@db1/x?nonsense=1").unwrap_err();
        assert_eq!(problem, UrlProblem::Unparsable);
        assert!(!check("postgres://u:hunter2@db1/x")
            .unwrap_err()
            .to_string()
            .contains("hunter2"));
    }
}
