//! The configuration files shipped in `config/` stay valid as the option table evolves.

use smppd::config::{Config, KeystoreSource};
use smppd::transport::TlsMode;
use std::path::Path;

#[test]
fn annotated_example_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/smppd.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // The example reads its passwords from a credential file and the environment; stand in for
    // both so the test checks the options, not this machine.
    let text = text.replace(
        "{ file = \"/run/credentials/smppd.service/bind-password\" }",
        "\"pw\"",
    );
    let env = |var: &str| Some(format!("value-of-{var}"));
    let parsed = Config::parse(&text, &path, &env).unwrap_or_else(|e| panic!("{e}"));
    let channel = &parsed.config.channels[0];
    assert_eq!(channel.name, "opensmpp");
    assert_eq!(channel.tls.mode, TlsMode::Mutual);
    assert!(matches!(
        channel.tls.keystore,
        KeystoreSource::Pkcs12 { .. }
    ));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
}

/// Option names, defaults and ranges are a contract with operators: every option the
/// configuration accepts (or refuses by name) is documented in the configuration reference,
/// docs/configuration.md, in its section's table, with exactly the default and the values the
/// option table states; and the reference documents no option the table lacks.
#[test]
fn reference_states_every_option_as_the_table_does() {
    use smppd::config::OPTION_TABLES;
    use std::collections::BTreeMap;
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let documented = documented_options(&reference);
    let mut problems = Vec::new();
    for (section, options) in OPTION_TABLES {
        let Some(rows) = documented.get(*section) else {
            problems.push(format!("no table for `{section}`"));
            continue;
        };
        for option in *options {
            let Some((default, values)) = rows.get(option.name) else {
                problems.push(format!("{section} {} is not documented", option.name));
                continue;
            };
            if *default != option.default_text() {
                problems.push(format!(
                    "{section} {}: the default is {:?}, the reference says {default:?}",
                    option.name,
                    option.default_text()
                ));
            }
            if *values != option.values_text() {
                problems.push(format!(
                    "{section} {}: the values are {:?}, the reference says {values:?}",
                    option.name,
                    option.values_text()
                ));
            }
        }
        for name in rows.keys() {
            if !options.iter().any(|o| o.name == name) {
                problems.push(format!("{section} {name} is documented but no option"));
            }
        }
    }
    let sections: BTreeMap<_, _> = OPTION_TABLES.iter().copied().collect();
    for section in documented.keys() {
        if !sections.contains_key(section.as_str()) {
            problems.push(format!(
                "a table for `{section}`, which has no option table"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/configuration.md:\n{}",
        problems.join("\n")
    );
}

/// The option tables of the reference: for each section (a table whose header starts with
/// `` `[SECTION]` key ``), each row's option name with its default and values cells, without
/// the Markdown backticks.
fn documented_options(
    reference: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, (String, String)>> {
    let mut tables = std::collections::BTreeMap::new();
    let mut section: Option<String> = None;
    for line in reference.lines() {
        if !line.starts_with('|') {
            section = None;
            continue;
        }
        // The header's separator row, |---|---|, keeps the table going.
        let Some(row) = line.strip_prefix("| ") else {
            continue;
        };
        let cells: Vec<String> = row
            .trim_end_matches('|')
            .split(" | ")
            .map(|cell| cell.trim().replace('`', ""))
            .collect();
        if let Some(name) = cells[0].strip_suffix(" key") {
            if name.starts_with('[') {
                section = Some(name.to_string());
                tables.insert(name.to_string(), std::collections::BTreeMap::new());
            }
            continue;
        }
        let (Some(section), [name, default, values, ..]) = (&section, cells.as_slice()) else {
            continue;
        };
        let previous = tables.get_mut(section).and_then(
            |t: &mut std::collections::BTreeMap<String, (String, String)>| {
                t.insert(name.clone(), (default.clone(), values.clone()))
            },
        );
        assert!(previous.is_none(), "{section} {name} is documented twice");
    }
    tables
}
