//! Argument parsing (clap) and dispatch to one file per subcommand.

mod keystore;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Keystore tools: inspect a PKCS#12 file and check its passwords.
    Keystore {
        #[command(subcommand)]
        command: keystore::KeystoreCommand,
    },
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => ExitCode::SUCCESS,
        Some(command) => match command {
            Command::Keystore { command } => keystore::run(command),
        },
    }
}
