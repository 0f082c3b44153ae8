//! `smppd hash-password` end to end (a password piped in, only its hash on stdout, refusals
//! on stderr with exit status 1), and `smppd check-config` on a file with `[smpp-server]` and
//! a user whose hash the command wrote.

use std::process::{Command, Stdio};

use smppd::password::PasswordHash;
use smppd::secret::Secret;

use crate::support::cli::smppd;
use crate::support::dev_pki::dev;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The hash `smppd hash-password` prints for `password`.
fn hash_of(password: &str) -> String {
    let out = smppd(&["hash-password"], format!("{password}\n").as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let phc = stdout.strip_suffix('\n').expect("one line");
    assert!(!phc.contains('\n'), "only the hash: {stdout:?}");
    phc.to_string()
}

#[test]
fn a_piped_password_becomes_a_hash_that_verifies_it() {
    let phc = hash_of("correct horse battery");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(!phc.contains("correct horse"), "{phc}");
    let hash = PasswordHash::parse(&phc).expect("the output parses");
    assert!(hash.verify(&Secret::new("correct horse battery")));
    assert!(!hash.verify(&Secret::new("correct horse battery\n")));
    let out = smppd(&["hash-password"], b"crlf ending\r\nsecond line ignored\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = PasswordHash::parse(text(&out.stdout).trim_end()).expect("the output parses");
    assert!(hash.verify(&Secret::new("crlf ending")));
}

#[test]
fn empty_and_oversized_passwords_are_refused_on_stderr() {
    let long = vec![b'x'; 1025];
    for (input, says) in [
        (&b"\n"[..], "the password is empty"),
        (&b""[..], "the password is empty"),
        (&long[..], "longer than 1024 bytes"),
        (&[0xff, 0xfe, b'\n'][..], "not UTF-8"),
    ] {
        let out = smppd(&["hash-password"], input);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
}

#[test]
fn check_config_prints_the_server_and_each_user_without_secrets() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let phc = hash_of("acme-password");
    let config = format!(
        r#"
[channel-smsc-a]
x-smpp-host = "127.0.0.1"
x-smpp-system-id = "a"

[smpp-server]
listen = "127.0.0.1:2776"
tls-mode = "mutual"
tls-version = "1.3"
tls-path-to-certificate = "{server}"
tls-certificate-file-password = {{ env = "SMPPD_TEST_P12" }}
tls-client-ca = "{ca}"

[smpp-user-acme]
system-id = "acme"
password-hash = "{phc}"
allowed-ips = ["203.0.113.0/24"]
throughput = 50
credits = 10000
channels = ["smsc-a"]
address-ranges = ["+31699887766", "3169988*"]
"#,
        server = dev("server.p12").display(),
        ca = dev("ca.pem").display(),
    );
    let path = dir.path().join("smppd.toml");
    std::fs::write(&path, config).expect("the file is written");
    let out = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(["check-config", &path.to_string_lossy()])
        .env("SMPPD_TEST_P12", "changeit")
        .stdin(Stdio::null())
        .output()
        .expect("smppd runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("[smpp-server] listen 127.0.0.1:2776 tls=mutual/1.3 keystore=pkcs12 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("client-ca=") && stdout.contains(" bind-timeout=10s idle-timeout=120s\n"),
        "{stdout}"
    );
    assert!(stdout.contains("private key present"), "{stdout}");
    assert!(stdout.contains("client CA: 1 certificate(s)"), "{stdout}");
    assert!(
        stdout.contains(
            "[smpp-user-acme] system_id=acme channels=smsc-a max_binds=4 throughput=50/s \
             credits=10000 allowed_ips=203.0.113.0/24 address_ranges=31699887766,3169988*"
        ),
        "{stdout}"
    );
    for secret in ["changeit", "$argon2id", &phc] {
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
    }
}
