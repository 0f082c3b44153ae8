//! `smppd store inspect [--config FILE]`: what the durable store holds, read-only. The
//! counting lives in `smppd::daemon::store::sqlite::inspect`, which opens the file read-only
//! and so works beside a running daemon (and `postgres::inspect` for a PostgreSQL store,
//! which only reads); this file only finds the store and prints.
//!
//! Exit status: 0 after printing, 1 when the store cannot be read, 2 when the configuration
//! has problems (each is printed).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use smppd::config::{Config, PostgresStore, StoreBackend};
use smppd::daemon::postgres_options;
use smppd::daemon::store::sqlite::inspect;
use smppd::daemon::store::{postgres, rfc3339, StoreError, StoreStats};

/// `smppd store ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Count what the store holds: messages per state, queued messages per channel, the
    /// oldest queued message, webhook events, inbound parts and receipt correlations.
    ///
    /// The file is opened read-only, so this is safe while the daemon runs.
    Inspect(InspectArgs),
}

/// Arguments of `smppd store inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The configuration file; its `[store] path` names the store.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "/etc/smppd/smppd.toml"
    )]
    config: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a `store` subcommand.
pub fn run(command: StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Inspect(args) => run_inspect(args),
    }
}

fn run_inspect(args: InspectArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(loaded) => loaded.config,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            eprintln!(
                "smppd store inspect: the configuration has {} problem(s)",
                errors.0.len()
            );
            return ExitCode::from(2);
        }
    };
    let (place, stats) = match &config.store.backend {
        StoreBackend::Sqlite => (
            config.store.path.display().to_string(),
            inspect(&config.store.path),
        ),
        StoreBackend::Postgres(pg) => (pg.url.clone(), inspect_postgres(&config, pg)),
    };
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smppd store inspect: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!("{}", to_json(&place, &stats));
    } else {
        print_text(&place, &stats, SystemTime::now());
    }
    ExitCode::SUCCESS
}

/// The counts of the PostgreSQL database `[store]` names (read-only, like the file's).
fn inspect_postgres(config: &Config, pg: &PostgresStore) -> Result<StoreStats, StoreError> {
    let runtime =
        super::runtime(super::Threads::One).map_err(|e| StoreError::Read(e.to_string()))?;
    let options = postgres_options(config, pg);
    runtime.block_on(postgres::inspect(&options))
}

fn to_json(path: &str, s: &StoreStats) -> Value {
    let messages: Map<String, Value> = s
        .by_state
        .iter()
        .map(|(state, n)| (state.as_str().to_string(), (*n).into()))
        .collect();
    let queued: Map<String, Value> = s
        .queued_by_channel
        .iter()
        .map(|(channel, n)| (channel.clone(), (*n).into()))
        .collect();
    json!({
        "path": path,
        "schema_version": s.schema_version,
        "file_bytes": s.file_bytes,
        "messages": messages,
        "queued_by_channel": queued,
        "oldest_queued": s.oldest_queued.map(rfc3339),
        "outbox": s.outbox,
        "inbound_parts": s.inbound_parts,
        "correlations": s.correlations,
    })
}

fn print_text(path: &str, s: &StoreStats, now: SystemTime) {
    println!(
        "store {} (schema version {}, {})",
        path,
        s.schema_version,
        size(s.file_bytes)
    );
    let states: Vec<String> = s
        .by_state
        .iter()
        .map(|(state, n)| format!("{} {n}", state.as_str()))
        .collect();
    println!("messages: {}", states.join(", "));
    let queues: Vec<String> = s
        .queued_by_channel
        .iter()
        .map(|(channel, n)| match channel.as_str() {
            "*" => format!("* (any channel) {n}"),
            name => format!("{name} {n}"),
        })
        .collect();
    if queues.is_empty() {
        println!("queued per channel: none");
    } else {
        println!("queued per channel: {}", queues.join(", "));
    }
    match s.oldest_queued {
        Some(t) => println!(
            "oldest queued: {} (accepted {})",
            rfc3339(t),
            age(now.duration_since(t).unwrap_or_default())
        ),
        None => println!("oldest queued: none"),
    }
    println!("webhook outbox: {}", plural(s.outbox, "event"));
    println!("inbound parts waiting: {}", s.inbound_parts);
    println!("receipt correlations: {}", s.correlations);
}

/// `n` octets for people: `512 B`, `1.2 MiB`.
fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// How long ago, in the largest whole unit: `just now`, `40 s ago`, `5 min ago`, `3 h ago`,
/// `2 days ago`.
fn age(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "just now".to_string(),
        1..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} ago", plural(secs / 86_400, "day")),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1_258_291), "1.2 MiB");
        assert_eq!(age(Duration::from_secs(300)), "5 min ago");
        assert_eq!(age(Duration::from_secs(86_400)), "1 day ago");
    }
}
