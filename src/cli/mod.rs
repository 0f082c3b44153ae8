//! Argument parsing (clap) and dispatch to one file per subcommand.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod check_config;
mod demo;
mod generate;
mod hash_password;
mod keystore;
mod pdu;
mod run;
mod simulate;
mod store;

/// smppd: an SMPP v3.4 gateway daemon.
#[derive(Debug, Parser)]
#[command(name = "smppd", version = smppd::build_info::LONG_VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each is implemented in its own file in this directory.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: every configured channel, the HTTP API, systemd notifications.
    ///
    /// SIGHUP re-reads the configuration and restarts only the channels whose sections
    /// changed; SIGTERM drains, unbinds every channel and exits 0. Exit code 2 means the
    /// configuration has problems (each is printed).
    Run(run::RunArgs),
    /// Validate a configuration as a start would: every option, every keystore and TLS
    /// context. Prints a summary per channel, for the SMPP server and per SMPP user; exits 1
    /// with every problem listed.
    CheckConfig(check_config::CheckConfigArgs),
    /// The daemon's main job against the built-in SMSC simulator, in one command: the
    /// simulator on 127.0.0.1:2775 (mutual TLS, dev PKI) and the daemon with
    /// config/demo.toml, HTTP API on 127.0.0.1:8080.
    Demo(demo::DemoArgs),
    /// Print the Argon2id hash of a password, for `password-hash` in an [smpp-user-NAME]
    /// section.
    ///
    /// At a terminal the password is asked for twice, without echo; otherwise the first line
    /// of stdin is read (at most 1024 bytes, its line ending dropped), as in
    /// `smppd hash-password < pw.txt`. Prints only the hash (`$argon2id$v=19$m=19456,t=2,p=1$...`)
    /// and a newline on stdout; exits 1 with the reason on stderr for an empty, too long or
    /// mismatched password.
    HashPassword(hash_password::HashPasswordArgs),
    /// Keystore tools: inspect a PKCS#12 file and check its passwords.
    Keystore {
        #[command(subcommand)]
        command: keystore::KeystoreCommand,
    },
    /// Decode raw SMPP PDUs for people (`smppd pdu decode HEX`).
    Pdu(pdu::PduArgs),
    /// Run the built-in SMSC simulator (a lab tool for tests and demos).
    ///
    /// Accounts come from --account and from the SMPPD_SIM_ACCOUNTS environment variable
    /// (`id:pw,id2:pw2`). Command-line arguments are visible to other local users (ps), so
    /// prefer the environment variable; either way this is a lab tool, not a place for real
    /// credentials. Passwords are never printed. Runs until Ctrl-C or SIGTERM.
    Simulate(simulate::SimulateArgs),
    /// Store tools: count what the durable store holds (read-only, safe beside a running
    /// daemon).
    Store {
        #[command(subcommand)]
        command: store::StoreCommand,
    },
    /// Write man pages or shell completions generated from these definitions (for
    /// packagers: `packaging/build-deb.sh` runs it; hidden from --help).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        command: generate::GenerateCommand,
    },
}

/// How many threads a command's tokio runtime runs its tasks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threads {
    /// One per core: the commands that serve (the daemon, the simulator).
    Many,
    /// The calling thread: the commands that make a few calls and exit.
    One,
}

/// A tokio runtime with its I/O and time drivers, on `threads`.
fn runtime(threads: Threads) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Threads::Many => tokio::runtime::Builder::new_multi_thread(),
        Threads::One => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all().build()
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Demo(args) => demo::run(args),
        Command::HashPassword(args) => hash_password::run(args),
        Command::Keystore { command } => keystore::run(command),
        Command::Pdu(args) => pdu::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Store { command } => store::run(command),
        Command::Generate { command } => generate::run(command),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    #[test]
    fn version_names_commit_and_features() {
        let e = Cli::try_parse_from(["smppd", "--version"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        let text = e.to_string();
        assert_eq!(text, format!("smppd {}\n", smppd::build_info::LONG_VERSION));
        assert!(
            text.contains(" (commit ") && text.contains(", features: "),
            "{text}"
        );
    }

    #[test]
    fn generate_is_hidden_from_help() {
        let help = Cli::command().render_help().to_string();
        assert!(
            help.contains("check-config") && !help.contains("generate"),
            "{help}"
        );
    }
}
