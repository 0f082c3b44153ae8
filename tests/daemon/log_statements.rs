//! Every log statement in `src/` names its `event`, and those in the layers that work for one
//! channel (session, supervisor, the daemon's per-channel tasks) name the `channel` too: the
//! sources are read, so a statement on a path no other test reaches is checked as well.

use std::path::{Path, PathBuf};

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// Files whose every log line concerns one channel.
const PER_CHANNEL: [&str; 8] = [
    "src/session/",
    "src/supervisor/",
    "src/daemon/channels.rs",
    "src/daemon/feeder.rs",
    "src/daemon/sink.rs",
    "src/daemon/dispatch.rs",
    "src/daemon/gateway.rs",
    "src/daemon/router.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The log macro invocations in `text`: (line number, the invocation's text).
fn invocations(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for level in LEVELS {
        let needle = format!("{level}!");
        let mut from = 0;
        while let Some(at) = text[from..].find(&needle).map(|i| i + from) {
            from = at + needle.len();
            // A whole identifier (not `eprintln!`-like suffixes or `my_debug!`).
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut i = from;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if bytes.get(i) != Some(&b'(') {
                continue;
            }
            let mut depth = 0usize;
            let mut end = i;
            for (j, b) in bytes.iter().enumerate().skip(i) {
                match b {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let line = text[..at].matches('\n').count() + 1;
            found.push((line, text[at..=end].to_owned()));
        }
    }
    found
}

/// Whether the invocation logs for another crate (`target: "hyper_util::..."`), as the
/// logging module's own tests do.
fn foreign_target(call: &str) -> bool {
    call.contains("target:") && !call.contains("target: \"smppd")
}

fn names_field(call: &str, field: &str) -> bool {
    let compact: String = call.split_whitespace().collect::<Vec<_>>().join(" ");
    [" =", ",", ")"]
        .iter()
        .any(|after| compact.contains(&format!("{field}{after}")))
}

#[test]
fn every_log_statement_names_its_event_and_channel_statements_their_channel() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let per_channel = PER_CHANNEL.iter().any(|p| relative.starts_with(p));
        for (line, call) in invocations(&text) {
            if foreign_target(&call) {
                continue;
            }
            seen += 1;
            if !names_field(&call, "event") {
                problems.push(format!("{relative}:{line}: no `event`: {call}"));
            }
            if per_channel && !names_field(&call, "channel") {
                problems.push(format!("{relative}:{line}: no `channel`: {call}"));
            }
        }
    }
    assert!(seen > 50, "the scan found only {seen} log statements");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_finds_what_it_should() {
    let text = "fn f() {\n    tracing::warn!(error = %e, \"no event\");\n    \
                info!(event = \"x\", channel, \"ok\");\n    eprintln!(\"not a log\");\n}\n";
    let calls = invocations(text);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let warn = calls.iter().find(|(_, c)| c.starts_with("warn!")).unwrap();
    assert_eq!(warn.0, 2);
    assert!(!names_field(&warn.1, "event"));
    let info = calls.iter().find(|(_, c)| c.starts_with("info!")).unwrap();
    assert!(names_field(&info.1, "event") && names_field(&info.1, "channel"));
    assert!(foreign_target(
        "debug!(target: \"hyper_util::client\", \"connecting\")"
    ));
}
