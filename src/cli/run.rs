//! `smppd run --config FILE`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use smppd::daemon::logging::{self, LogFormat};
use smppd::daemon::{self, RunError};

/// Options shared by the commands that run the daemon.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log line format. Default: json when stdout is not a terminal (systemd, pipes), text
    /// on a terminal.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Which events to log: a level (error, warn, info, debug, trace) or a filter such as
    /// `smppd=debug`.
    #[arg(long, value_name = "FILTER", default_value = "info", env = "SMPPD_LOG")]
    pub log_level: String,
}

impl LogArgs {
    /// Installs the logger; prints why on failure.
    pub fn init(&self, command: &str) -> Result<(), ExitCode> {
        logging::init(LogFormat::choose(self.log_format), &self.log_level).map_err(|e| {
            eprintln!("smppd {command}: {e}");
            ExitCode::from(2)
        })
    }
}

/// `smppd run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (one [channel-NAME] section per SMPP account).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    #[command(flatten)]
    pub log: LogArgs,
}

/// A multi-threaded tokio runtime, or the reason there is none.
pub fn runtime(command: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    super::runtime(super::Threads::Many).map_err(|e| {
        eprintln!("smppd {command}: cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Exit code for a daemon run: 0 after a clean stop, 2 for a configuration the operator
/// must fix (each problem printed on its own line), 1 for anything else.
pub fn exit_code(command: &str, result: Result<(), RunError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(errors)) => {
            for e in &errors.0 {
                eprintln!("{e}");
                tracing::error!(event = "config_error", "{e}");
            }
            eprintln!(
                "smppd {command}: the configuration has {} problem(s); nothing was started",
                errors.0.len()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("smppd {command}: {e}");
            tracing::error!(event = "start_failed", "{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: RunArgs) -> ExitCode {
    if let Err(code) = args.log.init("run") {
        return code;
    }
    let runtime = match runtime("run") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = runtime.block_on(daemon::run(&args.config, None));
    exit_code("run", result)
}
