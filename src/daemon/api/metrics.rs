//! `/metrics`: the Prometheus text exposition format (version 0.0.4), written by hand.
//!
//! Channel state, counters and window come from the engine's snapshot at scrape time.
//! Submit responses by status and the submit latency histogram are recorded here as the
//! engine reports outcomes, because they are facts about messages the API accepted. The
//! families alerting relies on (failures by code, time since bind, certificate expiry,
//! queue and outbox age) are written by the `alerting` module, the SMPP server's by the
//! `smpp` module.

mod alerting;
mod smpp;

pub(crate) use smpp::SmppStats;

use crate::build_info;
use crate::daemon::engine::ChannelSnapshot;
use crate::daemon::store::{Backlog, LiveCounts};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Adds the label `node="NODE"` to every sample of `text` (several nodes sharing one store
/// scrape into one Prometheus: the label tells their series apart). Node names are
/// `[A-Za-z0-9._-]`, so they need no escaping.
pub(crate) fn label_node(text: &str, node: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.lines().count() * (node.len() + 10));
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            out.push_str(line);
        } else if let Some(open) = line.find('{') {
            let (name, rest) = line.split_at(open + 1);
            out.push_str(name);
            let _ = write!(out, "node=\"{node}\"");
            if !rest.starts_with('}') {
                out.push(',');
            }
            out.push_str(rest);
        } else if let Some(space) = line.find(' ') {
            let (name, rest) = line.split_at(space);
            let _ = write!(out, "{name}{{node=\"{node}\"}}{rest}");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Upper bounds (seconds) of the latency histogram's buckets; `+Inf` is implied. They span a
/// local simulator (milliseconds) to a throttled SMSC (tens of seconds).
pub(crate) const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A fixed-bucket histogram. Counts are kept per bucket and made cumulative when written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Histogram {
    /// Observations per bucket; the last slot is the overflow (`+Inf` only).
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    /// Adds one observation.
    pub(crate) fn observe(&mut self, value: Duration) {
        let secs = value.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += secs;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.counts[i];
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct PerChannel {
    /// Responses by command_status ("0x00000000") or "none" for local failures.
    responses: BTreeMap<String, u64>,
    latency: Histogram,
}

/// What the webhook sender reports for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Events waiting (including the one being sent).
    pub queued: u64,
    /// Events delivered with a 2xx answer.
    pub delivered: u64,
    /// POST attempts that failed (non-2xx, timeout, connection error).
    pub failed_attempts: u64,
}

/// The metrics the API records itself.
#[derive(Debug, Default)]
pub struct Metrics {
    channels: Mutex<BTreeMap<String, PerChannel>>,
}

/// Escapes a label value as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family of one unlabelled sample.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// `smppd_build_info{version,commit,features} 1`: what the running binary was built from, as
/// labels to join other series on (the usual Prometheus `_build_info` shape).
fn build_info_family(out: &mut String) {
    family(
        out,
        "smppd_build_info",
        "gauge",
        "The running build: version, git commit and cargo features, as labels; always 1.",
    );
    let _ = writeln!(
        out,
        "smppd_build_info{{version=\"{}\",commit=\"{}\",features=\"{}\"}} 1",
        label(build_info::VERSION),
        label(build_info::COMMIT),
        label(build_info::FEATURES)
    );
}

impl Metrics {
    /// Records a submit outcome: `status` is the submit_sm_resp command_status, `None` for a
    /// failure without a response; `latency` runs from acceptance by the API.
    pub fn record_response(&self, channel: &str, status: Option<u32>, latency: Duration) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let entry = channels.entry(channel.to_string()).or_default();
        let key = status.map_or_else(|| "none".to_string(), |s| format!("0x{s:08x}"));
        *entry.responses.entry(key).or_default() += 1;
        if status == Some(0) {
            entry.latency.observe(latency);
        }
    }

    /// The whole exposition text. `backlog` is `None` when the store could not be read:
    /// the queue families are left out rather than reported as empty.
    pub fn render(
        &self,
        channels: &[ChannelSnapshot],
        store: LiveCounts,
        resends: u64,
        webhook: Option<WebhookStats>,
        backlog: Option<&Backlog>,
        now: SystemTime,
    ) -> String {
        let mut out = String::new();
        build_info_family(&mut out);
        let names: Vec<String> = channels.iter().map(|c| label(&c.name)).collect();

        family(
            &mut out,
            "smppd_channel_up",
            "gauge",
            "1 when the channel is bound, else 0.",
        );
        for (c, n) in channels.iter().zip(&names) {
            let _ = writeln!(
                out,
                "smppd_channel_up{{channel=\"{n}\"}} {}",
                u8::from(c.bound)
            );
        }
        family(
            &mut out,
            "smppd_channel_state",
            "gauge",
            "The channel's current state, as a label; always 1.",
        );
        for (c, n) in channels.iter().zip(&names) {
            // A word or phrase of the crate's own: nothing in it to escape.
            let state = c.state;
            let _ = writeln!(
                out,
                "smppd_channel_state{{channel=\"{n}\",state=\"{state}\"}} 1"
            );
        }
        type Pick = fn(&ChannelSnapshot) -> u64;
        let counters: [(&str, &str, Pick); 6] = [
            (
                "smppd_submits_total",
                "submit_sm PDUs sent, re-sends included.",
                |c| c.counters.submitted,
            ),
            (
                "smppd_submits_acknowledged_total",
                "submit_sm_resp with status 0.",
                |c| c.counters.acknowledged,
            ),
            (
                "smppd_submits_failed_total",
                "submit_sm that failed (error status, timeout, lost link).",
                |c| c.counters.failed,
            ),
            (
                "smppd_resends_total",
                "submit_sm sent again after a throttle or a lost link.",
                |c| c.counters.resent,
            ),
            (
                "smppd_inbound_total",
                "Inbound messages (deliver_sm that are not receipts).",
                |c| c.counters.received,
            ),
            ("smppd_receipts_total", "Delivery receipts received.", |c| {
                c.counters.receipts
            }),
        ];
        for (name, help, pick) in counters {
            family(&mut out, name, "counter", help);
            for (c, n) in channels.iter().zip(&names) {
                let _ = writeln!(out, "{name}{{channel=\"{n}\"}} {}", pick(c));
            }
        }
        let windows: [(&str, &str, Pick); 2] = [
            (
                "smppd_window_in_use",
                "Requests awaiting their response.",
                |c| u64::from(c.counters.window_in_use),
            ),
            ("smppd_window_size", "The configured submit window.", |c| {
                u64::from(c.counters.window_size)
            }),
        ];
        for (name, help, pick) in windows {
            family(&mut out, name, "gauge", help);
            for (c, n) in channels.iter().zip(&names) {
                let _ = writeln!(out, "{name}{{channel=\"{n}\"}} {}", pick(c));
            }
        }

        alerting::channel_families(&mut out, channels);
        alerting::certificate_family(&mut out, channels);

        let recorded = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        family(
            &mut out,
            "smppd_submit_responses_total",
            "counter",
            "Outcomes of accepted messages' segments by command_status (\"none\": no response).",
        );
        for (channel, m) in recorded.iter() {
            for (status, count) in &m.responses {
                let _ = writeln!(
                    out,
                    "smppd_submit_responses_total{{channel=\"{}\",status=\"{status}\"}} {count}",
                    label(channel)
                );
            }
        }
        family(
            &mut out,
            "smppd_submit_latency_seconds",
            "histogram",
            "Time from acceptance by the API to each segment's successful submit_sm_resp.",
        );
        for (channel, m) in recorded.iter() {
            m.latency.write(
                &mut out,
                "smppd_submit_latency_seconds",
                &format!("channel=\"{}\"", label(channel)),
            );
        }
        drop(recorded);

        scalar(
            &mut out,
            "smppd_messages_tracked",
            "gauge",
            "Messages accepted and waiting to be sent (on disk).",
            store.waiting,
        );
        scalar(
            &mut out,
            "smppd_resends",
            "counter",
            "Segments sent again because an earlier run or a stopped channel may have sent them already (at-least-once).",
            resends,
        );
        scalar(
            &mut out,
            "smppd_store_commits_total",
            "counter",
            "Store transactions committed.",
            store.commits,
        );
        scalar(
            &mut out,
            "smppd_store_syncs_total",
            "counter",
            "Syncs to disk of the store's log; each makes every commit before it durable.",
            store.syncs,
        );
        scalar(
            &mut out,
            "smppd_store_grouped_calls_total",
            "counter",
            "Store calls carried by those transactions (group commit).",
            store.grouped_calls,
        );
        alerting::backlog_families(&mut out, channels, backlog, now);
        scalar(
            &mut out,
            "smppd_webhook_backlog",
            "gauge",
            "Webhook events in the outbox (the same count as smppd_webhook_queued, also without a webhook).",
            store.outbox,
        );
        if let Some(w) = webhook {
            scalar(
                &mut out,
                "smppd_webhook_queued",
                "gauge",
                "Webhook events waiting in the outbox.",
                w.queued,
            );
            scalar(
                &mut out,
                "smppd_webhook_delivered_total",
                "counter",
                "Webhook events answered with 2xx.",
                w.delivered,
            );
            scalar(
                &mut out,
                "smppd_webhook_failed_attempts_total",
                "counter",
                "Webhook POSTs that failed and will be retried.",
                w.failed_attempts,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests;
