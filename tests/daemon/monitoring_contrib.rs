//! The monitoring files in `contrib/` against the real daemon: `smppd simulate` serves mutual
//! TLS with the committed dev PKI, `smppd run` binds one channel to it (and fails to set up
//! a second one with a wrong keystore password), a message goes through with its receipt to
//! a webhook, then `/metrics` is scraped. Every metric that an alert rule or a dashboard
//! expression names must be there with at least one sample, and so must each new family
//! with its labels; `GET /v1/channels` reports the same facts.

use crate::support::daemon::{http, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use smppd::daemon::api::BACKLOG_TTL;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// Every `smppd_*` name in `text`, histogram series reduced to their family.
fn metric_names(text: &str, into: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = text[at..].find("smppd_") {
        let start = at + found;
        let end = bytes[start..]
            .iter()
            .position(|b| !(b.is_ascii_lowercase() || *b == b'_'))
            .map_or(bytes.len(), |n| start + n);
        let name = &text[start..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        into.insert(family.to_string());
        at = end;
    }
}

/// The metric names the alert rules' expressions use.
fn alert_rule_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo("contrib/prometheus/smppd-alerts.yml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("the rules are YAML");
    let mut names = BTreeSet::new();
    let groups = doc["groups"].as_sequence().expect("groups");
    let mut alerts = 0;
    for group in groups {
        for rule in group["rules"].as_sequence().expect("rules") {
            let expr = rule["expr"].as_str().expect("every rule has an expr");
            assert!(rule["alert"].as_str().is_some(), "{rule:?}");
            metric_names(expr, &mut names);
            alerts += 1;
        }
    }
    assert_eq!(alerts, 5, "the five alerts docs/operations.md describes");
    names
}

/// Every `expr` in the dashboard, and the queries of its variables.
fn dashboard_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo("contrib/grafana/smppd.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the dashboard is valid JSON");
    assert_eq!(doc["title"], "smppd");
    let mut exprs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(&doc, &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut names = BTreeSet::new();
    for expr in &exprs {
        metric_names(expr, &mut names);
    }
    names
}

/// The sample lines of an exposition, by family (histogram suffixes removed).
fn exposed(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let series = line.split(['{', ' ']).next().unwrap_or_default();
        metric_names(series, &mut names);
    }
    names
}

/// `GET path` as plain text (the metrics are not JSON).
fn get_text(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// Polls `f` until it gives `Some`, or fails after the hang guard.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "hang guard: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A webhook receiver that answers 204 to everything.
fn webhook() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route("/hook", post(|| async { StatusCode::NO_CONTENT }));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = axum::serve(listener, app).await;
        });
    });
    addr
}

fn channel(name: &str, port: u16, file_password: &str) -> String {
    format!(
        "[channel-{name}]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {port}\n\
         x-smpp-system-id = \"esme\"\npassword = \"secret\"\nx-smpp-submit-max-rate = 0\n\
         x-smpp-tls-mode = \"mutual\"\nx-smpp-tls-version = \"1.2\"\n\
         x-smpp-tls-path-to-certificate = \"{}\"\n\
         x-smpp-tls-certificate-file-password = \"{file_password}\"\n",
        repo("certs/dev/client.p12")
    )
}

#[test]
fn every_metric_of_the_alert_rules_and_the_dashboard_is_exposed() {
    let rules = alert_rule_metrics();
    let dashboard = dashboard_metrics();
    assert!(rules.contains("smppd_tls_certificate_not_after_seconds"));
    assert!(dashboard.contains("smppd_queue_depth"));

    let simulator = Daemon::spawn(&[
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--account",
        "esme:secret",
        "--tls-cert",
        &repo("certs/dev/server-chain.pem"),
        "--tls-key",
        &repo("certs/dev/server.key"),
        "--client-ca",
        &repo("certs/dev/ca.pem"),
    ]);
    let smsc: SocketAddr = eventually("the simulator's listening line", || {
        let lines = simulator.stdout.lock().unwrap();
        let first = lines.first()?;
        first.split_whitespace().nth(1)?.parse().ok()
    });
    let hook = webhook();
    let dir = TempDir::new("monitoring");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}\n{}\n[http]\nlisten = \"127.0.0.1:0\"\n[webhook]\nurl = \"http://{hook}/hook\"\n",
            channel("alpha", smsc.port(), "changeit"),
            channel("broken", smsc.port(), "not-the-password"),
        ),
    );
    let daemon = Daemon::run(&config);
    let api = daemon.api();
    daemon.wait_event("bound", |e| {
        e["event"] == "bound" && e["channel"] == "alpha"
    });

    let (status, accepted) = http(
        api,
        "POST",
        "/v1/messages",
        Some(r#"{"to":"447700900123","text":"monitoring","channel":"alpha"}"#),
    );
    assert_eq!(status, 202, "{accepted}");
    // The receipt's webhook event delivered: latency, responses and the webhook counters
    // all have samples now.
    eventually("a delivered webhook event", || {
        let text = get_text(api, "/metrics");
        text.lines()
            .any(|l| l == "smppd_webhook_delivered_total 1")
            .then_some(())
    });
    // The queues are read from the store at most once per BACKLOG_TTL: let the reading
    // taken while the message waited expire.
    std::thread::sleep(BACKLOG_TTL + Duration::from_millis(100));
    let metrics = get_text(api, "/metrics");

    let exposed = exposed(&metrics);
    for name in rules.iter().chain(&dashboard) {
        assert!(
            exposed.contains(name),
            "{name} is named in contrib/ but /metrics has no sample of it:\n{metrics}"
        );
    }
    for series in [
        "smppd_channel_failures_total{channel=\"broken\",code=\"43010\"} 1",
        "smppd_channel_failures_total{channel=\"broken\",code=\"42403\"} 1",
        "smppd_channel_failures_total{channel=\"alpha\",code=\"43009\"} 0",
        "smppd_queue_depth{channel=\"alpha\"} 0",
        "smppd_queue_depth{channel=\"*\"} 0",
        "smppd_webhook_backlog 0",
        "smppd_webhook_oldest_event_age_seconds 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "no {series}:\n{metrics}"
        );
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("smppd_channel_seconds_since_bind{channel=\"alpha\"} ")),
        "{metrics}"
    );
    assert!(
        !metrics.contains("smppd_channel_seconds_since_bind{channel=\"broken\"}"),
        "a channel never bound has no such series:\n{metrics}"
    );
    // The dev PKI: our client certificate and its CA from client.p12, and the simulator's
    // server certificate from the handshake; valid until 2126.
    for (role, subject) in [
        ("own", "CN=smppd dev client"),
        ("ca", "CN=smppd dev CA"),
        ("peer", "CN=localhost"),
    ] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("smppd_tls_certificate_not_after_seconds{channel=\"alpha\"")
                    && l.contains(&format!("role=\"{role}\""))
                    && l.contains(subject)
            })
            .unwrap_or_else(|| panic!("no {role} certificate {subject}:\n{metrics}"));
        let not_after: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(not_after > 4_900_000_000.0, "{line}");
    }

    let (status, body) = http(api, "GET", "/v1/channels", None);
    assert_eq!(status, 200, "{body}");
    let alpha = &body["channels"][0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["queue"]["depth"], 0, "{alpha}");
    assert!(alpha["queue"]["oldest_age_seconds"].is_null(), "{alpha}");
    assert!(alpha["seconds_since_bind"].is_u64(), "{alpha}");
    let roles: Vec<&str> = alpha["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["role"].as_str())
        .collect();
    assert_eq!(roles, ["own", "ca", "peer"], "{alpha}");
    let own = &alpha["certificates"][0];
    assert!(
        own["not_after"].as_str().unwrap().starts_with("2126-"),
        "{own}"
    );
    assert!(
        own["seconds_left"].as_i64().unwrap() > 3_000_000_000,
        "{own}"
    );
    let broken = &body["channels"][1];
    assert!(broken["seconds_since_bind"].is_null(), "{broken}");
    assert_eq!(broken["certificates"], Value::Array(Vec::new()), "{broken}");
    assert_eq!(body["webhook"]["backlog"], 0, "{body}");
    assert!(
        body["webhook"]["oldest_event_age_seconds"].is_null(),
        "{body}"
    );
    assert_eq!(body["any_channel_queue"]["depth"], 0, "{body}");
}
