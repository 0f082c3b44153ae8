//! Argument parsing (clap) and dispatch to one file per subcommand.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod pdu;
mod simulate;

/// smppd: an SMPP v3.4 gateway daemon.
#[derive(Debug, Parser)]
#[command(name = "smppd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// One variant per subcommand; each is implemented in its own file in this directory.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode raw SMPP PDUs for people (`smppd pdu decode HEX`).
    Pdu(pdu::PduArgs),
    /// Run the built-in SMSC simulator (a lab tool for tests and demos).
    ///
    /// Accounts come from --account and from the SMPPD_SIM_ACCOUNTS environment variable
    /// (`id:pw,id2:pw2`). Command-line arguments are visible to other local users (ps), so
    /// prefer the environment variable; either way this is a lab tool, not a place for real
    /// credentials. Passwords are never printed. Runs until Ctrl-C or SIGTERM.
    Simulate(simulate::SimulateArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => ExitCode::SUCCESS,
        Some(command) => match command {
            Command::Pdu(args) => pdu::run(args),
            Command::Simulate(args) => simulate::run(args),
        },
    }
}
