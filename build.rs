//! Build information for `smppd --version` and the `smppd_build_info` metric: the git commit
//! and the enabled cargo features, as the compile-time environment variables
//! `SMPPD_GIT_COMMIT` and `SMPPD_FEATURES` (read by `src/build_info.rs`).
//!
//! The script reruns only when HEAD or the branch it points to moves (and when this file
//! changes), never on a source edit, so incremental builds stay incremental. It never fails:
//! without git, or outside a git checkout (a source tarball), the commit is `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = git_commit(&manifest_dir).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SMPPD_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=SMPPD_FEATURES={}", features());
}

/// The short commit of the checkout this crate is built from, and the `rerun-if-changed`
/// lines that make a new commit or a checkout rerun this script.
fn git_commit(manifest_dir: &Path) -> Option<String> {
    // Only the crate's own checkout counts: a tarball unpacked inside some other repository
    // must not report that repository's commit. (`.git` is a file in a worktree.)
    if !manifest_dir.join(".git").exists() {
        return None;
    }
    let commit = git(manifest_dir, &["rev-parse", "--short=12", "HEAD"])?;
    // Watch HEAD (a checkout), HEAD's reflog (every commit, checkout and reset), the branch
    // HEAD names and packed-refs (a `git gc` may move the branch there). `--git-path`
    // resolves them in worktrees too. Only existing files are named: cargo reruns a script
    // on every build while a watched file is missing.
    let mut watched = vec![
        "HEAD".to_string(),
        "logs/HEAD".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(manifest_dir, &["rev-parse", "--git-path", &name]) {
            let path = manifest_dir.join(path);
            if path.is_file() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    Some(commit)
}

/// Runs git in `dir`; its trimmed standard output when it succeeds with some.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// The enabled features, comma-separated and sorted, or `none`. Cargo hands them to build
/// scripts as `CARGO_FEATURE_<NAME>` (upper case, `-` as `_`).
fn features() -> String {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(key, _)| {
            let name = key.to_str()?.strip_prefix("CARGO_FEATURE_")?;
            (name != "DEFAULT").then(|| name.to_ascii_lowercase())
        })
        .collect();
    names.sort();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(",")
    }
}
