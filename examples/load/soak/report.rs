//! The markdown report of `load soak`.

use std::collections::BTreeMap;

use super::ledger::Ledger;
use super::load::Sent;
use super::receiver::Received;
use super::resources::{Resources, Sample};
use super::verify::Verdict;
use super::{ENQUIRE_LINK_MS, RESPONSE_WAIT_MS, WEBHOOK_TIMEOUT_MS};

/// Everything a run found.
pub struct Report<'a> {
    pub minutes: u64,
    pub seed: u64,
    pub rate: u64,
    pub window: usize,
    pub load_s: f64,
    pub drain_s: f64,
    pub drain_limit_s: u64,
    pub drained: bool,
    pub sent: &'a Sent,
    pub verdict: &'a Verdict,
    pub ledger: &'a Ledger,
    pub received: &'a Received,
    /// Receipt gaps explained by the id the daemon kept, and those not explained.
    pub explained: u64,
    pub unexplained: &'a [String],
    /// SMSC ids reported unmatched although the daemon holds them for their segment.
    pub unmatched_known: &'a [String],
    pub faults: &'a BTreeMap<String, u64>,
    pub flaps: &'a BTreeMap<&'static str, u64>,
    pub simulators: u32,
    /// The daemon's log lines by event.
    pub log: &'a BTreeMap<String, u64>,
    pub resources: &'a Resources,
    /// `smppd_messages_tracked` and `smppd_webhook_queued` at the end.
    pub waiting_at_end: Option<(u64, u64)>,
    /// Whether the daemon stopped cleanly on SIGTERM, and how it ended.
    pub stopped: &'a (bool, String),
    pub reproduce: &'a str,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Report<'_> {
    /// Prints the report, ending with `failures` (or that there were none).
    pub fn print(&self, failures: &[String]) {
        let (v, l, r) = (self.verdict, self.ledger, self.received);
        println!(
            "\n### Fault soak: {} minutes, seed {}\n",
            self.minutes, self.seed
        );
        println!(
            "`smppd run` (release build, durable store in a temporary directory) with one \
             plain-TCP channel (window {}, no rate cap, receipts requested, enquire_link after \
             {ENQUIRE_LINK_MS} ms idle, responses awaited {RESPONSE_WAIT_MS} ms, reconnect \
             back-off up to 10 s) and a `[webhook]` to a receiver in the load tool (timeout \
             {WEBHOOK_TIMEOUT_MS} ms); {} msg/s offered through `POST /v1/messages` for {:.0} s \
             with faults injected; then a healthy SMSC and receiver, drained in {:.0} s.\n",
            self.window, self.rate, self.load_s, self.drain_s
        );
        let refused: u64 = self.sent.refused.values().sum();
        let rows: Vec<(String, String)> =
            vec![
            ("messages offered".into(), self.sent.accepted.len().to_string()),
            (
                "… by text".into(),
                self.sent
                    .kinds
                    .iter()
                    .map(|(kind, n)| format!("{kind}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "accepted (202)".into(),
                format!("{} ({} segments)", v.accepted, v.segments_accepted),
            ),
            (
                "refused (non-202) / no answer from the API".into(),
                format!("{refused} {:?} / {}", self.sent.refused, self.sent.unanswered),
            ),
            (
                "segments accepted by the SMSC (distinct)".into(),
                v.delivered_segments.to_string(),
            ),
            (
                "**accepted messages missing at the SMSC** (any segment)".into(),
                format!("**{}**", v.missing.len()),
            ),
            (
                "**messages whose text arrived changed**".into(),
                format!("**{}**", v.garbled.len() as u64 + l.differing_copies),
            ),
            (
                "duplicate submit_sm accepted by the SMSC".into(),
                format!(
                    "{} ({:.3} % of segments)",
                    v.duplicates,
                    100.0 * v.duplicates as f64 / v.delivered_segments.max(1) as f64
                ),
            ),
            (
                format!(
                    "… links they were re-sent after / most from one link (window {})",
                    self.window
                ),
                format!(
                    "{} / {}",
                    v.blamed.len(),
                    v.blamed.values().copied().max().unwrap_or(0)
                ),
            ),
            (
                "submit_sm at the SMSC by outcome".into(),
                format!("{:?}", l.outcomes),
            ),
            (
                "receipts acknowledged to the SMSC (distinct SMSC ids)".into(),
                v.receipts_acked.to_string(),
            ),
            (
                "**… missing at the webhook**".into(),
                format!("**{}**", v.receipts_missing.len()),
            ),
            (
                "… webhook events matched to their API message id and segment / unmatched / \
                 **wrong**"
                    .into(),
                format!(
                    "{} / {} / **{}**",
                    v.receipts_matched,
                    v.receipts_unmatched,
                    v.receipts_wrong.len()
                ),
            ),
            (
                "… SMSC ids reported unmatched: the daemon never learnt them (answer lost with \
                 a link) / **it holds them**"
                    .into(),
                format!(
                    "{} / **{}**",
                    v.unmatched_ids.len() - self.unmatched_known.len(),
                    self.unmatched_known.len()
                ),
            ),
            (
                "segments with a receipt acknowledged / with a receipt event under their API id"
                    .into(),
                format!("{} / {}", v.segments_receipted, v.segments_receipted_by_id),
            ),
            (
                "… the rest: the SMSC id the daemon kept was never receipted / **unexplained**"
                    .into(),
                format!("{} / **{}**", self.explained, self.unexplained.len()),
            ),
            (
                "segments whose receipt the SMSC never had acknowledged (the simulator was \
                 stopped first)"
                    .into(),
                v.segments_without_receipt.to_string(),
            ),
            (
                "receipt deliver_sm sent by the SMSC / refused by the daemon".into(),
                format!("{} / {}", l.receipts_sent, l.receipts_refused),
            ),
            (
                "MO sent by the SMSC / acknowledged / refused".into(),
                format!("{} / {} / {}", l.mo_sent, v.mo_acked, l.mo_refused),
            ),
            (
                "**MO acknowledged but missing at the webhook**".into(),
                format!("**{}**", v.mo_missing.len()),
            ),
            (
                "webhook POSTs / answered 2xx / distinct events / repeats dropped by event_id"
                    .into(),
                format!(
                    "{} / {} / {} / {}",
                    r.posts,
                    r.accepted,
                    r.distinct(),
                    r.repeated
                ),
            ),
            ("expired events".into(), r.expired.len().to_string()),
            (
                "numbers the SMSC got without a 202 (answer lost)".into(),
                v.unconfirmed_at_smsc.to_string(),
            ),
            (
                "waiting to be sent / webhook outbox, at the end".into(),
                self.waiting_at_end
                    .map_or("no answer".into(), |(w, o)| format!("{w} / {o}")),
            ),
        ];
        println!("| | count |");
        println!("|---|---:|");
        for (what, n) in rows {
            println!("| {what} | {n} |");
        }

        println!(
            "\nFaults injected ({} simulator processes, {} binds):\n",
            self.simulators, l.binds
        );
        println!("| fault | times |");
        println!("|---|---:|");
        for (kind, n) in self.faults {
            println!("| SMSC: {kind} | {n} |");
        }
        for (mode, n) in self.flaps {
            println!("| webhook: {mode} | {n} |");
        }
        println!(
            "\nSMSC connections by how they ended (a killed process records none): {:?}\n",
            l.closes
        );
        let notable: Vec<String> = self
            .log
            .iter()
            .filter(|(k, _)| {
                k.starts_with("channel_failure:")
                    || [
                        "bound",
                        "unbound_by_smsc",
                        "submit_timeout",
                        "webhook_failed",
                        "malformed_pdu",
                        "receipt_unmatched",
                        "inbound_deferred",
                    ]
                    .contains(&k.as_str())
            })
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("Daemon log events: {}\n", notable.join(", "));

        let res = self.resources;
        let [start, middle, end] = [res.start, res.middle, res.end].map(|s| s.unwrap_or_default());
        let peak = res.peak;
        println!(
            "Daemon resources (VmRSS from `/proc/PID/status`, descriptors from `/proc/PID/fd`; \
             the end sample is taken after the drain, once the load's HTTP connections \
             closed):\n"
        );
        println!(
            "| | start ({:.0} s) | middle ({:.0} s) | end ({:.0} s) | max of {} samples |",
            start.at_s, middle.at_s, end.at_s, res.count
        );
        println!("|---|---:|---:|---:|---:|");
        let row = |name: &str, f: &dyn Fn(&Sample) -> String| {
            println!(
                "| {name} | {} | {} | {} | {} |",
                f(&start),
                f(&middle),
                f(&end),
                f(&peak)
            )
        };
        row("VmRSS MiB", &|s| format!("{:.1}", mib(s.rss_kib)));
        row("open descriptors", &|s| s.fds().to_string());
        row("… sockets", &|s| s.sockets.to_string());
        row("… files, pipes and others", &|s| s.other_fds.to_string());

        if failures.is_empty() {
            println!(
                "\n**Nothing missing.** The daemon stopped cleanly: {}.",
                self.stopped.1
            );
        } else {
            println!("\n**FAILED:**\n");
            for f in failures {
                println!("- {f}");
            }
        }
        println!("\nReproduce: `{}`", self.reproduce);
    }
}
