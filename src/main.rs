//! The `smppd` command line. Each subcommand lives in its own file under `src/cli/`; this file
//! only hands the process over to it.
#![forbid(unsafe_code)]

mod cli;

/// mimalloc instead of the system allocator: see the dependency's comment in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
