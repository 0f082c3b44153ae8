//! Argument parsing (clap) and dispatch to one file per subcommand.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod pdu;

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
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => ExitCode::SUCCESS,
        Some(command) => match command {
            Command::Pdu(args) => pdu::run(args),
        },
    }
}
