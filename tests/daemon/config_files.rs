//! The configuration files shipped in `config/` stay valid as the option table evolves.

use smppd::config::{Config, KeystoreSource, TlsMode};
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

/// Option names are a contract with operators: every one the configuration accepts (or
/// refuses by name) is documented in the configuration reference, docs/configuration.md.
#[test]
fn readme_documents_every_option() {
    use smppd::config::daemon_sections::{HTTP_OPTIONS, WEBHOOK_OPTIONS};
    use smppd::config::options::CHANNEL_OPTIONS;
    use smppd::config::smpp_server::SMPP_SERVER_OPTIONS;
    use smppd::config::smpp_user::SMPP_USER_OPTIONS;
    use smppd::config::store_section::STORE_OPTIONS;
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    for option in CHANNEL_OPTIONS
        .iter()
        .chain(HTTP_OPTIONS)
        .chain(WEBHOOK_OPTIONS)
        .chain(STORE_OPTIONS)
        .chain(SMPP_SERVER_OPTIONS)
        .chain(SMPP_USER_OPTIONS)
    {
        assert!(
            reference.contains(&format!("| `{}` |", option.name)),
            "docs/configuration.md does not document {}",
            option.name
        );
    }
}
