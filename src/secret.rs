//! [`Secret`]: a string that never shows itself in logs or `Debug` output.
//!
//! Every password smppd handles (bind `password`, keystore file and key passwords, the HTTP
//! bearer token) travels in this type from the moment it is read, so that a stray `{:?}` in an
//! error message or a tracing field cannot leak it. The only way to see the value is
//! [`Secret::expose`], which is easy to grep for in review.
//!
//! [`Secret::from_file`] reads a `{ file = "PATH" }` secret (systemd's `LoadCredential=`):
//! a regular file of at most [`MAX_SECRET_FILE`] bytes, through [`crate::limited_file`].
//! May depend on `crate::limited_file` only.

use std::fmt;
use std::path::Path;

use crate::limited_file::{self, ReadError};

/// The largest secret file read: a password or token is a few hundred bytes at most, and a
/// path pointing at `/dev/zero` or a log file must not fill memory.
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Why a secret file could not be used. The texts never hold any of the file's content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Not a regular file, too large, or unreadable.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The content is not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotUtf8,
}

/// A secret string whose `Debug` and `Display` forms are always `********`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

/// What `Debug` and `Display` print instead of a secret's value.
pub const REDACTED: &str = "********";

impl Secret {
    /// Wraps a value read from configuration, the environment, a file or a prompt.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from `path`: a regular file of at most [`MAX_SECRET_FILE`] bytes of
    /// UTF-8. One trailing newline (`\n` or `\r\n`) is an editor's, not part of the secret,
    /// and is dropped.
    pub fn from_file(path: &Path) -> Result<Secret, SecretFileError> {
        let data = limited_file::read(path, MAX_SECRET_FILE, "a secret file")?;
        let text = String::from_utf8(data).map_err(|_| SecretFileError::NotUtf8)?;
        let value = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        Ok(Secret::new(value))
    }

    /// The value itself, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), format!("Some({REDACTED})"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_secret_file_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "hunter2\r\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "hunter2");
        std::fs::write(&path, "hunter2\n\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "hunter2\n");
    }

    #[test]
    fn a_secret_file_is_bounded_and_must_be_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        let size = usize::try_from(MAX_SECRET_FILE).unwrap();
        std::fs::write(&path, "x".repeat(size)).unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose().len(), size);
        std::fs::write(&path, "x".repeat(size + 1)).unwrap();
        let e = Secret::from_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            "larger than 65536 bytes, too big for a secret file"
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let e = Secret::from_file(&path).unwrap_err();
        assert!(matches!(e, SecretFileError::NotUtf8), "{e:?}");
        let e = Secret::from_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
    }
}
