//! [`Secret`]: a string that never shows itself in logs or `Debug` output.
//!
//! Every password smppd handles (bind `password`, keystore file and key passwords, the HTTP
//! bearer token) travels in this type from the moment it is read, so that a stray `{:?}` in an
//! error message or a tracing field cannot leak it. The only way to see the value is
//! [`Secret::expose`], which is easy to grep for in review.

use std::fmt;

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
}
