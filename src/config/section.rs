//! Typed, checked reads of one TOML section, collecting every problem instead of stopping at
//! the first, so that `check-config` can list them all.

use super::error::{ConfigError, ConfigWarning, Location, Problem};
use super::option_spec::{self, Absent, OptionSpec, Support, Values};
use super::suggest;
use crate::secret::Secret;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Looks an environment variable up; injected so tests need not touch the process environment.
pub(super) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What every section reader needs to know about the file it came from.
pub(super) struct FileContext<'a> {
    /// The configuration file's path, for messages.
    pub path: &'a Path,
    /// Relative paths in the file are relative to this directory.
    pub base_dir: &'a Path,
    /// Environment variable lookup for `{ env = "VAR" }` secrets.
    pub env: EnvLookup<'a>,
}

/// Reads the keys of one section against its option table.
pub(super) struct SectionReader<'a> {
    ctx: &'a FileContext<'a>,
    section: &'a str,
    table: &'a toml::Table,
    options: &'static [OptionSpec],
    read: HashSet<&'static str>,
    /// Problems found so far.
    pub errors: Vec<ConfigError>,
    /// Warnings found so far.
    pub warnings: Vec<ConfigWarning>,
    /// Whether an inline (literal) secret was read: the file's permissions then matter.
    pub inline_secret: bool,
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl<'a> SectionReader<'a> {
    /// Starts reading `table`, the body of `[section]`, whose keys are listed in `options`.
    pub(super) fn new(
        ctx: &'a FileContext<'a>,
        section: &'a str,
        table: &'a toml::Table,
        options: &'static [OptionSpec],
    ) -> Self {
        SectionReader {
            ctx,
            section,
            table,
            options,
            read: HashSet::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            inline_secret: false,
        }
    }

    /// The location of `key` in this section, for messages.
    pub(super) fn location(&self, key: Option<&str>) -> Location {
        Location {
            path: self.ctx.path.to_path_buf(),
            section: Some(self.section.to_string()),
            key: key.map(str::to_string),
        }
    }

    /// Records a problem with `key` (or with the section when `key` is `None`).
    pub(super) fn error(&mut self, key: Option<&str>, problem: Problem) {
        let location = self.location(key);
        self.errors.push(ConfigError { location, problem });
    }

    /// Records a warning about `key`.
    pub(super) fn warn(&mut self, key: Option<&str>, message: impl Into<String>) {
        let location = self.location(key);
        self.warnings.push(ConfigWarning {
            location,
            message: message.into(),
        });
    }

    fn get(&mut self, key: &'static str) -> Option<&'a toml::Value> {
        debug_assert!(
            self.options.iter().any(|o| o.name == key),
            "{key} is read but not in the option table"
        );
        self.read.insert(key);
        self.table.get(key)
    }

    /// The raw value of `key`, without marking it as read.
    pub(super) fn peek(&self, key: &str) -> Option<&'a toml::Value> {
        self.table.get(key)
    }

    /// Marks `keys` as read without reading them (a caller that reported them itself).
    pub(super) fn skip(&mut self, keys: &[&'static str]) {
        self.read.extend(keys.iter().copied());
    }

    /// Whether the section sets `key` at all.
    pub(super) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// A string option of at most `max` octets; `None` when absent (or wrong).
    pub(super) fn opt_string(&mut self, key: &'static str, max: usize) -> Option<String> {
        let value = self.get(key)?;
        match value {
            toml::Value::String(s) if s.len() <= max => Some(s.clone()),
            toml::Value::String(s) => {
                self.error(Some(key), Problem::TooLong { len: s.len(), max });
                None
            }
            other => {
                self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a string",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }

    /// A list of strings, each of at most `max` octets; empty when absent (or wrong).
    pub(super) fn string_list(&mut self, key: &'static str, max: usize) -> Vec<String> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let toml::Value::Array(items) = value else {
            self.error(
                Some(key),
                Problem::WrongType {
                    expected: "an array of strings",
                    found: type_name(value),
                },
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                toml::Value::String(s) if s.len() <= max => out.push(s.clone()),
                toml::Value::String(s) => {
                    self.error(Some(key), Problem::TooLong { len: s.len(), max });
                }
                other => self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "an array of strings",
                        found: type_name(other),
                    },
                ),
            }
        }
        out
    }

    /// A string option of the length its table entry allows: its default when absent, or
    /// an error when it is required.
    pub(super) fn text(&mut self, key: &'static str) -> String {
        match self.values(key) {
            Values::Text {
                default: Absent::Value(default),
                max,
            } => self.string(key, max, default),
            Values::Text {
                default: Absent::Required,
                max,
            } => self.required_string(key, max),
            other => panic!("{key} is not a text option with a default: {other:?}"),
        }
    }

    /// A string option of the length its table entry allows; `None` when absent.
    pub(super) fn opt_text(&mut self, key: &'static str) -> Option<String> {
        let Values::Text { max, .. } = self.values(key) else {
            panic!("{key} is not a text option");
        };
        self.opt_string(key, max)
    }

    /// A string option with a default.
    pub(super) fn string(&mut self, key: &'static str, max: usize, default: &str) -> String {
        self.opt_string(key, max)
            .unwrap_or_else(|| default.to_string())
    }

    /// A required, non-empty string option.
    pub(super) fn required_string(&mut self, key: &'static str, max: usize) -> String {
        match self.opt_string(key, max) {
            Some(s) if !s.is_empty() => s,
            Some(_) => {
                self.error(
                    Some(key),
                    Problem::Invalid {
                        value: String::new(),
                        expected: "a non-empty string".into(),
                    },
                );
                String::new()
            }
            None => {
                if !self.has(key) {
                    self.error(Some(key), Problem::Missing);
                }
                String::new()
            }
        }
    }

    /// The values of `key` in this section's option table.
    fn values(&self, key: &str) -> Values {
        option_spec::spec(self.options, key).values
    }

    /// An integer option, in the range and with the default its table entry gives (0 when
    /// absent and the entry has no number for that: the caller checks [`Self::has`] first).
    pub(super) fn integer(&mut self, key: &'static str) -> i64 {
        let Values::Integer {
            default, min, max, ..
        } = self.values(key)
        else {
            panic!("{key} is not an integer option");
        };
        let default = match default {
            Absent::Value(n) => n,
            Absent::Required | Absent::Means(_) => 0,
        };
        self.integer_in(key, min, max, default)
    }

    /// An integer option in `min..=max`. Genesys stores every option as a string, so a string
    /// of digits is accepted too: operators can paste their values unchanged.
    pub(super) fn integer_in(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
        default: i64,
    ) -> i64 {
        let Some(value) = self.get(key) else {
            return default;
        };
        let n = match value {
            toml::Value::Integer(n) => *n,
            toml::Value::String(s) => match s.trim().parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    self.error(
                        Some(key),
                        Problem::Invalid {
                            value: s.clone(),
                            expected: format!("an integer in {min}-{max}"),
                        },
                    );
                    return default;
                }
            },
            other => {
                self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "an integer",
                        found: type_name(other),
                    },
                );
                return default;
            }
        };
        if n < min || n > max {
            self.error(
                Some(key),
                Problem::OutOfRange {
                    value: n,
                    range: format!("{min}-{max}"),
                },
            );
            return default;
        }
        n
    }

    /// A boolean option, with the default its table entry gives; `"true"`/`"false"` strings
    /// are accepted for the same reason as digits.
    pub(super) fn boolean(&mut self, key: &'static str) -> bool {
        let Values::Boolean { default } = self.values(key) else {
            panic!("{key} is not a boolean option");
        };
        let Some(value) = self.get(key) else {
            return default;
        };
        match value {
            toml::Value::Boolean(b) => *b,
            toml::Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            toml::Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            toml::Value::String(s) => {
                self.error(
                    Some(key),
                    Problem::Invalid {
                        value: s.clone(),
                        expected: "true or false".into(),
                    },
                );
                default
            }
            other => {
                self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a boolean",
                        found: type_name(other),
                    },
                );
                default
            }
        }
    }

    /// One of a fixed set of words (case-insensitive), with the default its table entry
    /// gives. `choices` holds every documented word and may hold other spellings.
    pub(super) fn choice<T: Copy>(&mut self, key: &'static str, choices: &[(&str, T)]) -> T {
        let Values::Choice { default, .. } = self.values(key) else {
            panic!("{key} is not a choice option");
        };
        let Some(&(_, default)) = choices.iter().find(|(w, _)| *w == default) else {
            panic!("{key}'s default {default} is not among its choices");
        };
        self.choice_or(key, choices, default)
    }

    /// One of a fixed set of words (case-insensitive), `default` when absent.
    pub(super) fn choice_or<T: Copy>(
        &mut self,
        key: &'static str,
        choices: &[(&str, T)],
        default: T,
    ) -> T {
        let Some(value) = self.get(key) else {
            return default;
        };
        // TOML writes 1.2 as a float; a version number is still a word here.
        let word = match value {
            toml::Value::String(s) => s.trim().to_string(),
            toml::Value::Float(f) => format!("{f:?}"),
            toml::Value::Integer(n) => n.to_string(),
            other => {
                self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a string",
                        found: type_name(other),
                    },
                );
                return default;
            }
        };
        match choices.iter().find(|(w, _)| w.eq_ignore_ascii_case(&word)) {
            Some((_, v)) => *v,
            None => {
                let mut names: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
                names.dedup();
                self.error(
                    Some(key),
                    Problem::Invalid {
                        value: word,
                        expected: format!("one of: {}", names.join(", ")),
                    },
                );
                default
            }
        }
    }

    /// A file path, relative to the configuration file's directory when not absolute.
    pub(super) fn path(&mut self, key: &'static str) -> Option<PathBuf> {
        let s = self.opt_string(key, 4096)?;
        if s.is_empty() {
            self.error(
                Some(key),
                Problem::Invalid {
                    value: s,
                    expected: "a file path".into(),
                },
            );
            return None;
        }
        Some(self.ctx.base_dir.join(s))
    }

    /// A secret: inline (`"..."`), `{ env = "VAR" }` or `{ file = "PATH" }`, at most `max`
    /// octets once resolved. Its value never enters an error or a warning.
    pub(super) fn secret(&mut self, key: &'static str, max: usize) -> Option<Secret> {
        let value = self.get(key)?;
        let resolved = match value {
            toml::Value::String(s) => {
                self.inline_secret = self.inline_secret || !s.is_empty();
                Secret::new(s.as_str())
            }
            toml::Value::Table(t) => self.secret_from_table(key, t)?,
            other => {
                self.error(
                    Some(key),
                    Problem::WrongType {
                        expected: "a string, { env = \"VAR\" } or { file = \"PATH\" }",
                        found: type_name(other),
                    },
                );
                return None;
            }
        };
        if resolved.expose().len() > max {
            let len = resolved.expose().len();
            self.error(Some(key), Problem::TooLong { len, max });
            return None;
        }
        Some(resolved)
    }

    fn secret_from_table(&mut self, key: &'static str, t: &toml::Table) -> Option<Secret> {
        let form_error = Problem::Invalid {
            value: format!("{{ {} }}", t.keys().cloned().collect::<Vec<_>>().join(", ")),
            expected: "exactly one of { env = \"VAR\" } or { file = \"PATH\" }".into(),
        };
        if t.len() != 1 {
            self.error(Some(key), form_error);
            return None;
        }
        match (t.get("env"), t.get("file")) {
            (Some(toml::Value::String(var)), None) => match (self.ctx.env)(var) {
                Some(v) => Some(Secret::new(v)),
                None => {
                    self.error(Some(key), Problem::EnvVarMissing { var: var.clone() });
                    None
                }
            },
            (None, Some(toml::Value::String(p))) => {
                let path = self.ctx.base_dir.join(p);
                match Secret::from_file(&path) {
                    Ok(secret) => Some(secret),
                    Err(e) => {
                        self.error(
                            Some(key),
                            Problem::SecretFile {
                                path,
                                error: e.to_string(),
                            },
                        );
                        None
                    }
                }
            }
            _ => {
                self.error(Some(key), form_error);
                None
            }
        }
    }

    /// Reports keys that were not read: refused options by name with their reason, ignorable
    /// ones with a notice, and unknown keys with the nearest valid name.
    pub(super) fn finish(&mut self) {
        let table = self.table;
        for (key, value) in table {
            if self.read.contains(key.as_str()) {
                continue;
            }
            match self.options.iter().find(|o| o.name == key) {
                Some(spec) => match spec.support {
                    Support::Refused(why) => self.error(Some(key), Problem::Refused { why }),
                    Support::IgnoredIf(expected) => {
                        if value.as_str() == Some(expected) {
                            self.warn(
                                Some(key),
                                "accepted for compatibility with the Genesys driver and ignored",
                            );
                        } else {
                            self.error(
                                Some(key),
                                Problem::Invalid {
                                    value: value.to_string(),
                                    expected: format!("{expected} (or leave it out)"),
                                },
                            );
                        }
                    }
                    // A supported option the section did not read is a bug, not user error.
                    Support::Supported => debug_assert!(false, "{key} was not read"),
                },
                None => {
                    let nearest = suggest::nearest(key, self.options.iter().map(|o| o.name));
                    self.error(Some(key), Problem::UnknownKey { nearest });
                }
            }
        }
    }
}
