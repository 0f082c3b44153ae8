//! `load http`: placeholder until the HTTP measurement lands.

use clap::Args;

/// Flags of `load http`.
#[derive(Debug, Args)]
pub struct HttpArgs {}

pub fn run(_args: HttpArgs) {}
