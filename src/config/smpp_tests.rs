//! Tests of `[smpp-server]` and `[smpp-user-NAME]` in whole configuration texts: a full
//! example, and each refusal with its section and key.

use super::*;
use crate::secret::{Secret, REDACTED};
use crate::transport::{TlsMode, TlsVersion};
use argon2::password_hash::{PasswordHasher, SaltString};
use std::net::IpAddr;

const PATH: &str = "/etc/smppd/smppd.toml";

/// An Argon2id hash of `password` with cheap parameters (the parser accepts them; the tests
/// need not pay for OWASP's).
fn phc(password: &str) -> String {
    let salt = SaltString::encode_b64(b"fixed test salt!").unwrap();
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

const CHANNELS: &str = r#"
[channel-smsc-a]
x-smpp-host = "a.example.net"
x-smpp-system-id = "a"

[channel-smsc-b]
x-smpp-host = "b.example.net"
x-smpp-system-id = "b"
"#;

fn server() -> String {
    r#"
[smpp-server]
listen = "0.0.0.0:2776"
tls-mode = "mutual"
tls-version = "1.3"
tls-path-to-certificate = "pki/server.p12"
tls-certificate-file-password = { env = "P12_FILE" }
tls-certificate-password = { env = "P12_KEY" }
tls-client-ca = "pki/clients-ca.pem"
bind-timeout = 5
idle-timeout = 600
deliver-window = 250
"#
    .to_string()
}

fn acme() -> String {
    format!(
        r#"
[smpp-user-acme]
system-id = "acme"
password-hash = "{}"
allowed-ips = ["203.0.113.0/24", "2001:db8::1"]
max-binds = 8
throughput = 50
credits = 10000
channels = ["smsc-b", "smsc-a"]
address-ranges = ["+31699887766", "3169988*"]
"#,
        phc("acme-pw")
    )
}

/// A minimal user section with `extra` lines added.
fn user(name: &str, system_id: &str, extra: &str) -> String {
    format!(
        "\n[smpp-user-{name}]\nsystem-id = \"{system_id}\"\npassword-hash = \"{}\"\nchannels = [\"smsc-a\"]\n{extra}\n",
        phc("pw")
    )
}

fn env(var: &str) -> Option<String> {
    match var {
        "P12_FILE" => Some("filepass".into()),
        "P12_KEY" => Some("keypass".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Parsed, ConfigErrors> {
    Config::parse(text, Path::new(PATH), &env)
}

/// The one error `text` has: its section, its key and its message.
fn one_error(text: &str) -> (String, Option<String>, String) {
    let errors = match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(ConfigErrors(e)) => e,
    };
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    (
        e.location.section.clone().unwrap_or_default(),
        e.location.key.clone(),
        e.to_string(),
    )
}

#[test]
fn a_full_example_reads_as_written() {
    let text = format!("{CHANNELS}{}{}", server(), acme());
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let server = parsed.config.smpp_server.as_ref().unwrap();
    assert_eq!(server.listen, "0.0.0.0:2776".parse().unwrap());
    assert_eq!(server.tls.mode(), TlsMode::Mutual);
    assert_eq!(server.bind_timeout, std::time::Duration::from_secs(5));
    assert_eq!(server.idle_timeout, std::time::Duration::from_secs(600));
    assert_eq!(server.deliver_window, 250);
    assert_eq!(
        server.tls,
        ServerTls::Mutual {
            version: TlsVersion::V1_3,
            keystore: Pkcs12File {
                path: "/etc/smppd/pki/server.p12".into(),
                file_password: Secret::new("filepass"),
                key_password: Secret::new("keypass"),
            },
            client_ca: "/etc/smppd/pki/clients-ca.pem".into(),
        }
    );
    let users = &parsed.config.smpp_users;
    assert_eq!(users.len(), 1);
    let u = &users[0];
    assert_eq!((u.name.as_str(), u.system_id.as_str()), ("acme", "acme"));
    assert!(u.password_hash.verify(&Secret::new("acme-pw")));
    assert!(!u.password_hash.verify(&Secret::new("other")));
    assert_eq!(
        u.allowed_ips,
        [
            "203.0.113.0/24".parse().unwrap(),
            "2001:db8::1/128".parse().unwrap()
        ]
    );
    assert!(u.allows("203.0.113.9".parse().unwrap()));
    assert!(!u.allows("198.51.100.1".parse().unwrap()));
    assert_eq!(
        (u.max_binds, u.throughput, u.credits),
        (8, 50, Some(10_000))
    );
    assert_eq!(u.channels, ["smsc-b", "smsc-a"]);
    let ranges: Vec<String> = u.address_ranges.iter().map(ToString::to_string).collect();
    assert_eq!(ranges, ["31699887766", "3169988*"]);
    let debug = format!("{u:?}");
    assert!(
        debug.contains(REDACTED) && !debug.contains("argon2id"),
        "{debug}"
    );
}

#[test]
fn defaults_of_a_minimal_user_and_server() {
    let text = format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"[::]:2775\"\n{}",
        user("min", "min", "")
    );
    let config = parse(&text).unwrap().config;
    let server = config.smpp_server.unwrap();
    assert_eq!(server.tls, ServerTls::Off);
    assert_eq!(server.bind_timeout, std::time::Duration::from_secs(10));
    assert_eq!(server.idle_timeout, std::time::Duration::from_secs(120));
    let u = &config.smpp_users[0];
    assert!(u.allowed_ips.is_empty());
    assert!(u.allows(IpAddr::from([192, 0, 2, 1])));
    assert_eq!((u.max_binds, u.throughput, u.credits), (4, 100, None));
    assert!(u.address_ranges.is_empty());
    let single = format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mode = \"single\"\ntls-path-to-certificate = \"s.p12\"\ntls-certificate-file-password = \"pw\"\n"
    );
    let parsed = parse(&single).unwrap();
    assert!(parsed.inline_secret);
    let ServerTls::Single { version, keystore } = parsed.config.smpp_server.unwrap().tls else {
        panic!("not single");
    };
    assert_eq!(version, TlsVersion::V1_2);
    assert_eq!(keystore.key_password.expose(), "pw", "the file password");
}

#[test]
fn users_keep_file_order_and_inbound_goes_to_the_best_range() {
    let text = format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n{}{}{}",
        user("wide", "wide", "address-ranges = [\"31*\"]"),
        user("narrow", "narrow", "address-ranges = [\"316998*\"]"),
        user(
            "one",
            "one",
            "address-ranges = [\"+31699887766\", \"3169988776*\"]"
        ),
    );
    let users = parse(&text).unwrap().config.smpp_users;
    let names: Vec<_> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["wide", "narrow", "one"]);
    let to = |address: &str| user_for_address(&users, address).map(|u| u.name.as_str());
    assert_eq!(to("+31699887766"), Some("one"), "exact beats prefix");
    assert_eq!(to("31699887767"), Some("one"), "longer prefix");
    assert_eq!(to("3169981"), Some("narrow"));
    assert_eq!(to("3120"), Some("wide"));
    assert_eq!(to("4420"), None);
    assert_eq!(to("ACME"), None);
}

#[test]
fn an_exact_range_beats_the_prefix_of_the_same_digits() {
    let text = format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n{}{}",
        user("prefix", "p", "address-ranges = [\"3169988*\"]"),
        user("exact", "e", "address-ranges = [\"3169988\"]"),
    );
    let users = parse(&text).unwrap().config.smpp_users;
    let to = |address: &str| user_for_address(&users, address).map(|u| u.name.as_str());
    assert_eq!(to("3169988"), Some("exact"));
    assert_eq!(to("31699880"), Some("prefix"));
}

#[test]
fn a_plaintext_password_is_refused_with_the_way_out() {
    let text = format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n\n[smpp-user-acme]\nsystem-id = \"acme\"\npassword = \"hunter2\"\nchannels = [\"smsc-a\"]\n"
    );
    let (section, key, message) = one_error(&text);
    assert_eq!(
        (section.as_str(), key.as_deref()),
        ("smpp-user-acme", Some("password"))
    );
    assert!(
        message.contains("smppd hash-password") && message.contains("password-hash"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_hash_other_than_argon2id_is_refused_without_being_quoted() {
    let argon2i = phc("pw").replacen("argon2id", "argon2i", 1);
    for (hash, says) in [
        ("hunter2", "plaintext"),
        (argon2i.as_str(), "argon2i"),
        (
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "bcrypt",
        ),
    ] {
        let text = format!(
            "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n\n[smpp-user-acme]\nsystem-id = \"acme\"\npassword-hash = \"{hash}\"\nchannels = [\"smsc-a\"]\n"
        );
        let (section, key, message) = one_error(&text);
        assert_eq!(
            (section.as_str(), key.as_deref()),
            ("smpp-user-acme", Some("password-hash"))
        );
        assert!(message.contains(says), "{message}");
        assert!(!message.contains(hash), "{message}");
    }
}

/// `[smpp-server]` (plain) and the two channels, then `users`.
fn with_users(users: &str) -> String {
    format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n{users}")
}

#[test]
fn each_refusal_names_its_section_and_key() {
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            with_users(&user("a", "a", "channels = [\"smsc-c\"]").replace(
                "channels = [\"smsc-a\"]\n",
                "",
            )),
            "smpp-user-a",
            "channels",
            "names no [channel-smsc-c] section",
        ),
        (
            with_users(&user("a", "a", "").replace("[\"smsc-a\"]", "[\"smsc-a\", \"smsc-a\"]")),
            "smpp-user-a",
            "channels",
            "listed twice",
        ),
        (
            with_users(&user("a", "a", "").replace("channels = [\"smsc-a\"]", "channels = []")),
            "smpp-user-a",
            "channels",
            "at least one",
        ),
        (
            with_users(&format!("{}{}", user("a", "same", ""), user("b", "same", ""))),
            "smpp-user-b",
            "system-id",
            "also the system-id of [smpp-user-a]",
        ),
        (
            with_users(&user("a", "sixteen-octets-x", "")),
            "smpp-user-a",
            "system-id",
            "at most 15",
        ),
        (
            with_users(&user("a", "a", "allowed-ips = [\"203.0.113.5/24\"]")),
            "smpp-user-a",
            "allowed-ips",
            "203.0.113.0/24",
        ),
        (
            with_users(&user("a", "a", "allowed-ips = [\"203.0.113.0/33\"]")),
            "smpp-user-a",
            "allowed-ips",
            "prefix length of at most 32",
        ),
        (
            with_users(&user("a", "a", "allowed-ips = []")),
            "smpp-user-a",
            "allowed-ips",
            "an empty list would let no client in",
        ),
        (
            with_users(&user("a", "a", "allowed-ips = [\"intranet\"]")),
            "smpp-user-a",
            "allowed-ips",
            "\"intranet\" is not valid",
        ),
        (
            with_users(&user("a", "a", "address-ranges = [\"31-6*\"]")),
            "smpp-user-a",
            "address-ranges",
            "\"31-6*\" is not valid",
        ),
        (
            with_users(&format!(
                "{}{}",
                user("a", "a", "address-ranges = [\"+3169988*\"]"),
                user("b", "b", "address-ranges = [\"3169988*\"]")
            )),
            "smpp-user-b",
            "address-ranges",
            "also an address range of [smpp-user-a]",
        ),
        (
            with_users(&user("a", "a", "max-binds = 65")),
            "smpp-user-a",
            "max-binds",
            "out of range 1-64",
        ),
        (
            with_users(&user("a", "a", "throughput = 0")),
            "smpp-user-a",
            "throughput",
            "out of range 1-100000",
        ),
        (
            with_users(&user("a", "a", "credits = -1")),
            "smpp-user-a",
            "credits",
            "out of range 0-1000000000000",
        ),
        (
            with_users(&user("a", "a", "max-bind = 2")),
            "smpp-user-a",
            "max-bind",
            "did you mean \"max-binds\"?",
        ),
        (
            with_users("\n[smpp-user-a]\nsystem-id = \"a\"\nchannels = [\"smsc-a\"]\n"),
            "smpp-user-a",
            "password-hash",
            "required, but missing",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\ntls-mode = \"off\"\n"),
            "smpp-server",
            "listen",
            "required, but missing",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\nbind-timeout = 0\n"),
            "smpp-server",
            "bind-timeout",
            "out of range 1-300",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\nidle-timeout = 5\n"),
            "smpp-server",
            "idle-timeout",
            "out of range 10-86400",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ndeliver-window = 0\n"),
            "smpp-server",
            "deliver-window",
            "out of range 1-1000",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"2775\"\n"),
            "smpp-server",
            "listen",
            "IP:port",
        ),
        (
            format!(
                "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mode = \"mutual\"\ntls-path-to-certificate = \"s.p12\"\n"
            ),
            "smpp-server",
            "tls-client-ca",
            "required with tls-mode = \"mutual\"",
        ),
        (
            format!(
                "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mode = \"single\"\ntls-path-to-certificate = \"s.p12\"\ntls-client-ca = \"ca.pem\"\n"
            ),
            "smpp-server",
            "tls-client-ca",
            "only with tls-mode = \"mutual\"",
        ),
        (
            format!(
                "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-client-ca = \"ca.pem\"\n"
            ),
            "smpp-server",
            "tls-client-ca",
            "tls-mode is off",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mode = \"single\"\n"),
            "smpp-server",
            "tls-path-to-certificate",
            "required with tls-mode = \"single\"",
        ),
        (
            format!(
                "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mode = \"single\"\ntls-path-to-certificate = \"s.p12\"\ntls-version = \"1.1\"\n"
            ),
            "smpp-server",
            "tls-version",
            "one of: 1.2, 1.3",
        ),
        (
            format!("{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\ntls-mod = \"single\"\n"),
            "smpp-server",
            "tls-mod",
            "did you mean \"tls-mode\"?",
        ),
    ];
    for (text, section, key, says) in cases {
        let (found_section, found_key, message) = one_error(&text);
        assert_eq!(
            (found_section.as_str(), found_key.as_deref()),
            (section, Some(key)),
            "{message}"
        );
        assert!(message.contains(says), "{message}\nshould say: {says}");
    }
}

#[test]
fn a_bad_user_section_name_and_a_misspelt_section_are_named() {
    let (section, key, message) = one_error(&format!("{CHANNELS}\n[smpp-user-]\n"));
    assert_eq!((section.as_str(), key), ("smpp-user-", None));
    assert!(message.contains("user name"), "{message}");
    let (section, _, message) = one_error(&format!("{CHANNELS}\n[smpp-servr]\n"));
    assert_eq!(section, "smpp-servr");
    assert!(
        message.contains("did you mean \"smpp-server\"?"),
        "{message}"
    );
}

#[test]
fn users_without_a_server_and_a_server_without_users_are_warned_about() {
    let text = format!("{CHANNELS}{}", user("a", "a", ""));
    let parsed = parse(&text).unwrap();
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    let w = &parsed.warnings[0];
    assert_eq!(w.location.section.as_deref(), Some("smpp-user-a"));
    assert!(w.message.contains("no [smpp-server]"), "{w}");
    assert_eq!(parsed.config.smpp_users.len(), 1);
    let parsed = parse(&format!(
        "{CHANNELS}\n[smpp-server]\nlisten = \"127.0.0.1:2775\"\n"
    ))
    .unwrap();
    assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
    assert!(parsed.warnings[0]
        .message
        .contains("every bind will be refused"));
}

#[test]
fn a_file_without_the_server_sections_has_none() {
    let config = parse(CHANNELS).unwrap().config;
    assert_eq!(config.smpp_server, None);
    assert!(config.smpp_users.is_empty());
}
