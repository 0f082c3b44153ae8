//! The generated files: one man page per visible command that `man` reads, and completions
//! for every subcommand.

use super::*;
use std::collections::BTreeSet;
use std::process::Command as Process;

/// The visible subcommands below `cmd`, as paths of names (`["keystore", "inspect"]`).
fn visible(cmd: &Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        visible(sub, &path, out);
        out.push(path);
    }
}

fn subcommands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    visible(&super::super::Cli::command(), &[], &mut out);
    out
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn one_man_page_per_visible_command_in_section_8() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let written = man_pages(super::super::Cli::command(), &out).unwrap();

    let mut expected: BTreeSet<String> = subcommands()
        .iter()
        .map(|path| format!("smppd-{}.8", path.join("-")))
        .collect();
    expected.insert("smppd.8".to_string());
    assert_eq!(names_in(&out), expected);
    assert_eq!(written.len(), expected.len());
    for page in [
        "smppd.8",
        "smppd-run.8",
        "smppd-check-config.8",
        "smppd-store-inspect.8",
    ] {
        assert!(expected.contains(page), "{page} missing from {expected:?}");
    }
    assert!(!expected.iter().any(|p| p.contains("generate")));

    let top = std::fs::read_to_string(out.join("smppd.8")).unwrap();
    // Title, section, date, source, manual: an empty date would shift the footer.
    let th = top.lines().find(|l| l.starts_with(".TH ")).unwrap();
    let date = th.strip_prefix(".TH SMPPD 8 ").unwrap_or_default();
    assert!(
        date.len() > 10 && date.as_bytes()[..4].iter().all(u8::is_ascii_digit),
        "{th}"
    );
    assert!(th.ends_with("\"smppd manual\""), "{th}");
    assert!(top.contains("smppd\\-run(8)"), "{top}");
    let run = std::fs::read_to_string(out.join("smppd-run.8")).unwrap();
    assert!(run.contains("\n.TH SMPPD-RUN 8 "), "{run}");
    assert!(run.contains("\\-\\-config"), "{run}");
}

/// Each page formats without a warning. Needs `man` (package man-db; `.ci/run` installs it).
#[test]
fn man_reads_every_page() {
    if Process::new("man").arg("--version").output().is_err() {
        eprintln!("SKIPPED man_reads_every_page: `man` is not installed (apt-get install man-db)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for page in man_pages(super::super::Cli::command(), dir.path()).unwrap() {
        let out = Process::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {warnings}", page.display());
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    }
}

#[test]
fn completions_for_three_shells_name_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let written = completions(super::super::Cli::command(), dir.path()).unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(
        names_in(dir.path()),
        ["_smppd", "smppd.bash", "smppd.fish"]
            .map(String::from)
            .into()
    );
    let paths = subcommands();
    assert!(paths.iter().any(|p| p == &["run"]));
    for file in ["_smppd", "smppd.bash", "smppd.fish"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        for path in &paths {
            let name = path.last().unwrap();
            assert!(
                text.contains(name.as_str()),
                "{file} does not mention {path:?}"
            );
        }
        let config = if file == "smppd.fish" {
            "-l config"
        } else {
            "--config"
        };
        assert!(
            text.contains(config),
            "{file} does not complete run's options"
        );
    }
}
