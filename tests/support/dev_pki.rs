//! The committed development PKI (`certs/dev`, made by `certs/gen-dev-pki.sh`).

use std::path::{Path, PathBuf};

/// The path of `file` in the development PKI.
pub fn dev(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs/dev")
        .join(file)
}
