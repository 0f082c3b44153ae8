//! The SMPP server's families: per user its bound sessions, balance, submits by result and
//! deliveries, and the open connections. Taken as plain figures ([`SmppStats`]) so that the
//! text can be checked without a listener.

use super::{family, label, scalar};
use crate::daemon::smpp_server::SmppServer;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// One user's figures at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SmppUserStats {
    /// The user's name.
    pub name: String,
    /// Sessions bound now.
    pub binds: u64,
    /// The balance; `None`: unlimited, or the store could not be read.
    pub credits: Option<u64>,
    /// Submits committed.
    pub accepted: u64,
    /// Submits over `throughput`.
    pub throttled: u64,
    /// Submits refused for want of credits.
    pub no_credit: u64,
    /// Other refused submits.
    pub refused: u64,
    /// deliver_sm acknowledged.
    pub delivered: u64,
}

/// The SMPP server's figures at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SmppStats {
    /// Every user, by name.
    pub users: Vec<SmppUserStats>,
    /// Open connections, bound or not.
    pub sessions: u64,
}

impl SmppStats {
    /// The figures of `server`, with the balances the store gave (`credits`: by user, those
    /// with a balance only).
    pub(crate) fn of(server: &SmppServer, credits: &[(String, u64)]) -> SmppStats {
        let credits: HashMap<&str, u64> = credits.iter().map(|(u, b)| (u.as_str(), *b)).collect();
        let users = server
            .users
            .all()
            .iter()
            .map(|u| {
                let c = &u.counters;
                SmppUserStats {
                    name: u.name.clone(),
                    binds: u.binds.load(Ordering::Relaxed) as u64,
                    credits: credits.get(u.name.as_str()).copied(),
                    accepted: c.accepted.load(Ordering::Relaxed),
                    throttled: c.throttled.load(Ordering::Relaxed),
                    no_credit: c.no_credit.load(Ordering::Relaxed),
                    refused: c.refused.load(Ordering::Relaxed),
                    delivered: c.delivered.load(Ordering::Relaxed),
                }
            })
            .collect();
        SmppStats {
            users,
            sessions: server.board.all().len() as u64,
        }
    }

    /// The exposition text of these families.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let names: Vec<String> = self.users.iter().map(|u| label(&u.name)).collect();
        family(
            &mut out,
            "smppd_smpp_user_binds",
            "gauge",
            "Sessions of the SMPP user bound now.",
        );
        for (u, n) in self.users.iter().zip(&names) {
            let _ = writeln!(out, "smppd_smpp_user_binds{{user=\"{n}\"}} {}", u.binds);
        }
        family(
            &mut out,
            "smppd_smpp_user_credits",
            "gauge",
            "The SMPP user's balance in segments; no series for a user without a limit.",
        );
        for (u, n) in self.users.iter().zip(&names) {
            if let Some(credits) = u.credits {
                let _ = writeln!(out, "smppd_smpp_user_credits{{user=\"{n}\"}} {credits}");
            }
        }
        family(
            &mut out,
            "smppd_smpp_user_submits_total",
            "counter",
            "submit_sm of the SMPP user by result: accepted (committed), throttled (over throughput), no_credit, refused (anything else).",
        );
        for (u, n) in self.users.iter().zip(&names) {
            for (result, count) in [
                ("accepted", u.accepted),
                ("throttled", u.throttled),
                ("no_credit", u.no_credit),
                ("refused", u.refused),
            ] {
                let _ = writeln!(
                    out,
                    "smppd_smpp_user_submits_total{{user=\"{n}\",result=\"{result}\"}} {count}"
                );
            }
        }
        family(
            &mut out,
            "smppd_smpp_user_delivered_total",
            "counter",
            "deliver_sm (receipts, inbound messages) the SMPP user acknowledged.",
        );
        for (u, n) in self.users.iter().zip(&names) {
            let _ = writeln!(
                out,
                "smppd_smpp_user_delivered_total{{user=\"{n}\"}} {}",
                u.delivered
            );
        }
        scalar(
            &mut out,
            "smppd_smpp_sessions",
            "gauge",
            "Open connections of the SMPP server, bound or not.",
            self.sessions,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_declared_once_and_unlimited_users_have_no_balance() {
        let stats = SmppStats {
            users: vec![
                SmppUserStats {
                    name: "acme".into(),
                    binds: 2,
                    credits: Some(7),
                    accepted: 3,
                    throttled: 1,
                    ..SmppUserStats::default()
                },
                SmppUserStats {
                    name: "free\"co".into(),
                    delivered: 4,
                    ..SmppUserStats::default()
                },
            ],
            sessions: 3,
        };
        let text = stats.render();
        for line in [
            "smppd_smpp_user_binds{user=\"acme\"} 2",
            "smppd_smpp_user_credits{user=\"acme\"} 7",
            "smppd_smpp_user_submits_total{user=\"acme\",result=\"accepted\"} 3",
            "smppd_smpp_user_submits_total{user=\"acme\",result=\"throttled\"} 1",
            "smppd_smpp_user_submits_total{user=\"acme\",result=\"no_credit\"} 0",
            "smppd_smpp_user_submits_total{user=\"acme\",result=\"refused\"} 0",
            "smppd_smpp_user_delivered_total{user=\"free\\\"co\"} 4",
            "smppd_smpp_sessions 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line}:\n{text}");
        }
        assert!(
            !text.contains("smppd_smpp_user_credits{user=\"free"),
            "{text}"
        );
        for name in [
            "smppd_smpp_user_binds",
            "smppd_smpp_user_credits",
            "smppd_smpp_user_submits_total",
            "smppd_smpp_user_delivered_total",
            "smppd_smpp_sessions",
        ] {
            let typed = format!("# TYPE {name} ");
            assert_eq!(text.matches(&typed).count(), 1, "{name}");
        }
    }
}
