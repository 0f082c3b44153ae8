//! Keeping web pages out: the checks that stop a browser from being used against the API.
//!
//! Without a bearer token the API trusts whoever can reach it, and a browser on the same
//! machine can reach it on behalf of any web page it shows. Three checks close that:
//!
//! - **Origin** (403): a browser names the page behind every cross-site POST (and most other
//!   cross-site requests) in `Origin`. smppd's one page, the status page, reads the API with
//!   same-origin GETs, which browsers send without `Origin`; so no origin is ours, and only
//!   those in `[http] allowed-origins` pass. Always applied.
//! - **Host** (421), only without a bearer token: a page on `evil.example` whose name is made
//!   to resolve to 127.0.0.1 (DNS rebinding) reaches the API as a same-origin request, without
//!   `Origin`, but its `Host` header still says `evil.example`. Only the listen address,
//!   `localhost`, 127.0.0.1, [::1] and `[http] allowed-hosts` are answered for. A request
//!   without `Host` (HTTP/1.0) does not come from a browser and passes.
//! - **Content-Type** (415, checked where a body is read): a page may POST `text/plain`
//!   without asking the API first (no CORS preflight); `application/json` it may not.

use crate::config::{host_key, origin_key, HttpConfig};
use axum::http::uri::Authority;
use axum::http::StatusCode;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a request was refused before reaching its route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// A browser sent it for a page whose origin is not allowed.
    #[error(
        "requests from web pages at {origin} are refused; list the origin in [http] allowed-origins to allow them"
    )]
    Origin {
        /// The `Origin` header, as sent (shortened).
        origin: String,
    },
    /// No bearer token is set and `Host` names a host the API does not answer for.
    #[error(
        "this API does not answer for host {host}; use the listen address, localhost, 127.0.0.1 or [::1], or list the name in [http] allowed-hosts"
    )]
    Host {
        /// The `Host` header, as sent (shortened).
        host: String,
    },
}

impl GuardError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            GuardError::Origin { .. } => StatusCode::FORBIDDEN,
            GuardError::Host { .. } => StatusCode::MISDIRECTED_REQUEST,
        }
    }
}

/// A header value for an error message: lossy UTF-8, at most 200 characters.
fn shown(value: &[u8]) -> String {
    String::from_utf8_lossy(value).chars().take(200).collect()
}

/// The Origin and Host checks of one API, from `[http]`.
#[derive(Debug, Clone)]
pub struct RequestGuard {
    check_host: bool,
    listen: IpAddr,
    allowed_hosts: Vec<(String, Option<u16>)>,
    allowed_origins: Vec<String>,
}

impl RequestGuard {
    /// The checks `[http]` asks for.
    pub fn new(http: &HttpConfig) -> Self {
        let allowed_hosts = http
            .allowed_hosts
            .iter()
            .filter_map(|h| h.parse::<Authority>().ok())
            .map(|a| (a.host().to_ascii_lowercase(), a.port_u16()))
            .collect();
        RequestGuard {
            check_host: http.bearer_token.is_none(),
            listen: http.listen.ip(),
            allowed_hosts,
            allowed_origins: http.allowed_origins.clone(),
        }
    }

    /// Checks a request: `authority` from its URI (absolute form), else its `Host` header,
    /// and its `Origin` header.
    pub fn check(
        &self,
        authority: Option<&str>,
        host: Option<&[u8]>,
        origin: Option<&[u8]>,
    ) -> Result<(), GuardError> {
        if let Some(origin) = origin {
            let allowed = std::str::from_utf8(origin)
                .ok()
                .and_then(origin_key)
                .is_some_and(|o| self.allowed_origins.contains(&o));
            if !allowed {
                return Err(GuardError::Origin {
                    origin: shown(origin),
                });
            }
        }
        if !self.check_host {
            return Ok(());
        }
        let host = match (authority, host) {
            (Some(a), _) => a.as_bytes(),
            (None, Some(h)) => h,
            (None, None) => return Ok(()),
        };
        if self.host_allowed(host) {
            Ok(())
        } else {
            Err(GuardError::Host { host: shown(host) })
        }
    }

    fn host_allowed(&self, host: &[u8]) -> bool {
        let Some(authority) = std::str::from_utf8(host)
            .ok()
            .and_then(host_key)
            .and_then(|k| k.parse::<Authority>().ok())
        else {
            return false;
        };
        let name = authority.host();
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare == "localhost" || bare == "localhost." {
            return true;
        }
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let local =
                ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST);
            // Listening on every address: any address of this machine is the listen
            // address. An address is never a rebinding attack (that needs a name).
            let listen = ip == self.listen || self.listen.is_unspecified();
            if local || listen {
                return true;
            }
        }
        self.allowed_hosts
            .iter()
            .any(|(h, port)| h == name && port.is_none_or(|p| authority.port_u16() == Some(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn guard(listen: &str, token: bool, hosts: &[&str], origins: &[&str]) -> RequestGuard {
        RequestGuard::new(&HttpConfig {
            listen: listen.parse().unwrap(),
            bearer_token: token.then(|| Secret::new("t")),
            allowed_hosts: hosts.iter().map(|h| host_key(h).unwrap()).collect(),
            allowed_origins: origins.iter().map(|o| origin_key(o).unwrap()).collect(),
            ..HttpConfig::default()
        })
    }

    fn host(g: &RequestGuard, h: &str) -> Result<(), GuardError> {
        g.check(None, Some(h.as_bytes()), None)
    }

    #[test]
    fn loopback_names_and_the_listen_address_are_answered_for() {
        let g = guard("127.0.0.1:8080", false, &[], &[]);
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "LOCALHOST:1234",
            "localhost",
            "[::1]:8080",
            "[::1]",
        ] {
            assert_eq!(host(&g, ok), Ok(()), "{ok}");
        }
        let g = guard("10.0.0.5:8080", false, &[], &[]);
        assert_eq!(host(&g, "10.0.0.5:8080"), Ok(()));
        assert!(host(&g, "10.0.0.6:8080").is_err());
    }

    #[test]
    fn other_names_are_misdirected_unless_listed() {
        let g = guard(
            "127.0.0.1:8080",
            false,
            &["smppd.internal", "ops.internal:9"],
            &[],
        );
        let e = host(&g, "evil.example").unwrap_err();
        assert_eq!(e.status(), StatusCode::MISDIRECTED_REQUEST);
        assert!(e.to_string().contains("evil.example"), "{e}");
        assert!(host(&g, "127.0.0.1.evil.example").is_err());
        assert!(host(&g, "localhost.evil.example:80").is_err());
        assert!(host(&g, "").is_err());
        assert!(host(&g, "a b").is_err());
        assert_eq!(host(&g, "SMPPD.internal:8080"), Ok(()), "any port");
        assert_eq!(host(&g, "ops.internal:9"), Ok(()));
        assert!(host(&g, "ops.internal:10").is_err(), "that port only");
        // The URI's authority (absolute form) is what counts when there is one.
        assert!(g
            .check(Some("evil.example"), Some(b"127.0.0.1"), None)
            .is_err());
        assert_eq!(g.check(None, None, None), Ok(()), "HTTP/1.0 without Host");
    }

    #[test]
    fn with_a_token_any_host_is_answered_for() {
        let g = guard("127.0.0.1:8080", true, &[], &[]);
        assert_eq!(host(&g, "evil.example"), Ok(()));
        let g = guard("0.0.0.0:8080", false, &[], &[]);
        assert_eq!(host(&g, "192.0.2.7:8080"), Ok(()), "listening everywhere");
        assert!(host(&g, "evil.example").is_err());
    }

    #[test]
    fn only_listed_origins_pass_with_or_without_a_token() {
        for token in [false, true] {
            let g = guard("127.0.0.1:8080", token, &[], &["https://ops.example.net"]);
            let origin = |o: &str| g.check(None, Some(b"localhost"), Some(o.as_bytes()));
            let e = origin("http://evil.example").unwrap_err();
            assert_eq!(e.status(), StatusCode::FORBIDDEN);
            assert!(e.to_string().contains("http://evil.example"), "{e}");
            assert!(origin("null").is_err());
            assert!(origin("http://ops.example.net").is_err(), "another scheme");
            assert_eq!(origin("https://OPS.example.net:443"), Ok(()));
            assert_eq!(g.check(None, Some(b"localhost"), None), Ok(()));
        }
    }
}
