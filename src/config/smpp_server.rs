//! `[smpp-server]`: where smppd listens for downstream SMPP clients, and the TLS it offers
//! them. The clients themselves are `[smpp-user-NAME]` sections ([`super::smpp_user`]).
//!
//! The section is optional: without it smppd accepts no SMPP binds. Its TLS keys mirror the
//! channels' (`x-smpp-tls-*` without the `x-smpp-`), with the server's side of each: the
//! PKCS#12 file holds the server's certificate and key, and `mutual` requires every client to
//! present a certificate issued by a CA of `tls-client-ca`.

use super::error::Problem;
use super::option_spec::{choice, described, integer, OptionSpec, Unit::*};
use super::section::{FileContext, SectionReader};
use crate::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::transport::{TlsMode, TlsVersion};

/// The name of the section.
pub(crate) const SMPP_SERVER_SECTION: &str = "smpp-server";

/// Every key of `[smpp-server]`.
pub(crate) const SMPP_SERVER_OPTIONS: &[OptionSpec] = &[
    described(
        "listen",
        "required",
        "IP:port",
        "Where the SMPP server listens for clients' binds, e.g. 0.0.0.0:2775.",
    ),
    choice(
        "tls-mode",
        "off",
        &["off", "single", "mutual"],
        "off: plain TCP; single: TLS with the server's certificate; mutual: clients must also present a certificate issued by a CA of tls-client-ca.",
    ),
    choice(
        "tls-version",
        "1.2",
        &["1.2", "1.3"],
        "The TLS version, pinned exactly.",
    ),
    described(
        "tls-path-to-certificate",
        "required unless tls-mode is off",
        "a PKCS#12 file path, relative to the configuration file",
        "The server's certificate chain and private key.",
    ),
    described(
        "tls-certificate-file-password",
        "\"\"",
        "a secret: inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Opens the PKCS#12 file (MAC and certificate bags). A secret.",
    ),
    described(
        "tls-certificate-password",
        "the file password",
        "a secret: inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Decrypts the private key inside the PKCS#12 file. A secret.",
    ),
    described(
        "tls-client-ca",
        "required with tls-mode = \"mutual\", refused otherwise",
        "a PEM file path, relative to the configuration file",
        "mutual: the CA certificates a client's certificate must be issued by.",
    ),
    integer(
        "bind-timeout",
        10,
        (1, 300),
        Seconds,
        "How long a connection may stay open without a successful bind (the TLS handshake included); then it is closed.",
    ),
    integer(
        "idle-timeout",
        120,
        (10, 86_400),
        Seconds,
        "How long a bound session may stay without receiving any PDU (enquire_link included); then it is closed.",
    ),
    integer(
        "deliver-window",
        100,
        (1, 1000),
        Count,
        "deliver_sm (receipts, inbound messages) a session has sent and the client not yet answered, at most.",
    ),
];

/// The keys that only mean something with TLS on.
const TLS_KEYS: &[&str] = &[
    "tls-version",
    "tls-path-to-certificate",
    "tls-certificate-file-password",
    "tls-certificate-password",
    "tls-client-ca",
];

/// The longest password of a PKCS#12 file, as for the channels.
const MAX_KEYSTORE_PASSWORD: usize = 1024;

/// `[smpp-server]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppServerConfig {
    /// `listen`.
    pub listen: SocketAddr,
    /// `tls-mode` with what each mode needs.
    pub tls: ServerTls,
    /// `bind-timeout`: from accepting a connection to its successful bind, TLS handshake
    /// included, so that unbound connections cannot hold sockets.
    pub bind_timeout: Duration,
    /// `idle-timeout`: the longest a bound session may go without receiving a PDU.
    pub idle_timeout: Duration,
    /// `deliver-window`: deliver_sm a session has unanswered at most. Receipts come back at
    /// most this many per round trip to the client and the store.
    pub deliver_window: usize,
}

/// The TLS the server offers, by `tls-mode`: each mode carries exactly what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTls {
    /// `off`: plain TCP.
    Off,
    /// `single`: TLS with the server's certificate; clients present none.
    Single {
        /// `tls-version`.
        version: TlsVersion,
        /// The server's certificate and key.
        keystore: Pkcs12File,
    },
    /// `mutual`: TLS in which every client presents a certificate issued by a CA of
    /// `client_ca`.
    Mutual {
        /// `tls-version`.
        version: TlsVersion,
        /// The server's certificate and key.
        keystore: Pkcs12File,
        /// `tls-client-ca`: the CA certificates (PEM) client certificates must chain to.
        client_ca: PathBuf,
    },
}

impl ServerTls {
    /// The TLS version, the server's keystore and, in mutual mode, the client CA file;
    /// `None` for plain TCP.
    pub fn parts(&self) -> Option<(TlsVersion, &Pkcs12File, Option<&std::path::Path>)> {
        match self {
            ServerTls::Off => None,
            ServerTls::Single { version, keystore } => Some((*version, keystore, None)),
            ServerTls::Mutual {
                version,
                keystore,
                client_ca,
            } => Some((*version, keystore, Some(client_ca))),
        }
    }

    /// The `tls-mode` this is.
    pub fn mode(&self) -> TlsMode {
        match self {
            ServerTls::Off => TlsMode::Off,
            ServerTls::Single { .. } => TlsMode::Single,
            ServerTls::Mutual { .. } => TlsMode::Mutual,
        }
    }
}

/// A PKCS#12 file and its two passwords, for
/// [`Keystore::load_pkcs12`](crate::transport::keystore::Keystore::load_pkcs12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs12File {
    /// `tls-path-to-certificate`, relative to the configuration file's directory.
    pub path: PathBuf,
    /// `tls-certificate-file-password`.
    pub file_password: Secret,
    /// `tls-certificate-password` (the file password when not set).
    pub key_password: Secret,
}

/// Reads `[smpp-server]`; problems are left in the returned reader. The configuration is
/// `None` when `listen` is missing or invalid.
pub(super) fn parse_server<'a>(
    ctx: &'a FileContext<'a>,
    table: &'a toml::Table,
) -> (Option<SmppServerConfig>, SectionReader<'a>) {
    let mut r = SectionReader::new(ctx, SMPP_SERVER_SECTION, table, SMPP_SERVER_OPTIONS);
    let listen = listen(&mut r);
    let tls = tls(&mut r);
    let bind_timeout = Duration::from_secs(r.integer("bind-timeout").unsigned_abs());
    let idle_timeout = Duration::from_secs(r.integer("idle-timeout").unsigned_abs());
    let deliver_window = r.integer("deliver-window").unsigned_abs() as usize;
    r.finish();
    let config = listen.map(|listen| SmppServerConfig {
        listen,
        tls,
        bind_timeout,
        idle_timeout,
        deliver_window,
    });
    (config, r)
}

fn listen(r: &mut SectionReader<'_>) -> Option<SocketAddr> {
    let text = r.required_string("listen", 64);
    if text.is_empty() {
        return None;
    }
    match text.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            r.error(
                Some("listen"),
                Problem::Invalid {
                    value: text,
                    expected: "IP:port, e.g. 0.0.0.0:2775 or [::]:2775".into(),
                },
            );
            None
        }
    }
}

fn tls(r: &mut SectionReader<'_>) -> ServerTls {
    let mode = r.choice(
        "tls-mode",
        &[
            ("off", TlsMode::Off),
            ("single", TlsMode::Single),
            ("mutual", TlsMode::Mutual),
        ],
    );
    if mode == TlsMode::Off {
        for &key in TLS_KEYS {
            if r.has(key) {
                r.error(
                    Some(key),
                    Problem::Conflict(
                        "only with tls-mode = \"single\" or \"mutual\"; tls-mode is off".into(),
                    ),
                );
            }
        }
        // Marked as read: the error above is the only one for them.
        r.skip(TLS_KEYS);
        return ServerTls::Off;
    }
    // TLS 1.1 is the channels' concession to old SMSCs; clients of smppd get 1.2 or newer.
    let version = r.choice(
        "tls-version",
        &[("1.2", TlsVersion::V1_2), ("1.3", TlsVersion::V1_3)],
    );
    let path = r.path("tls-path-to-certificate");
    let file_password = r
        .secret("tls-certificate-file-password", MAX_KEYSTORE_PASSWORD)
        .unwrap_or_default();
    let key_password = r
        .secret("tls-certificate-password", MAX_KEYSTORE_PASSWORD)
        .unwrap_or_else(|| file_password.clone());
    let client_ca = r.path("tls-client-ca");
    if path.is_none() && !r.has("tls-path-to-certificate") {
        r.error(
            Some("tls-path-to-certificate"),
            Problem::Conflict(format!(
                "required with tls-mode = \"{}\": the PKCS#12 file with the server's certificate and key",
                mode.as_str()
            )),
        );
    }
    if mode == TlsMode::Single && client_ca.is_some() {
        r.error(
            Some("tls-client-ca"),
            Problem::Conflict(
                "only with tls-mode = \"mutual\": in single mode clients present no certificate"
                    .into(),
            ),
        );
    }
    if mode == TlsMode::Mutual && client_ca.is_none() && !r.has("tls-client-ca") {
        r.error(
            Some("tls-client-ca"),
            Problem::Conflict(
                "required with tls-mode = \"mutual\": the CA certificates (PEM) that issue the clients' certificates".into(),
            ),
        );
    }
    let keystore = Pkcs12File {
        path: path.unwrap_or_default(),
        file_password,
        key_password,
    };
    match mode {
        TlsMode::Mutual => ServerTls::Mutual {
            version,
            keystore,
            client_ca: client_ca.unwrap_or_default(),
        },
        _ => ServerTls::Single { version, keystore },
    }
}
