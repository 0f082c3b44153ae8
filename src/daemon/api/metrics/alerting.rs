//! The families alerting needs beyond the counters: failures by documented code, time
//! since the last bind, certificate expiry, and what waits in the store (queues, webhook
//! outbox). `contrib/prometheus/smppd-alerts.yml` is written against these names.

use super::{family, label};
use crate::daemon::engine::ChannelSnapshot;
use crate::daemon::store::{Backlog, ANY_CHANNEL};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::SystemTime;

/// `smppd_channel_failures_total{channel, code}` and `smppd_channel_seconds_since_bind`.
pub(super) fn channel_families(out: &mut String, channels: &[ChannelSnapshot]) {
    family(
        out,
        "smppd_channel_failures_total",
        "counter",
        "Channel failures by documented log code (43009, 43010, 43011, 42403), also those the log folded into a repeat summary.",
    );
    for c in channels {
        let n = label(&c.name);
        for (code, count) in &c.failures {
            let _ = writeln!(
                out,
                "smppd_channel_failures_total{{channel=\"{n}\",code=\"{code}\"}} {count}"
            );
        }
    }
    family(
        out,
        "smppd_channel_seconds_since_bind",
        "gauge",
        "Seconds since the channel's last successful bind; absent before the first.",
    );
    for c in channels {
        if let Some(secs) = c.seconds_since_bind {
            let _ = writeln!(
                out,
                "smppd_channel_seconds_since_bind{{channel=\"{}\"}} {secs}",
                label(&c.name)
            );
        }
    }
}

/// `smppd_tls_certificate_not_after_seconds{channel, subject, role}`. Two certificates with
/// the same subject and role (a CA renewed, both kept) would be one series twice, which
/// Prometheus rejects: the one that expires first is shown, as that is the one to act on.
pub(super) fn certificate_family(out: &mut String, channels: &[ChannelSnapshot]) {
    family(
        out,
        "smppd_tls_certificate_not_after_seconds",
        "gauge",
        "End of validity (notAfter, Unix seconds) of each certificate a channel presents (role own), trusts (ca) or saw from its SMSC at the last handshake (peer).",
    );
    for c in channels {
        let mut soonest: BTreeMap<(&str, &str), i64> = BTreeMap::new();
        for cert in &c.certificates {
            soonest
                .entry((cert.role.as_str(), cert.subject.as_str()))
                .and_modify(|t| *t = (*t).min(cert.not_after))
                .or_insert(cert.not_after);
        }
        let n = label(&c.name);
        for ((role, subject), not_after) in soonest {
            let _ = writeln!(
                out,
                "smppd_tls_certificate_not_after_seconds{{channel=\"{n}\",subject=\"{}\",role=\"{role}\"}} {not_after}",
                label(subject)
            );
        }
    }
}

/// `smppd_queue_depth` and `smppd_queue_oldest_age_seconds` for every configured channel,
/// the any-channel queue (`channel="*"`) and any other queue the store still holds;
/// `smppd_webhook_oldest_event_age_seconds`. An empty queue or outbox has age 0, so that
/// every series exists from the start. Nothing when the store could not be read.
pub(super) fn backlog_families(
    out: &mut String,
    channels: &[ChannelSnapshot],
    backlog: Option<&Backlog>,
    now: SystemTime,
) {
    let Some(backlog) = backlog else {
        return;
    };
    let mut queues: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
    queues.push(ANY_CHANNEL);
    for q in &backlog.queues {
        if !queues.contains(&q.queue.as_str()) {
            queues.push(&q.queue);
        }
    }
    let rows: Vec<(String, u64, u64)> = queues
        .iter()
        .map(|q| {
            let (depth, age) = backlog.queue(q, now);
            (label(q), depth, age.map_or(0, |a| a.as_secs()))
        })
        .collect();
    family(
        out,
        "smppd_queue_depth",
        "gauge",
        "Messages waiting to be sent (in flight included) per channel they are pinned to; channel=\"*\": any channel may send them.",
    );
    for (q, depth, _) in &rows {
        let _ = writeln!(out, "smppd_queue_depth{{channel=\"{q}\"}} {depth}");
    }
    family(
        out,
        "smppd_queue_oldest_age_seconds",
        "gauge",
        "Seconds since the oldest waiting message of the queue was accepted; 0 when it is empty.",
    );
    for (q, _, age) in &rows {
        let _ = writeln!(
            out,
            "smppd_queue_oldest_age_seconds{{channel=\"{q}\"}} {age}"
        );
    }
    family(
        out,
        "smppd_webhook_oldest_event_age_seconds",
        "gauge",
        "Seconds since the oldest webhook event in the outbox was queued; 0 when it is empty.",
    );
    let age = backlog.oldest_event_age(now).map_or(0, |a| a.as_secs());
    let _ = writeln!(out, "smppd_webhook_oldest_event_age_seconds {age}");
}
