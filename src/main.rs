//! The `smppd` command line. Each subcommand lives in its own file under `src/cli/`; this file
//! only hands the process over to it.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
