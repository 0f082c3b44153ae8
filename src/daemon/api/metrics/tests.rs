//! The exposition text: families declared once, before their samples; histograms cumulative.

use super::*;
use crate::daemon::engine::{CertificateRole, CertificateStatus, ChannelCounters};
use crate::daemon::store::{Backlog, QueueBacklog};
use crate::supervisor::ChannelState;
use std::collections::HashSet;
use std::time::UNIX_EPOCH;

fn channel(name: &str, bound: bool) -> ChannelSnapshot {
    ChannelSnapshot {
        name: name.into(),
        state: if bound {
            ChannelState::Bound
        } else {
            ChannelState::BackingOff {
                delay: Duration::from_secs(4),
            }
        }
        .into(),
        bound,
        can_transmit: true,
        can_receive: true,
        last_error: None,
        counters: ChannelCounters {
            submitted: 5,
            acknowledged: 4,
            failed: 1,
            resent: 2,
            received: 3,
            receipts: 4,
            window_in_use: 1,
            window_size: 10,
        },
        seconds_since_bind: bound.then_some(30),
        failures: vec![(43009, 3), (43010, 0), (43011, 3), (42403, 0)],
        certificates: vec![
            CertificateStatus {
                role: CertificateRole::Own,
                subject: "O=x, CN=\"own\"".into(),
                not_after: 2_000_000_000,
            },
            CertificateStatus {
                role: CertificateRole::Ca,
                subject: "CN=ca".into(),
                not_after: 2_100_000_000,
            },
            // The same CA renewed: one series, the one that expires first.
            CertificateStatus {
                role: CertificateRole::Ca,
                subject: "CN=ca".into(),
                not_after: 2_050_000_000,
            },
        ],
    }
}

/// Checks the grammar the text format defines and returns (sample name with labels, value).
fn parse(text: &str) -> Vec<(String, f64)> {
    let mut typed: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap().to_string();
            assert!(
                ["counter", "gauge", "histogram"].contains(&parts.next().unwrap()),
                "{line}"
            );
            assert!(typed.insert(name), "family declared twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect(line);
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE: {line}");
        samples.push((series.to_string(), value.parse::<f64>().expect(line)));
    }
    samples
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .unwrap_or_else(|| panic!("no {series}"))
        .1
}

#[test]
fn channels_counters_and_histogram() {
    let metrics = Metrics::default();
    metrics.record_response("a", Some(0), Duration::from_millis(3));
    metrics.record_response("a", Some(0), Duration::from_millis(300));
    metrics.record_response("a", Some(0), Duration::from_secs(60));
    metrics.record_response("a", Some(0x58), Duration::from_millis(3));
    metrics.record_response("a", None, Duration::from_secs(30));
    let text = metrics.render(
        &[channel("a", true), channel("b", false)],
        crate::daemon::store::LiveCounts {
            waiting: 7,
            outbox: 1,
            commits: 4,
            grouped_calls: 9,
            syncs: 3,
        },
        5,
        Some(WebhookStats {
            queued: 1,
            delivered: 2,
            failed_attempts: 3,
        }),
        None,
        SystemTime::now(),
    );
    let s = parse(&text);
    assert_eq!(value(&s, "smppd_channel_up{channel=\"a\"}"), 1.0);
    assert_eq!(value(&s, "smppd_channel_up{channel=\"b\"}"), 0.0);
    assert_eq!(
        value(
            &s,
            "smppd_channel_state{channel=\"b\",state=\"backing off\"}"
        ),
        1.0
    );
    assert_eq!(value(&s, "smppd_resends_total{channel=\"a\"}"), 2.0);
    assert_eq!(value(&s, "smppd_window_in_use{channel=\"a\"}"), 1.0);
    assert_eq!(
        value(
            &s,
            "smppd_submit_responses_total{channel=\"a\",status=\"0x00000000\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &s,
            "smppd_submit_responses_total{channel=\"a\",status=\"0x00000058\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "smppd_submit_responses_total{channel=\"a\",status=\"none\"}"
        ),
        1.0
    );
    let bucket = |le: &str| {
        value(
            &s,
            &format!("smppd_submit_latency_seconds_bucket{{channel=\"a\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(bucket("0.005"), 1.0);
    assert_eq!(bucket("0.25"), 1.0);
    assert_eq!(bucket("0.5"), 2.0);
    assert_eq!(bucket("30"), 2.0);
    assert_eq!(bucket("+Inf"), 3.0);
    assert_eq!(
        value(&s, "smppd_submit_latency_seconds_count{channel=\"a\"}"),
        3.0
    );
    let sum = value(&s, "smppd_submit_latency_seconds_sum{channel=\"a\"}");
    assert!((sum - 60.303).abs() < 1e-9, "{sum}");
    assert_eq!(value(&s, "smppd_messages_tracked"), 7.0);
    assert_eq!(value(&s, "smppd_resends"), 5.0);
    assert_eq!(value(&s, "smppd_store_commits_total"), 4.0);
    assert_eq!(value(&s, "smppd_store_grouped_calls_total"), 9.0);
    assert_eq!(value(&s, "smppd_store_syncs_total"), 3.0);
    assert_eq!(value(&s, "smppd_webhook_failed_attempts_total"), 3.0);
    let build = format!(
        "smppd_build_info{{version=\"{}\",commit=\"{}\",features=\"{}\"}}",
        crate::build_info::VERSION,
        crate::build_info::COMMIT,
        crate::build_info::FEATURES
    );
    assert_eq!(value(&s, &build), 1.0);
}

/// Metric names are a contract with dashboards and alerts: every family the exposition can
/// hold is named in the Metrics section of docs/operations.md.
#[test]
fn readme_documents_every_family() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .expect("docs/operations.md");
    let section = doc
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a ## Metrics section in docs/operations.md");
    let metrics = Metrics::default();
    metrics.record_response("a", Some(0), Duration::from_millis(3));
    let mut text = metrics.render(
        &[channel("a", true)],
        crate::daemon::store::LiveCounts::default(),
        0,
        Some(WebhookStats::default()),
        Some(&Backlog::default()),
        SystemTime::now(),
    );
    text.push_str(&SmppStats::default().render());
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert!(families.len() > 10, "{families:?}");
    for name in families {
        assert!(
            section.contains(&format!("`{name}`")) || section.contains(&format!("`{name}{{")),
            "the Metrics section of docs/operations.md does not document {name}"
        );
    }
}

#[test]
fn alerting_families_by_code_bind_certificate_queue_and_outbox() {
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    let backlog = Backlog {
        queues: vec![
            QueueBacklog {
                queue: "*".into(),
                depth: 2,
                oldest: Some(at(1_000)),
            },
            QueueBacklog {
                queue: "a".into(),
                depth: 5,
                oldest: Some(at(1_900)),
            },
            // Pinned to a channel no longer configured: still reported.
            QueueBacklog {
                queue: "gone".into(),
                depth: 1,
                oldest: Some(at(1_999)),
            },
        ],
        outbox: 4,
        oldest_event: Some(at(1_500)),
    };
    let text = Metrics::default().render(
        &[channel("a", true), channel("b", false)],
        crate::daemon::store::LiveCounts {
            outbox: 4,
            ..Default::default()
        },
        0,
        None,
        Some(&backlog),
        at(2_000),
    );
    let s = parse(&text);
    let failures = |ch: &str, code: u32| {
        value(
            &s,
            &format!("smppd_channel_failures_total{{channel=\"{ch}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(failures("a", 43009), 3.0);
    assert_eq!(failures("a", 43011), 3.0);
    assert_eq!(failures("b", 43010), 0.0);
    assert_eq!(failures("b", 42403), 0.0);
    assert_eq!(
        value(&s, "smppd_channel_seconds_since_bind{channel=\"a\"}"),
        30.0
    );
    assert!(
        !text.contains("smppd_channel_seconds_since_bind{channel=\"b\"}"),
        "a channel never bound has no series:\n{text}"
    );
    assert_eq!(
        value(
            &s,
            "smppd_tls_certificate_not_after_seconds{channel=\"a\",subject=\"O=x, CN=\\\"own\\\"\",role=\"own\"}"
        ),
        2_000_000_000.0
    );
    let ca = "smppd_tls_certificate_not_after_seconds{channel=\"a\",subject=\"CN=ca\",role=\"ca\"}";
    assert_eq!(value(&s, ca), 2_050_000_000.0);
    assert_eq!(s.iter().filter(|(series, _)| series == ca).count(), 1);
    let queue = |family: &str, ch: &str| value(&s, &format!("{family}{{channel=\"{ch}\"}}"));
    assert_eq!(queue("smppd_queue_depth", "a"), 5.0);
    assert_eq!(queue("smppd_queue_oldest_age_seconds", "a"), 100.0);
    assert_eq!(queue("smppd_queue_depth", "b"), 0.0);
    assert_eq!(queue("smppd_queue_oldest_age_seconds", "b"), 0.0);
    assert_eq!(queue("smppd_queue_depth", "*"), 2.0);
    assert_eq!(queue("smppd_queue_oldest_age_seconds", "*"), 1_000.0);
    assert_eq!(queue("smppd_queue_depth", "gone"), 1.0);
    assert_eq!(value(&s, "smppd_webhook_backlog"), 4.0);
    assert_eq!(value(&s, "smppd_webhook_oldest_event_age_seconds"), 500.0);

    // The store could not be read: no queue series rather than empty ones.
    let text = Metrics::default().render(
        &[channel("a", true)],
        crate::daemon::store::LiveCounts::default(),
        0,
        None,
        None,
        at(2_000),
    );
    assert!(!text.contains("smppd_queue_depth{"), "{text}");
    assert!(
        !text.contains("smppd_webhook_oldest_event_age_seconds "),
        "{text}"
    );
    assert!(text.contains("smppd_webhook_backlog 0"), "{text}");
}

#[test]
fn buckets_are_cumulative_and_ordered() {
    let mut h = Histogram::default();
    for ms in [1, 7, 7, 90, 2000, 100_000] {
        h.observe(Duration::from_millis(ms));
    }
    let mut out = String::new();
    h.write(&mut out, "x", "c=\"1\"");
    let counts: Vec<u64> = out
        .lines()
        .filter(|l| l.starts_with("x_bucket"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(counts, [1, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6]);
}

#[test]
fn every_sample_gets_the_node_label_and_comments_stay() {
    let text = "# HELP a A.\n# TYPE a gauge\na 1\n# TYPE b gauge\nb{channel=\"x\"} 2\n# TYPE c gauge\nc{} 3\n# TYPE h histogram\nh_bucket{channel=\"x\",le=\"+Inf\"} 4\n";
    let labelled = label_node(text, "gw-a");
    assert_eq!(
        labelled,
        "# HELP a A.\n# TYPE a gauge\na{node=\"gw-a\"} 1\n# TYPE b gauge\nb{node=\"gw-a\",channel=\"x\"} 2\n# TYPE c gauge\nc{node=\"gw-a\"} 3\n# TYPE h histogram\nh_bucket{node=\"gw-a\",channel=\"x\",le=\"+Inf\"} 4\n"
    );
    // Still the exposition format: every sample parses.
    assert_eq!(parse(&labelled).len(), 4);
}
