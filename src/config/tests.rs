//! Tests of whole configuration texts: defaults, ranges, refusals, secrets and suggestions.

use super::*;
use crate::secret::REDACTED;
use crate::session::BindMode;
use crate::transport::{TlsMode, TlsVersion};
use std::time::Duration;

fn parse_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, ConfigErrors> {
    Config::parse(text, Path::new("/etc/smppd/smppd.toml"), env)
}

fn parse(text: &str) -> Result<Parsed, ConfigErrors> {
    parse_with(text, &|_| None)
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(ConfigErrors(e)) => e,
    }
}

const MINIMAL: &str = r#"
[channel-opensmpp]
x-smpp-host = "smsc.example.net"
x-smpp-system-id = "acme"
password = "s3cret"
"#;

#[test]
fn minimal_channel_gets_documented_defaults() {
    let parsed = parse(MINIMAL).unwrap();
    let c = &parsed.config.channels[0];
    assert_eq!(c.name, "opensmpp");
    assert_eq!(c.host, "smsc.example.net");
    assert_eq!(c.port, 2775);
    assert_eq!(c.session.bind_mode(), BindMode::Transceiver);
    assert_eq!(c.session.window_size(), 10);
    assert_eq!(c.session.max_rate(), 10);
    assert_eq!(c.session.response_timeout(), Duration::from_millis(30_000));
    assert_eq!(c.session.bind_timeout(), Duration::from_millis(30_000));
    assert_eq!(c.session.enquire_link_interval(), Duration::from_secs(30));
    assert_eq!((c.session.addr_ton(), c.session.addr_npi()), (1, 1));
    assert_eq!(c.reconnect_ceiling, Duration::from_secs(180));
    assert_eq!(c.max_segments, 255);
    assert_eq!(c.empty_message, " ");
    assert!(c.delivery_report);
    assert_eq!(c.tls.mode, TlsMode::Off);
    assert_eq!(c.tls.options.version, TlsVersion::V1_2);
    assert_eq!(c.tls.keystore, KeystoreSource::None);
    assert_eq!(c.session.password().expose(), "s3cret");
    assert!(parsed.inline_secret);
    assert!(parsed.warnings.is_empty());
}

#[test]
fn channels_keep_file_order() {
    let text = format!(
        "{MINIMAL}\n[channel-b]\nx-smpp-host = \"h\"\nx-smpp-system-id = \"b\"\n\
         [channel-a]\nx-smpp-host = \"h\"\nx-smpp-system-id = \"a\"\n"
    );
    let names: Vec<_> = parse(&text)
        .unwrap()
        .config
        .channels
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["opensmpp", "b", "a"]);
}

#[test]
fn unknown_key_names_file_section_key_and_nearest() {
    let e = errors(&format!("{MINIMAL}x-smpp-hots = \"x\"\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].to_string(),
        "/etc/smppd/smppd.toml: [channel-opensmpp] x-smpp-hots: unknown key (did you mean \"x-smpp-host\"?)"
    );
}

#[test]
fn unknown_section_is_an_error() {
    let e = errors(&format!("{MINIMAL}\n[chanel-x]\nfoo = 1\n"));
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].location.section.as_deref(), Some("chanel-x"));
    assert!(matches!(e[0].problem, Problem::UnknownSection { .. }));
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let e = errors(
        r#"
[channel-one]
x-smpp-host = "h"
x-smpp-port = 70000
x-smpp-submit-window-size = 0
x-smpp-bind-mode = "sideways"
[channel-two]
x-smpp-system-id = "this-is-far-too-long"
"#,
    );
    let keys: Vec<_> = e
        .iter()
        .map(|e| e.location.key.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        keys,
        [
            "x-smpp-port",
            "x-smpp-system-id",
            "x-smpp-bind-mode",
            "x-smpp-submit-window-size",
            "x-smpp-host",
            "x-smpp-system-id"
        ],
        "{e:#?}"
    );
    assert!(e[0].to_string().ends_with("70000 is out of range 1-65535"));
    assert_eq!(e[1].problem, Problem::Missing);
    assert!(matches!(
        e[5].problem,
        Problem::TooLong { len: 20, max: 15 }
    ));
}

#[test]
fn documented_ranges_are_enforced() {
    let cases = [
        ("x-smpp-submit-window-size", "1001"),
        ("x-smpp-response-max-waiting-time", "999"),
        ("x-smpp-response-max-waiting-time", "180001"),
        ("reconnection-timeout", "9"),
        ("x-smpp-sar-max-segments", "1"),
        ("x-smpp-sar-max-segments", "256"),
        ("x-smpp-submit-max-rate", "-1"),
    ];
    for (key, value) in cases {
        let e = errors(&format!("{MINIMAL}{key} = {value}\n"));
        assert_eq!(e.len(), 1, "{key} = {value}");
        assert!(matches!(e[0].problem, Problem::OutOfRange { .. }), "{key}");
    }
    // smppd goes beyond the original's 1-1000 for the rate: 0 is "no cap".
    let ok = parse(&format!("{MINIMAL}x-smpp-submit-max-rate = 0\n")).unwrap();
    assert_eq!(ok.config.channels[0].session.max_rate(), 0);
    let ok = parse(&format!("{MINIMAL}x-smpp-submit-max-rate = 50000\n")).unwrap();
    assert_eq!(ok.config.channels[0].session.max_rate(), 50_000);
}

#[test]
fn sessions_share_the_rate_cap_exactly() {
    let ok = parse(&format!(
        "{MINIMAL}x-smpp-sessions = 3\nx-smpp-submit-max-rate = 10\n"
    ))
    .unwrap();
    let c = &ok.config.channels[0];
    assert_eq!(c.sessions, 3);
    let shares: Vec<u32> = (0..3).map(|slot| c.rate_share(slot)).collect();
    assert_eq!(shares, [4, 3, 3]);
    assert_eq!(c.slot_params(0).max_rate(), 4);
    assert_eq!(c.slot_params(2).max_rate(), 3);
    assert_eq!(c.session.max_rate(), 10);
    // No cap stays no cap for every session.
    let ok = parse(&format!(
        "{MINIMAL}x-smpp-sessions = 64\nx-smpp-submit-max-rate = 0\n"
    ))
    .unwrap();
    assert_eq!(ok.config.channels[0].rate_share(63), 0);
    // The default: one session with the whole cap.
    let ok = parse(MINIMAL).unwrap();
    assert_eq!(ok.config.channels[0].sessions, 1);
    assert_eq!(ok.config.channels[0].rate_share(0), 10);
    // A share of 0 would lift the cap: refused, naming both options.
    let e = errors(&format!(
        "{MINIMAL}x-smpp-sessions = 4\nx-smpp-submit-max-rate = 3\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].location.key.as_deref(), Some("x-smpp-submit-max-rate"));
    assert!(e[0].to_string().contains("x-smpp-sessions"), "{}", e[0]);
    for bad in ["0", "65"] {
        let e = errors(&format!("{MINIMAL}x-smpp-sessions = {bad}\n"));
        assert!(matches!(e[0].problem, Problem::OutOfRange { .. }), "{bad}");
    }
}

#[test]
fn genesys_string_values_are_accepted() {
    let text = format!(
        "{MINIMAL}x-smpp-port = \"2776\"\nx-smpp-use-msg-payload = \"true\"\nx-smpp-tls-version = 1.3\n\
         x-smpp-tls-mode = \"single\"\n"
    );
    let c = &parse(&text).unwrap().config.channels[0];
    assert_eq!(c.port, 2776);
    assert!(c.use_message_payload);
    assert_eq!(c.tls.options.version, TlsVersion::V1_3);
}

#[test]
fn password_longer_than_smpp_allows_is_refused_without_showing_it() {
    let text = MINIMAL.replace("s3cret", "toolongpassword");
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    let shown = e[0].to_string();
    assert!(shown.contains("password: 15 octets is too long: at most 8"));
    assert!(!shown.contains("toolongpassword"));
}

#[test]
fn refused_options_say_why() {
    for key in [
        "inbound-route",
        "session-by-address",
        "x-smpp-extraopt",
        "x-smpp-receive-timeout",
    ] {
        let e = errors(&format!("{MINIMAL}{key} = \"x\"\n"));
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0].problem, Problem::Refused { .. }), "{key}");
        assert!(e[0].to_string().contains("not supported: "), "{key}");
    }
}

#[test]
fn driver_classname_is_ignored_only_with_its_documented_value() {
    let ok = parse(&format!(
        "{MINIMAL}driver-classname = \"{}\"\n",
        options::GENESYS_DRIVER_CLASS
    ))
    .unwrap();
    assert_eq!(ok.warnings.len(), 1);
    assert!(ok.warnings[0].to_string().contains("driver-classname"));
    let e = errors(&format!(
        "{MINIMAL}driver-classname = \"com.example.Other\"\n"
    ));
    assert!(matches!(e[0].problem, Problem::Invalid { .. }));
}

#[test]
fn secrets_from_env_and_file() {
    let dir = std::env::temp_dir().join(format!("smppd-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("bind-password");
    std::fs::write(&secret_file, "fromfile\n").unwrap();
    let text = format!(
        r#"
[channel-a]
x-smpp-host = "h"
x-smpp-system-id = "a"
password = {{ env = "SMPP_PW" }}
[channel-b]
x-smpp-host = "h"
x-smpp-system-id = "b"
password = {{ file = "{}" }}
"#,
        secret_file.display()
    );
    let env = |v: &str| (v == "SMPP_PW").then(|| "fromenv".to_string());
    let parsed = parse_with(&text, &env).unwrap();
    assert_eq!(
        parsed.config.channels[0].session.password().expose(),
        "fromenv"
    );
    assert_eq!(
        parsed.config.channels[1].session.password().expose(),
        "fromfile"
    );
    assert!(!parsed.inline_secret);

    let e = match parse_with(&text, &|_| None) {
        Err(ConfigErrors(e)) => e,
        Ok(_) => panic!("missing env var must fail"),
    };
    assert_eq!(
        e[0].problem,
        Problem::EnvVarMissing {
            var: "SMPP_PW".into()
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_output_never_shows_passwords() {
    let text = format!(
        "{MINIMAL}x-smpp-tls-mode = \"mutual\"\nx-smpp-tls-path-to-certificate = \"c.p12\"\n\
         x-smpp-tls-certificate-file-password = \"filepw99\"\nx-smpp-tls-certificate-password = \"keypw77\"\n"
    );
    let parsed = parse(&text).unwrap();
    let debug = format!("{:?}", parsed.config);
    for secret in ["s3cret", "filepw99", "keypw77"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains(REDACTED));
    match &parsed.config.channels[0].tls.keystore {
        KeystoreSource::Pkcs12 {
            path,
            file_password,
            key_password,
        } => {
            assert_eq!(path, Path::new("/etc/smppd/c.p12"));
            assert_eq!(file_password.expose(), "filepw99");
            assert_eq!(key_password.expose(), "keypw77");
        }
        other => panic!("unexpected keystore {other:?}"),
    }
}

#[test]
fn key_password_defaults_to_file_password() {
    let text = format!(
        "{MINIMAL}x-smpp-tls-mode = \"mutual\"\nx-smpp-tls-path-to-certificate = \"c.p12\"\n\
         x-smpp-tls-certificate-file-password = \"same\"\n"
    );
    let parsed = parse(&text).unwrap();
    let KeystoreSource::Pkcs12 { key_password, .. } = &parsed.config.channels[0].tls.keystore
    else {
        panic!("expected PKCS#12");
    };
    assert_eq!(key_password.expose(), "same");
}

#[test]
fn mutual_without_identity_is_an_error() {
    let e = errors(&format!("{MINIMAL}x-smpp-tls-mode = \"mutual\"\n"));
    assert_eq!(e[0].location.key.as_deref(), Some("x-smpp-tls-mode"));
    assert!(matches!(e[0].problem, Problem::Conflict(_)));
}

#[test]
fn validity_period_forms() {
    let secs = parse(&format!("{MINIMAL}x-smpp-validity-period = 3600\n")).unwrap();
    assert_eq!(secs.config.channels[0].validity_period, "000000010000000R");
    let abs = parse(&format!(
        "{MINIMAL}x-smpp-validity-period = \"261125103000004+\"\n"
    ))
    .unwrap();
    assert_eq!(abs.config.channels[0].validity_period, "261125103000004+");
    let e = errors(&format!("{MINIMAL}x-smpp-validity-period = \"tomorrow\"\n"));
    assert!(matches!(e[0].problem, Problem::Invalid { .. }));
}

#[test]
fn no_channel_is_a_warning_and_bad_toml_an_error() {
    for text in ["", "[http]\nlisten = \"127.0.0.1:8080\"\n"] {
        let parsed = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.config.channels.is_empty());
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(
            parsed.warnings[0]
                .message
                .starts_with("no [channel-NAME] section"),
            "{}",
            parsed.warnings[0]
        );
    }
    assert!(matches!(
        errors("[channel-a")[0].problem,
        Problem::Syntax(_)
    ));
    assert_eq!(
        errors("[channel-]\nx-smpp-host = \"h\"\n")[0].problem,
        Problem::BadChannelName
    );
}

#[cfg(unix)]
#[test]
fn world_readable_inline_password_warns() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("smppd-perm-test-{}.toml", std::process::id()));
    std::fs::write(&path, MINIMAL).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = Config::load(&path).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0]
        .message
        .contains("readable by group or others"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Config::load(&path).unwrap().warnings.is_empty());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn session_layer_limits_are_checked_at_load() {
    let e = errors(&MINIMAL.replace("\"acme\"", "\"ácme\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].location.key.as_deref(), Some("x-smpp-system-id"));
    assert!(e[0].to_string().contains("ASCII"), "{}", e[0]);
    let params = &parse(MINIMAL).unwrap().config.channels[0].session;
    assert_eq!(params.system_id(), "acme");
    assert_eq!(params.window_size(), 10);
}

/// A channel whose `password` is read from `path`.
fn with_password_file(path: &Path) -> String {
    format!(
        "[channel-a]\nx-smpp-host = \"h\"\nx-smpp-system-id = \"a\"\npassword = {{ file = \"{}\" }}\n",
        path.display()
    )
}

#[test]
fn secret_files_must_be_small_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pw.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let huge = dir.path().join("pw.huge");
    std::fs::write(&huge, vec![b'x'; 64 * 1024 + 1]).unwrap();
    let cases = [
        (
            Path::new("/dev/zero"),
            "it is a character device, not a regular file",
        ),
        (
            fifo.as_path(),
            "it is a FIFO (named pipe), not a regular file",
        ),
        (dir.path(), "it is a directory, not a regular file"),
        (
            huge.as_path(),
            "larger than 65536 bytes, too big for a secret file",
        ),
    ];
    for (path, expected) in cases {
        let started = std::time::Instant::now();
        let e = errors(&with_password_file(path));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{path:?} blocked"
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].location.key.as_deref(), Some("password"));
        assert_eq!(
            e[0].problem.to_string(),
            format!("cannot read the secret file {}: {expected}", path.display())
        );
    }
}

#[cfg(unix)]
#[test]
fn the_configuration_file_itself_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("smppd.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let Err(ConfigErrors(e)) = Config::load(&fifo) else {
        panic!("a FIFO was accepted as the configuration");
    };
    assert_eq!(
        e[0].to_string(),
        format!(
            "{}: cannot read the file: it is a FIFO (named pipe), not a regular file",
            fifo.display()
        )
    );
    let Err(ConfigErrors(e)) = Config::load(Path::new("/dev/zero")) else {
        panic!("/dev/zero was accepted as the configuration");
    };
    assert!(e[0].to_string().contains("character device"), "{}", e[0]);
}
