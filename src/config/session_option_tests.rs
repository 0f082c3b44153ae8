//! Tests of the channel options that set a session parameter only smppd has:
//! `x-smpp-drain-timeout`, `x-smpp-transient-retry-limit`, `x-smpp-throttle-pause` and
//! `x-smpp-throttle-pause-max`. Each is read once into the channel's session parameters, with
//! the range the session layer checks.

use super::*;
use std::time::Duration;

const MINIMAL: &str = r#"
[channel-a]
x-smpp-host = "smsc.example.net"
x-smpp-system-id = "acme"
"#;

fn channel(extra: &str) -> ChannelConfig {
    let text = format!("{MINIMAL}{extra}");
    let parsed = Config::parse(&text, Path::new("/etc/smppd/smppd.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    parsed.config.channels.into_iter().next().unwrap()
}

fn only_error(extra: &str) -> ConfigError {
    let text = format!("{MINIMAL}{extra}");
    match Config::parse(&text, Path::new("/etc/smppd/smppd.toml"), &|_| None) {
        Ok(_) => panic!("expected an error for {extra}"),
        Err(ConfigErrors(mut e)) => {
            assert_eq!(e.len(), 1, "{e:?}");
            e.remove(0)
        }
    }
}

#[test]
fn defaults_are_the_session_defaults() {
    let c = channel("");
    assert_eq!(c.session.drain_timeout(), Duration::from_secs(10));
    assert_eq!(c.session.transient_retry_limit(), 3);
    assert_eq!(c.session.throttle_pause(), Duration::from_secs(1));
    assert_eq!(c.session.throttle_pause_max(), Duration::from_secs(30));
}

#[test]
fn each_bound_is_accepted_in_milliseconds_or_as_a_string() {
    let c = channel("x-smpp-drain-timeout = 0\nx-smpp-transient-retry-limit = 0\n");
    assert_eq!(c.session.drain_timeout(), Duration::ZERO);
    assert_eq!(c.session.transient_retry_limit(), 0);
    let c = channel("x-smpp-drain-timeout = \"300000\"\nx-smpp-transient-retry-limit = 100\n");
    assert_eq!(c.session.drain_timeout(), Duration::from_secs(300));
    assert_eq!(c.session.transient_retry_limit(), 100);
    let c = channel("x-smpp-throttle-pause = 10\nx-smpp-throttle-pause-max = 10\n");
    assert_eq!(c.session.throttle_pause(), Duration::from_millis(10));
    assert_eq!(c.session.throttle_pause_max(), Duration::from_millis(10));
    let c = channel("x-smpp-throttle-pause = 600000\nx-smpp-throttle-pause-max = 600000\n");
    assert_eq!(c.session.throttle_pause(), Duration::from_secs(600));
    assert_eq!(c.session.throttle_pause_max(), Duration::from_secs(600));
    // Every session of the channel gets them.
    let c = channel("x-smpp-sessions = 2\nx-smpp-transient-retry-limit = 7\n");
    assert_eq!(c.slot_params(1).transient_retry_limit(), 7);
}

#[test]
fn out_of_range_values_name_the_option_and_its_range() {
    let cases = [
        ("x-smpp-drain-timeout", "-1", "0-300000"),
        ("x-smpp-drain-timeout", "300001", "0-300000"),
        ("x-smpp-transient-retry-limit", "-1", "0-100"),
        ("x-smpp-transient-retry-limit", "101", "0-100"),
        ("x-smpp-throttle-pause-max", "9", "10-600000"),
        ("x-smpp-throttle-pause-max", "600001", "10-600000"),
    ];
    for (key, value, range) in cases {
        let e = only_error(&format!("{key} = {value}\n"));
        assert_eq!(e.location.key.as_deref(), Some(key));
        assert_eq!(
            e.problem,
            Problem::OutOfRange {
                value: value.parse().unwrap(),
                range: range.into()
            }
        );
        assert!(
            e.to_string().ends_with(&format!(
                "[channel-a] {key}: {value} is out of range {range}"
            )),
            "{e}"
        );
    }
    // Below its own bound, and above the default longest pause (30000).
    for (value, range) in [("9", "10-600000"), ("600001", "10-600000")] {
        let e = only_error(&format!(
            "x-smpp-throttle-pause = {value}\nx-smpp-throttle-pause-max = 600000\n"
        ));
        assert_eq!(e.location.key.as_deref(), Some("x-smpp-throttle-pause"));
        assert_eq!(
            e.problem,
            Problem::OutOfRange {
                value: value.parse().unwrap(),
                range: range.into()
            }
        );
    }
}

#[test]
fn the_first_pause_may_not_exceed_the_longest() {
    let e = only_error("x-smpp-throttle-pause = 5000\nx-smpp-throttle-pause-max = 4000\n");
    assert_eq!(e.location.key.as_deref(), Some("x-smpp-throttle-pause"));
    assert_eq!(
        e.problem.to_string(),
        "x-smpp-throttle-pause = 5000 must be at most x-smpp-throttle-pause-max = 4000"
    );
    // Above the default longest pause without raising it.
    let e = only_error("x-smpp-throttle-pause = 31000\n");
    assert!(
        e.to_string().contains("x-smpp-throttle-pause-max = 30000"),
        "{e}"
    );
}

#[test]
fn a_word_is_not_a_duration() {
    let e = only_error("x-smpp-drain-timeout = \"10s\"\n");
    assert_eq!(e.location.key.as_deref(), Some("x-smpp-drain-timeout"));
    assert_eq!(
        e.problem,
        Problem::Invalid {
            value: "10s".into(),
            expected: "an integer in 0-300000".into()
        }
    );
}
