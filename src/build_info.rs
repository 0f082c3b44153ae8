//! What this binary was built from: the crate version, the git commit and the enabled cargo
//! features. `build.rs` finds the commit and the features; `smppd --version` prints them and
//! `/metrics` exports them as `smppd_build_info`. Depends on nothing.

/// The crate version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short (12 hex digits) git commit built, or `unknown` when built outside a git checkout
/// (from a source tarball, or without git installed).
pub const COMMIT: &str = env!("SMPPD_GIT_COMMIT");

/// The enabled cargo features, comma-separated and sorted (`tls11`), or `none`.
pub const FEATURES: &str = env!("SMPPD_FEATURES");

/// The text after the program name in `smppd --version`:
/// `0.1.0 (commit 1a2b3c4d5e6f, features: tls11)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SMPPD_GIT_COMMIT"),
    ", features: ",
    env!("SMPPD_FEATURES"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_version_names_commit_and_features() {
        assert_eq!(
            LONG_VERSION,
            format!("{VERSION} (commit {COMMIT}, features: {FEATURES})")
        );
        assert!(
            COMMIT == "unknown"
                || (COMMIT.len() >= 12 && COMMIT.bytes().all(|b| b.is_ascii_hexdigit())),
            "{COMMIT}"
        );
        assert_eq!(FEATURES == "tls11", cfg!(feature = "tls11"), "{FEATURES}");
    }
}
