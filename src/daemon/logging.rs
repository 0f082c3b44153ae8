//! Structured logs: one event per line, JSON for machines and text for people.
//!
//! JSON is chosen when stdout is not a terminal (under systemd, logs go to the journal and
//! `journalctl -u smppd -o cat | jq 'select(.code==43009)'` must work) or when asked with
//! `--log-format json`. Event fields are flattened to the top level next to `timestamp`,
//! `level` and `message`, so `code`, `channel`, `event`, `reason`, `phase`, `attempt` and
//! `retry_in_ms` are plain JSON keys.
//!
//! Every line has an `event`: each of smppd's own log statements names one (a test reads the
//! sources to keep it so), and lines from the libraries underneath (the HTTP client and
//! server, at debug level) get `event` `library` and their `target`.
//!
//! A namespace of its own under `daemon`: the command line sets logging up before the daemon
//! runs, and its functions read with the module's name (`logging::init`).

use std::io::IsTerminal;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The `event` of a line logged by a library rather than by smppd.
pub const LIBRARY_EVENT: &str = "library";

/// The fields of one event, in the order they were recorded.
#[derive(Default)]
struct Fields {
    list: Vec<(&'static str, Value)>,
    message: Option<String>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.list.push((field.name(), value));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text);
        } else {
            self.push(field, Value::String(text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.push(field, Value::String(value.to_owned()));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }
}

/// One JSON object per line: `timestamp`, `level`, the event's fields in order, `message`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line: Vec<(&str, Value)> = vec![
            ("timestamp", Value::String(timestamp)),
            ("level", Value::String(meta.level().as_str().to_owned())),
        ];
        let named = fields.list.iter().any(|(name, _)| *name == "event");
        line.extend(fields.list);
        // A library's line: say so, and whose it is. smppd's own lines are left alone, so
        // that a statement without `event` shows in the tests instead of being papered over.
        if !named && !is_ours(meta.target()) {
            line.push(("event", Value::String(LIBRARY_EVENT.to_owned())));
            line.push(("target", Value::String(meta.target().to_owned())));
        }
        if let Some(message) = fields.message {
            line.push(("message", Value::String(message)));
        }
        writer.write_char('{')?;
        for (i, (key, value)) in line.iter().enumerate() {
            if i > 0 {
                writer.write_char(',')?;
            }
            write!(writer, "{}:{value}", Value::String((*key).to_owned()))?;
        }
        writer.write_str("}\n")
    }
}

/// Whether a log target is smppd's own (the library's modules and the binary's).
fn is_ours(target: &str) -> bool {
    target == "smppd" || target.starts_with("smppd::")
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Readable text, for a terminal.
    Text,
}

impl LogFormat {
    /// The format asked for, or JSON unless stdout is a terminal.
    pub fn choose(asked: Option<LogFormat>) -> LogFormat {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            }
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter (from `--log-level` or `RUST_LOG`) does not parse.
    #[error("invalid log filter {filter:?}: {message}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// The parser's complaint.
        message: String,
    },
    /// A global subscriber was already installed.
    #[error("logging was already initialised")]
    AlreadySet,
}

/// Builds the subscriber for `format`, writing to `writer`, keeping events that `filter`
/// (an `EnvFilter` directive such as `info` or `smppd=debug`) lets through.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Result<Box<dyn tracing::Subscriber + Send + Sync>, LoggingError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let env_filter = EnvFilter::try_new(filter).map_err(|e| LoggingError::Filter {
        filter: filter.to_string(),
        message: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(writer)
        .with_target(false);
    Ok(match format {
        LogFormat::Json => Box::new(builder.event_format(JsonLines).finish()),
        LogFormat::Text => Box::new(builder.with_ansi(std::io::stdout().is_terminal()).finish()),
    })
}

/// Installs the process-wide subscriber writing to stdout.
pub fn init(format: LogFormat, filter: &str) -> Result<(), LoggingError> {
    let subscriber = subscriber(format, filter, std::io::stdout)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LoggingError::AlreadySet)
}

/// An in-memory log sink, for tests that assert on what was logged.
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::fmt::Debug for CapturedLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("CapturedLogs").finish_non_exhaustive()
    }
}

impl CapturedLogs {
    /// Everything written so far, as text.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_flat_fields() {
        let logs = CapturedLogs::default();
        let sub = subscriber(LogFormat::Json, "info", logs.clone()).unwrap();
        tracing::subscriber::with_default(sub, || {
            tracing::error!(
                code = 43009u32,
                channel = "opensmpp",
                event = "bind_failed",
                reason = "connect_refused",
                "failed to send bind request"
            );
            tracing::debug!(event = "test", "filtered out");
        });
        let out = logs.contents();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["code"], 43009);
        assert_eq!(v["channel"], "opensmpp");
        assert_eq!(v["event"], "bind_failed");
        assert_eq!(v["reason"], "connect_refused");
        assert_eq!(v["message"], "failed to send bind request");
        assert_eq!(v["level"], "ERROR");
        assert!(v["timestamp"].is_string());
    }

    #[test]
    fn every_json_line_has_an_event_and_library_lines_say_whose_they_are() {
        let logs = CapturedLogs::default();
        let sub = subscriber(LogFormat::Json, "debug", logs.clone()).unwrap();
        tracing::subscriber::with_default(sub, || {
            // What hyper-util's client logs while it connects.
            tracing::debug!(target: "hyper_util::client::legacy::connect::http", "connecting to 127.0.0.1:8080");
            tracing::info!(
                channel = "opensmpp",
                event = "bound",
                attempt = 3u32,
                ok = true,
                detail = %"a \"quoted\" detail",
                "bound to the SMSC"
            );
        });
        let out = logs.contents();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert_eq!(lines[0]["event"], LIBRARY_EVENT);
        assert_eq!(
            lines[0]["target"],
            "hyper_util::client::legacy::connect::http"
        );
        assert_eq!(lines[0]["message"], "connecting to 127.0.0.1:8080");
        assert_eq!(lines[0]["level"], "DEBUG");
        assert_eq!(lines[1]["event"], "bound");
        assert_eq!(lines[1]["channel"], "opensmpp");
        assert_eq!(lines[1]["attempt"], 3);
        assert_eq!(lines[1]["ok"], true);
        assert_eq!(lines[1]["detail"], "a \"quoted\" detail");
        assert!(lines[1].get("target").is_none(), "{}", lines[1]);
        // A line of smppd's own without `event` is not papered over.
        assert!(!is_ours("hyper_util::client"));
        assert!(is_ours("smppd::session::driver") && is_ours("smppd"));
        assert!(!is_ours("smppdx"));
    }

    #[test]
    fn bad_filter_is_reported() {
        let err = subscriber(LogFormat::Text, "smppd=loud", std::io::sink)
            .err()
            .unwrap();
        assert!(err.to_string().contains("smppd=loud"));
    }
}
