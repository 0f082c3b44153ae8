//! Structured logs: one event per line, JSON for machines and text for people.
//!
//! JSON is chosen when stdout is not a terminal (under systemd, logs go to the journal and
//! `journalctl -u smppd -o cat | jq 'select(.code==43009)'` must work) or when asked with
//! `--log-format json`. Event fields are flattened to the top level next to `timestamp`,
//! `level` and `message`, so `code`, `channel`, `event`, `reason`, `phase`, `attempt` and
//! `retry_in_ms` are plain JSON keys.

use std::io::IsTerminal;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

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
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
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
            tracing::debug!("filtered out");
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
    fn bad_filter_is_reported() {
        let err = subscriber(LogFormat::Text, "smppd=loud", std::io::sink)
            .err()
            .unwrap();
        assert!(err.to_string().contains("smppd=loud"));
    }
}
