//! `smppd generate man DIR` and `smppd generate completions DIR` (hidden from `--help`): man
//! pages and shell completions generated from the clap definitions, so they never disagree
//! with `--help`. The Debian package build (`packaging/build-deb.sh`) runs them with the
//! binary it ships.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Command, CommandFactory, Subcommand};
use clap_complete::Shell;
use smppd::daemon::store::rfc3339;

/// The manual section: system administration tools and daemons.
const SECTION: &str = "8";

/// The shells completions are written for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// `smppd generate`.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Write smppd(8) and one page per subcommand (smppd-run(8), ...) into DIR.
    Man(DirArg),
    /// Write bash (smppd.bash), zsh (_smppd) and fish (smppd.fish) completions into DIR.
    Completions(DirArg),
}

/// The directory to write into; created when missing.
#[derive(Debug, Args)]
pub struct DirArg {
    /// The output directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes the requested files and prints each path; exits 1 when one cannot be written.
pub fn run(command: GenerateCommand) -> ExitCode {
    let (dir, written) = match command {
        GenerateCommand::Man(DirArg { dir }) => {
            let written = man_pages(super::Cli::command(), &dir);
            (dir, written)
        }
        GenerateCommand::Completions(DirArg { dir }) => {
            let written = completions(super::Cli::command(), &dir);
            (dir, written)
        }
    };
    match written {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// One page for the command and one for each visible subcommand, at every depth
/// (`smppd-keystore-inspect.8`); hidden subcommands and `help` get none.
pub fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn page(
        cmd: Command,
        dir: &Path,
        date: &str,
        written: &mut Vec<PathBuf>,
    ) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            page(sub.clone(), dir, date, written)?;
        }
        let name = cmd
            .get_display_name()
            .unwrap_or_else(|| cmd.get_name())
            .to_string();
        let man = clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .section(SECTION)
            .date(date)
            .source(format!("smppd {}", smppd::build_info::VERSION))
            .manual("smppd manual");
        written.push(man.generate_to(dir)?);
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    // Built once at the top so that every subcommand knows its full name (`smppd-run`).
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    page(cmd, dir, &page_date(), &mut written)?;
    written.sort();
    Ok(written)
}

/// The date in the pages' footer (`YYYY-MM-DD`): `$SOURCE_DATE_EPOCH` when set, so that a
/// package build is reproducible, else today. (clap_mangen needs one: an empty date shifts the
/// footer's other fields.)
fn page_date() -> String {
    let when = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map_or_else(SystemTime::now, |secs| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
        });
    let mut date = rfc3339(when);
    date.truncate("YYYY-MM-DD".len());
    date
}

/// One completion script per shell in [`SHELLS`], under each shell's usual file name.
pub fn completions(mut cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    SHELLS
        .into_iter()
        .map(|shell| clap_complete::generate_to(shell, &mut cmd, "smppd", dir))
        .collect()
}

#[cfg(test)]
mod tests;
