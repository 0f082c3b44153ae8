//! Configuration errors and warnings, each naming the file, the section and the key.

use std::fmt;
use std::path::PathBuf;

/// What is wrong with one option, section or file.
///
/// No variant ever holds the value of a secret option: the value of a password is never part
/// of an error, only its location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(String),
    /// The file is not valid TOML.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// A section smppd does not know.
    #[error("unknown section{}", suggestion(.nearest))]
    UnknownSection {
        /// The closest valid section name, if one is close.
        nearest: Option<String>,
    },
    /// A channel section named `channel-` with nothing usable after it.
    #[error("the channel name after \"channel-\" must be 1-64 characters of A-Z a-z 0-9 _ . -")]
    BadChannelName,
    /// A user section named `smpp-user-` with nothing usable after it.
    #[error("the user name after \"smpp-user-\" must be 1-64 characters of A-Z a-z 0-9 _ . -")]
    BadUserName,
    /// A `password-hash` that is not an acceptable Argon2id hash. The value is never quoted:
    /// it may be a plaintext password.
    #[error("the value {0}")]
    PasswordHash(crate::password::PasswordHashError),
    /// A key smppd does not know.
    #[error("unknown key{}", suggestion(.nearest))]
    UnknownKey {
        /// The closest valid key, if one is close.
        nearest: Option<String>,
    },
    /// An option smppd refuses by name.
    #[error("not supported: {why}")]
    Refused {
        /// Why the option is refused.
        why: &'static str,
    },
    /// A required option is missing.
    #[error("required, but missing")]
    Missing,
    /// The value has the wrong TOML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What was expected, e.g. "an integer".
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// A number outside its range.
    #[error("{value} is out of range {range}")]
    OutOfRange {
        /// The value given.
        value: i64,
        /// The valid range, e.g. "1-1000".
        range: String,
    },
    /// A string longer than the protocol allows.
    #[error("{len} octets is too long: at most {max}")]
    TooLong {
        /// The length given, in octets.
        len: usize,
        /// The maximum, in octets.
        max: usize,
    },
    /// A value outside an enumeration or a format.
    #[error("{value:?} is not valid: expected {expected}")]
    Invalid {
        /// The value given (never a secret).
        value: String,
        /// What is valid.
        expected: String,
    },
    /// A secret option refers to an environment variable that is not set.
    #[error("environment variable {var} is not set (or not UTF-8)")]
    EnvVarMissing {
        /// The variable's name.
        var: String,
    },
    /// A secret option refers to a file that cannot be read.
    #[error("cannot read the secret file {path}: {error}")]
    SecretFile {
        /// The file's path.
        path: PathBuf,
        /// The OS error.
        error: String,
    },
    /// Two options that cannot be used together, or one that needs another.
    #[error("{0}")]
    Conflict(String),
}

fn suggestion(nearest: &Option<String>) -> String {
    match nearest {
        Some(n) => format!(" (did you mean \"{n}\"?)"),
        None => String::new(),
    }
}

/// Where a problem is: the file, and the section and key when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The configuration file.
    pub path: PathBuf,
    /// The section, without brackets.
    pub section: Option<String>,
    /// The key inside the section.
    pub key: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(section) = &self.section {
            write!(f, ": [{section}]")?;
        }
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        Ok(())
    }
}

/// One problem in a configuration file. A start-up is refused while there is any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct ConfigError {
    /// Where the problem is.
    pub location: Location,
    /// What the problem is.
    pub problem: Problem,
}

/// Every problem found in one configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something worth telling the operator that does not stop a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where it is.
    pub location: Location,
    /// What it says.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
