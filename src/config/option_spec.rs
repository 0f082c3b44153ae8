//! What the configuration knows about one option: its name, the values it takes, its default
//! and what it means.
//!
//! The section readers take ranges and defaults from these descriptors, and the configuration
//! reference (docs/configuration.md) is checked against the text [`OptionSpec::default_text`]
//! and [`OptionSpec::values_text`] render from them, so that each range and default is written
//! once. The options that set a session parameter take theirs from
//! [`crate::session::limits`], where the session checks them.

use crate::session::limits::Bounds;

/// How smppd treats an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Read, validated and used.
    Supported,
    /// Refused at start-up with this reason: its meaning is tied to Genesys internals or is not
    /// documented, and guessing would surprise an operator more than an error does.
    Refused(&'static str),
    /// Accepted and ignored with a notice, but only when its value is exactly this one.
    IgnoredIf(&'static str),
}

/// The unit of an integer option, written after its range in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count: nothing is written.
    Count,
    /// Milliseconds: `(ms)`.
    Millis,
    /// Seconds: `(s)`.
    Seconds,
    /// Another unit, or the unit with a note, written in parentheses as given.
    Other(&'static str),
}

/// What an option is when its section leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent<T> {
    /// This value.
    Value(T),
    /// Nothing: the option must be set.
    Required,
    /// No value, which means what this says (e.g. "none", "unlimited").
    Means(&'static str),
}

/// The values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// An integer in `min..=max` (a string of digits too, as Genesys stores every option).
    Integer {
        /// The value when the option is left out.
        default: Absent<i64>,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
        /// What the number counts.
        unit: Unit,
    },
    /// `true` or `false`.
    Boolean {
        /// The value when the option is left out.
        default: bool,
    },
    /// One of a few words (the parser may accept other spellings of the same values).
    Choice {
        /// The word in effect when the option is left out.
        default: &'static str,
        /// The documented words.
        words: &'static [&'static str],
    },
    /// A string of at most `max` octets (at least one when required).
    Text {
        /// The value when the option is left out.
        default: Absent<&'static str>,
        /// The longest value accepted, in octets.
        max: usize,
    },
    /// Anything else (paths, secrets, lists, addresses), described in words; the section's
    /// reader checks the form itself.
    Described {
        /// The default, as the reference states it.
        default: &'static str,
        /// The valid values, as the reference states them.
        values: &'static str,
    },
}

/// One option: its name, values, default and meaning.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The key, as written in the TOML section.
    pub name: &'static str,
    /// The values it takes and its default.
    pub values: Values,
    /// What it does, in one line.
    pub meaning: &'static str,
    /// Whether smppd uses it.
    pub support: Support,
}

impl OptionSpec {
    /// The default as the configuration reference states it.
    pub fn default_text(&self) -> String {
        match self.support {
            Support::Refused(_) => return "—".into(),
            Support::IgnoredIf(value) => return value.into(),
            Support::Supported => {}
        }
        match self.values {
            Values::Integer { default, .. } => absent_text(default, |n| n.to_string()),
            Values::Boolean { default } => default.to_string(),
            Values::Choice { default, .. } => default.into(),
            Values::Text { default, .. } => absent_text(default, |s| format!("\"{s}\"")),
            Values::Described { default, .. } => default.into(),
        }
    }

    /// The valid values as the configuration reference states them.
    pub fn values_text(&self) -> String {
        match self.support {
            Support::Refused(_) => return "refused".into(),
            Support::IgnoredIf(_) => return "that value only".into(),
            Support::Supported => {}
        }
        match self.values {
            Values::Integer { min, max, unit, .. } => match unit {
                Unit::Count => format!("{min}-{max}"),
                Unit::Millis => format!("{min}-{max} (ms)"),
                Unit::Seconds => format!("{min}-{max} (s)"),
                Unit::Other(unit) => format!("{min}-{max} ({unit})"),
            },
            Values::Boolean { .. } => "true, false".into(),
            Values::Choice { words, .. } => words.join(", "),
            Values::Text { default, max } => {
                let min = usize::from(default == Absent::Required);
                format!("{min}-{max} characters")
            }
            Values::Described { values, .. } => values.into(),
        }
    }
}

fn absent_text<T: Copy>(absent: Absent<T>, value: impl Fn(T) -> String) -> String {
    match absent {
        Absent::Value(v) => value(v),
        Absent::Required => "required".into(),
        Absent::Means(what) => what.into(),
    }
}

/// A supported option with the given values.
const fn option(name: &'static str, values: Values, meaning: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        values,
        meaning,
        support: Support::Supported,
    }
}

/// An integer option in `min..=max` with a default.
pub(crate) const fn integer(
    name: &'static str,
    default: i64,
    (min, max): (i64, i64),
    unit: Unit,
    meaning: &'static str,
) -> OptionSpec {
    let default = Absent::Value(default);
    option(
        name,
        Values::Integer {
            default,
            min,
            max,
            unit,
        },
        meaning,
    )
}

/// An integer option whose absence means something other than a number.
pub(crate) const fn optional_integer(
    name: &'static str,
    absent: &'static str,
    (min, max): (i64, i64),
    unit: Unit,
    meaning: &'static str,
) -> OptionSpec {
    let default = Absent::Means(absent);
    option(
        name,
        Values::Integer {
            default,
            min,
            max,
            unit,
        },
        meaning,
    )
}

/// An integer option that sets a session parameter: its range and default are the
/// parameter's.
pub(crate) const fn session_integer(
    name: &'static str,
    bounds: Bounds,
    unit: Unit,
    meaning: &'static str,
) -> OptionSpec {
    integer(
        name,
        bounds.default as i64,
        (bounds.min as i64, bounds.max as i64),
        unit,
        meaning,
    )
}

/// A boolean option.
pub(crate) const fn boolean(
    name: &'static str,
    default: bool,
    meaning: &'static str,
) -> OptionSpec {
    option(name, Values::Boolean { default }, meaning)
}

/// An option that is one of `words`.
pub(crate) const fn choice(
    name: &'static str,
    default: &'static str,
    words: &'static [&'static str],
    meaning: &'static str,
) -> OptionSpec {
    option(name, Values::Choice { default, words }, meaning)
}

/// A string option of at most `max` octets.
pub(crate) const fn text(
    name: &'static str,
    default: Absent<&'static str>,
    max: usize,
    meaning: &'static str,
) -> OptionSpec {
    option(name, Values::Text { default, max }, meaning)
}

/// An option whose values are described in words.
pub(crate) const fn described(
    name: &'static str,
    default: &'static str,
    values: &'static str,
    meaning: &'static str,
) -> OptionSpec {
    option(name, Values::Described { default, values }, meaning)
}

/// An option refused by name, with the reason.
pub(crate) const fn refused(name: &'static str, why: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        values: Values::Described {
            default: "—",
            values: "refused",
        },
        meaning: why,
        support: Support::Refused(why),
    }
}

/// The option `name` of `options`. The tables are static and the readers ask only for their
/// own options, so a missing name is a bug the configuration tests catch.
pub(crate) fn spec(options: &'static [OptionSpec], name: &str) -> &'static OptionSpec {
    options
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("{name} is not in its option table"))
}

/// The default of the integer option `name` of `options`, for the `Default`s of the section
/// types (which must agree with what the reader gives when the option is left out).
pub(crate) fn integer_default(options: &'static [OptionSpec], name: &str) -> i64 {
    match spec(options, name).values {
        Values::Integer {
            default: Absent::Value(n),
            ..
        } => n,
        other => panic!("{name} has no integer default: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_text_is_rendered_from_the_facts() {
        let port = integer("p", 2775, (1, 65535), Unit::Count, "");
        assert_eq!(
            (port.default_text(), port.values_text()),
            ("2775".into(), "1-65535".into())
        );
        let ms = integer("t", 10, (0, 300), Unit::Millis, "");
        assert_eq!(ms.values_text(), "0-300 (ms)");
        let rate = optional_integer("c", "unlimited", (0, 5), Unit::Other("segments/s"), "");
        assert_eq!(
            (rate.default_text(), rate.values_text()),
            ("unlimited".into(), "0-5 (segments/s)".into())
        );
        let id = text("id", Absent::Required, 15, "");
        assert_eq!(
            (id.default_text(), id.values_text()),
            ("required".into(), "1-15 characters".into())
        );
        let kind = text("k", Absent::Value(""), 12, "");
        assert_eq!(
            (kind.default_text(), kind.values_text()),
            ("\"\"".into(), "0-12 characters".into())
        );
        let mode = choice("m", "off", &["off", "on"], "");
        assert_eq!(
            (mode.default_text(), mode.values_text()),
            ("off".into(), "off, on".into())
        );
        let no = refused("x", "why");
        assert_eq!(
            (no.default_text(), no.values_text()),
            ("—".into(), "refused".into())
        );
    }
}
