//! One `[channel-NAME]` section: one SMPP account at one SMSC.

use super::error::Problem;
use super::options::CHANNEL_OPTIONS;
use super::section::{FileContext, SectionReader};
use crate::secret::Secret;
use crate::session::limits;
use crate::session::{ParamError, SessionParams};
use std::path::PathBuf;
use std::time::Duration;

use crate::session::BindMode;
use crate::transport::{TlsMode, TlsOptions, TlsVersion};

/// Where the channel's certificates and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreSource {
    /// No file: `single` mode trusts the operating system's store.
    None,
    /// A PKCS#12 file with its two passwords.
    Pkcs12 {
        /// `x-smpp-tls-path-to-certificate`.
        path: PathBuf,
        /// `x-smpp-tls-certificate-file-password`.
        file_password: Secret,
        /// `x-smpp-tls-certificate-password` (the file password when not set).
        key_password: Secret,
    },
    /// PEM files.
    Pem {
        /// `x-smpp-tls-pem-certificate`: our chain, leaf first.
        certificate: Option<PathBuf>,
        /// `x-smpp-tls-pem-key`: our private key.
        key: Option<PathBuf>,
        /// `x-smpp-tls-pem-ca`: the CAs to trust.
        ca: Option<PathBuf>,
    },
}

/// The TLS configuration of a channel, its options checked against each other. The
/// keystore is named here and read when the channel starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTls {
    /// `x-smpp-tls-mode`.
    pub mode: TlsMode,
    /// `x-smpp-tls-version`, `x-smpp-tls-server-name` (verified and sent as SNI instead of
    /// the host) and `x-smpp-tls-trust-all` (lab use only).
    pub options: TlsOptions,
    /// The keystore, if any.
    pub keystore: KeystoreSource,
}

/// The text coding for outbound messages (`x-smpp-outbound-enc-default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundEncoding {
    /// The cheapest coding that represents the text exactly: GSM 7-bit, else UCS-2.
    Auto,
    /// GSM 03.38 default alphabet (data_coding 0).
    Gsm7,
    /// IA5 / ASCII (data_coding 1).
    Ascii,
    /// ISO-8859-1 (data_coding 3).
    Latin1,
    /// UCS-2 / UTF-16BE (data_coding 8).
    Ucs2,
}

/// How inbound data_coding 0 ("SMSC default alphabet") is read (`x-smpp-inbound-enc-default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundEncoding {
    /// GSM 03.38 default alphabet, one septet per octet.
    Gsm7,
    /// IA5 / ASCII.
    Ascii,
    /// ISO-8859-1.
    Latin1,
}

/// One channel, validated: every value is within its documented range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// The section name without `channel-` (e.g. `opensmpp`), used in every log line.
    pub name: String,
    /// `x-smpp-host`.
    pub host: String,
    /// `x-smpp-port`.
    pub port: u16,
    /// The session parameters, built and checked once when the file is read, and the only
    /// place the options that set them are kept: `x-smpp-system-id`, `password`,
    /// `x-smpp-system-type`, `x-smpp-address-range`, `x-smpp-bind-mode`,
    /// `x-smpp-src-addr-ton`/`-npi` (the bind's), `x-smpp-submit-window-size`,
    /// `x-smpp-submit-max-rate` (the channel's whole cap), `x-smpp-response-max-waiting-time`,
    /// `x-smpp-enquire-link-timeout`, `x-smpp-drain-timeout`, `x-smpp-transient-retry-limit`
    /// and `x-smpp-throttle-pause(-max)`. Each session takes its share of the rate cap
    /// ([`Self::slot_params`]).
    pub session: SessionParams,
    /// `x-smpp-comms-timeout`.
    pub connect_timeout: Duration,
    /// `reconnection-timeout`.
    pub reconnect_ceiling: Duration,
    /// `x-smpp-sessions`: the binds the channel opens, across every node.
    pub sessions: u8,
    /// `x-smpp-sar-max-segments`.
    pub max_segments: u8,
    /// `x-smpp-use-msg-payload`.
    pub use_message_payload: bool,
    /// `x-smpp-src-addr-ton`.
    pub source_addr_ton: u8,
    /// `x-smpp-src-addr-npi`.
    pub source_addr_npi: u8,
    /// `x-smpp-dest-addr-ton`.
    pub dest_addr_ton: u8,
    /// `x-smpp-dest-addr-npi`.
    pub dest_addr_npi: u8,
    /// `x-smpp-service-type`.
    pub service_type: String,
    /// `x-smpp-validity-period`, as the SMPP time string to send (empty: SMSC default).
    pub validity_period: String,
    /// `x-smpp-delivery-report`.
    pub delivery_report: bool,
    /// `x-smpp-outbound-enc-default`.
    pub outbound_encoding: OutboundEncoding,
    /// `x-smpp-inbound-enc-default`.
    pub inbound_encoding: InboundEncoding,
    /// `x-smpp-empty-message`.
    pub empty_message: String,
    /// `default-reply-address`.
    pub default_reply_address: Option<String>,
    /// `x-debug-mode`.
    pub debug_mode: bool,
    /// The TLS configuration.
    pub tls: ChannelTls,
}

impl ChannelConfig {
    /// The rate cap of session slot `slot` (0-based): `x-smpp-submit-max-rate` shared
    /// among the channel's sessions, the remainder going to the first slots, so that the
    /// shares add up to the cap exactly. 0 stays "no cap".
    pub fn rate_share(&self, slot: u8) -> u32 {
        let (cap, n) = (self.session.max_rate(), u32::from(self.sessions.max(1)));
        let share = cap / n;
        let extra = u32::from(u32::from(slot) < cap % n);
        share + extra
    }

    /// The session parameters of session slot `slot`: the channel's, with its share of the
    /// rate cap (the one parameter that differs between slots, and that needs no check).
    pub fn slot_params(&self, slot: u8) -> SessionParams {
        self.session.clone().with_max_rate(self.rate_share(slot))
    }
}

/// The options of a channel section that set session parameters, as read.
struct SessionOptions {
    system_id: String,
    password: Secret,
    system_type: String,
    address_range: String,
    bind_mode: BindMode,
    addr_ton_npi: (u8, u8),
    window_size: usize,
    max_rate: u32,
    response_timeout: Duration,
    enquire_link_interval: Duration,
    drain_timeout: Duration,
    transient_retry_limit: u32,
    throttle_pause: (Duration, Duration),
}

impl SessionOptions {
    /// The session parameters, each checked by the session layer; an error names the
    /// session's parameter, which [`option_for_param`] turns into the option.
    fn build(self) -> Result<SessionParams, ParamError> {
        let (ton, npi) = self.addr_ton_npi;
        let (first_pause, longest_pause) = self.throttle_pause;
        SessionParams::new(&self.system_id, self.password)?
            .with_bind_mode(self.bind_mode)
            .with_system_type(&self.system_type)?
            .with_address_range(&self.address_range)?
            .with_addr_ton_npi(ton, npi)
            .with_window_size(self.window_size)?
            .with_max_rate(self.max_rate)
            // The bind waits for its answer as long as any request does.
            .with_response_timeout(self.response_timeout)?
            .with_bind_timeout(self.response_timeout)?
            .with_enquire_link_interval(self.enquire_link_interval)?
            .with_drain_timeout(self.drain_timeout)?
            .with_transient_retry_limit(self.transient_retry_limit)?
            .with_throttle_pause(first_pause, longest_pause)
    }
}

/// Parameters standing in for those of a section with problems: a file with any problem is
/// refused as a whole, so they never reach a session.
fn unused_params() -> SessionParams {
    match SessionParams::new("", Secret::default()) {
        Ok(params) => params,
        Err(e) => unreachable!("an empty system_id and password are valid: {e}"),
    }
}

/// The configuration key behind a session parameter, for error messages.
fn option_for_param(param: &'static str) -> &'static str {
    match param {
        "system_id" => "x-smpp-system-id",
        "password" => "password",
        "system_type" => "x-smpp-system-type",
        "address_range" => "x-smpp-address-range",
        "window_size" => "x-smpp-submit-window-size",
        "response_timeout" | "bind_timeout" => "x-smpp-response-max-waiting-time",
        "enquire_link_interval" => "x-smpp-enquire-link-timeout",
        "drain_timeout" => "x-smpp-drain-timeout",
        "transient_retry_limit" => "x-smpp-transient-retry-limit",
        "throttle_pause" => "x-smpp-throttle-pause",
        "throttle_pause_max" => "x-smpp-throttle-pause-max",
        other => other,
    }
}

const MS: fn(i64) -> Duration = |n| Duration::from_millis(n.unsigned_abs());

/// Reads one channel section; problems are left in `r`.
pub(super) fn read_channel(name: &str, r: &mut SectionReader<'_>) -> ChannelConfig {
    let host = r.required_string("x-smpp-host", 253);
    let port = r.integer("x-smpp-port") as u16;
    let system_id = r.text("x-smpp-system-id");
    let password = r
        .secret("password", limits::MAX_PASSWORD)
        .unwrap_or_default();
    let system_type = r.text("x-smpp-system-type");
    let address_range = r.text("x-smpp-address-range");
    let bind_mode = r.choice(
        "x-smpp-bind-mode",
        &[
            ("transmitter", BindMode::Transmitter),
            ("receiver", BindMode::Receiver),
            ("transceiver", BindMode::Transceiver),
        ],
    );
    let connect_timeout = MS(r.integer("x-smpp-comms-timeout"));
    let enquire_link_interval = MS(r.integer("x-smpp-enquire-link-timeout"));
    let response_timeout = MS(r.integer("x-smpp-response-max-waiting-time"));
    let reconnect_ceiling = Duration::from_secs(r.integer("reconnection-timeout").unsigned_abs());
    let window_size = r.integer("x-smpp-submit-window-size") as usize;
    let max_rate = r.integer("x-smpp-submit-max-rate") as u32;
    let sessions = r.integer("x-smpp-sessions") as u8;
    if max_rate != 0 && max_rate < u32::from(sessions) {
        // A share of 0 would mean "no cap" to the session.
        r.error(
            Some("x-smpp-submit-max-rate"),
            Problem::Conflict(format!(
                "x-smpp-submit-max-rate = {max_rate} is shared among x-smpp-sessions = {sessions} sessions: it must be 0 (no cap) or at least {sessions}"
            )),
        );
    }
    let drain_timeout = MS(r.integer("x-smpp-drain-timeout"));
    let transient_retry_limit = r.integer("x-smpp-transient-retry-limit") as u32;
    let throttle_pause = read_throttle_pause(r);
    let max_segments = r.integer("x-smpp-sar-max-segments") as u8;
    let use_message_payload = r.boolean("x-smpp-use-msg-payload");
    let source_addr_ton = r.integer("x-smpp-src-addr-ton") as u8;
    let source_addr_npi = r.integer("x-smpp-src-addr-npi") as u8;
    let dest_addr_ton = r.integer("x-smpp-dest-addr-ton") as u8;
    let dest_addr_npi = r.integer("x-smpp-dest-addr-npi") as u8;
    let service_type = r.text("x-smpp-service-type");
    let validity_period = read_validity(r);
    let delivery_report = r.boolean("x-smpp-delivery-report");
    let outbound_encoding = r.choice(
        "x-smpp-outbound-enc-default",
        &[
            ("auto", OutboundEncoding::Auto),
            ("gsm7", OutboundEncoding::Gsm7),
            ("ascii", OutboundEncoding::Ascii),
            ("latin1", OutboundEncoding::Latin1),
            ("ucs2", OutboundEncoding::Ucs2),
            // Java charset names, as a Genesys configuration may hold them.
            ("GSM0338", OutboundEncoding::Gsm7),
            ("US-ASCII", OutboundEncoding::Ascii),
            ("ISO-8859-1", OutboundEncoding::Latin1),
            ("UTF-16BE", OutboundEncoding::Ucs2),
        ],
    );
    let inbound_encoding = r.choice(
        "x-smpp-inbound-enc-default",
        &[
            ("gsm7", InboundEncoding::Gsm7),
            ("ascii", InboundEncoding::Ascii),
            ("latin1", InboundEncoding::Latin1),
            ("GSM0338", InboundEncoding::Gsm7),
            ("US-ASCII", InboundEncoding::Ascii),
            ("ISO-8859-1", InboundEncoding::Latin1),
        ],
    );
    // The option entry of the original says one space replaces an empty value.
    let empty_message = match r.text("x-smpp-empty-message") {
        s if s.is_empty() => " ".to_string(),
        s => s,
    };
    let default_reply_address = r.opt_text("default-reply-address");
    let debug_mode = r.boolean("x-debug-mode");
    let tls = read_tls(r);

    let session = SessionOptions {
        system_id,
        password,
        system_type,
        address_range,
        bind_mode,
        addr_ton_npi: (source_addr_ton, source_addr_npi),
        window_size,
        max_rate,
        response_timeout,
        enquire_link_interval,
        drain_timeout,
        transient_retry_limit,
        throttle_pause,
    };
    // Build the session's own parameters now, once, so that whatever it refuses (a non-ASCII
    // system_id, say) stops the start with the option named, before a socket opens; later
    // code reads them from the channel.
    let session = match r.errors.is_empty().then(|| session.build()) {
        Some(Ok(session)) => session,
        Some(Err(e)) => {
            let param = match &e {
                ParamError::TooLong { param, .. }
                | ParamError::NotAscii { param }
                | ParamError::OutOfRange { param, .. } => *param,
            };
            r.error(
                Some(option_for_param(param)),
                Problem::Conflict(e.to_string()),
            );
            unused_params()
        }
        None => unused_params(),
    };
    ChannelConfig {
        name: name.to_string(),
        host,
        port,
        session,
        connect_timeout,
        reconnect_ceiling,
        sessions,
        max_segments,
        use_message_payload,
        source_addr_ton,
        source_addr_npi,
        dest_addr_ton,
        dest_addr_npi,
        service_type,
        validity_period,
        delivery_report,
        outbound_encoding,
        inbound_encoding,
        empty_message,
        default_reply_address,
        debug_mode,
        tls,
    }
}

/// `x-smpp-throttle-pause` and `x-smpp-throttle-pause-max`: the first pause may not be
/// longer than the longest.
fn read_throttle_pause(r: &mut SectionReader<'_>) -> (Duration, Duration) {
    let first = r.integer("x-smpp-throttle-pause");
    let max = r.integer("x-smpp-throttle-pause-max");
    if first > max {
        r.error(
            Some("x-smpp-throttle-pause"),
            Problem::Conflict(format!(
                "x-smpp-throttle-pause = {first} must be at most x-smpp-throttle-pause-max = {max}"
            )),
        );
    }
    (MS(first), MS(max))
}

/// The longest relative validity SMPP can express with days < 100.
const MAX_VALIDITY_SECS: i64 = 99 * 86_400 + 86_399;

fn read_validity(r: &mut SectionReader<'_>) -> String {
    const KEY: &str = "x-smpp-validity-period";
    let is_seconds = matches!(
        r_value_kind(r, KEY),
        Some(ValueKind::Integer) | Some(ValueKind::DigitString)
    );
    if is_seconds {
        let secs = r.integer_in(KEY, 1, MAX_VALIDITY_SECS, 0);
        return if secs == 0 {
            String::new()
        } else {
            relative_time(secs)
        };
    }
    let s = r.string(KEY, 16, "");
    if !s.is_empty() && !is_smpp_time(&s) {
        r.error(
            Some(KEY),
            Problem::Invalid {
                value: s,
                expected: "seconds, or a 16-character SMPP time YYMMDDhhmmsstnnp (p = +, - or R)"
                    .into(),
            },
        );
        return String::new();
    }
    s
}

enum ValueKind {
    Integer,
    DigitString,
    Other,
}

fn r_value_kind(r: &SectionReader<'_>, key: &str) -> Option<ValueKind> {
    r.peek(key).map(|v| match v {
        toml::Value::Integer(_) => ValueKind::Integer,
        toml::Value::String(s)
            if !s.is_empty() && s.len() < 16 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            ValueKind::DigitString
        }
        _ => ValueKind::Other,
    })
}

/// `secs` as an SMPP relative time, `YYMMDDhhmmss000R` with years and months left at zero
/// (days above 99 are capped at 99: the longest relative time SMPP can write).
pub fn relative_time(secs: i64) -> String {
    let secs = secs.clamp(0, MAX_VALIDITY_SECS);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    format!("0000{days:02}{hours:02}{minutes:02}{seconds:02}000R")
}

/// Whether `s` has the shape of an SMPP absolute or relative time (SMPP v3.4, 7.1.1).
fn is_smpp_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && b[..15].iter().all(u8::is_ascii_digit)
        && match b[15] {
            b'+' | b'-' => true,
            b'R' => &b[13..15] == b"00",
            _ => false,
        }
}

fn read_tls(r: &mut SectionReader<'_>) -> ChannelTls {
    let mode = r.choice(
        "x-smpp-tls-mode",
        &[
            ("off", TlsMode::Off),
            ("single", TlsMode::Single),
            ("mutual", TlsMode::Mutual),
        ],
    );
    let version = r.choice(
        "x-smpp-tls-version",
        &[
            ("1.1", TlsVersion::V1_1),
            ("1.2", TlsVersion::V1_2),
            ("1.3", TlsVersion::V1_3),
        ],
    );
    let p12 = r.path("x-smpp-tls-path-to-certificate");
    let file_password = r.secret("x-smpp-tls-certificate-file-password", 1024);
    let key_password = r.secret("x-smpp-tls-certificate-password", 1024);
    let pem_certificate = r.path("x-smpp-tls-pem-certificate");
    let pem_key = r.path("x-smpp-tls-pem-key");
    let pem_ca = r.path("x-smpp-tls-pem-ca");
    let server_name = r.opt_string("x-smpp-tls-server-name", 253);
    let trust_all = r.boolean("x-smpp-tls-trust-all");

    let any_pem = pem_certificate.is_some() || pem_key.is_some() || pem_ca.is_some();
    let keystore = match p12 {
        Some(path) => {
            if any_pem {
                r.error(
                    Some("x-smpp-tls-path-to-certificate"),
                    Problem::Conflict(
                        "a PKCS#12 file and x-smpp-tls-pem-* files cannot be used together".into(),
                    ),
                );
            }
            let file_password = file_password.unwrap_or_default();
            let key_password = key_password.unwrap_or_else(|| file_password.clone());
            KeystoreSource::Pkcs12 {
                path,
                file_password,
                key_password,
            }
        }
        None if any_pem => KeystoreSource::Pem {
            certificate: pem_certificate,
            key: pem_key,
            ca: pem_ca,
        },
        None => KeystoreSource::None,
    };

    match mode {
        TlsMode::Off => {
            let tls_keys_set = keystore != KeystoreSource::None
                || server_name.is_some()
                || trust_all
                || r.has("x-smpp-tls-version");
            if tls_keys_set {
                r.warn(
                    Some("x-smpp-tls-mode"),
                    "TLS options are set but x-smpp-tls-mode is off: the link is plain TCP",
                );
            }
        }
        TlsMode::Single => {}
        TlsMode::Mutual => {
            let has_identity = match &keystore {
                KeystoreSource::Pkcs12 { .. } => true,
                KeystoreSource::Pem {
                    certificate, key, ..
                } => certificate.is_some() && key.is_some(),
                KeystoreSource::None => false,
            };
            if !has_identity {
                r.error(
                    Some("x-smpp-tls-mode"),
                    Problem::Conflict(
                        "mutual mode needs our certificate and key: set x-smpp-tls-path-to-certificate (PKCS#12) or both x-smpp-tls-pem-certificate and x-smpp-tls-pem-key".into(),
                    ),
                );
            }
        }
    }
    if matches!(
        keystore,
        KeystoreSource::Pem {
            key: Some(_),
            certificate: None,
            ..
        }
    ) {
        r.error(
            Some("x-smpp-tls-pem-key"),
            Problem::Conflict("x-smpp-tls-pem-key needs x-smpp-tls-pem-certificate".into()),
        );
    }
    if trust_all && mode != TlsMode::Off {
        r.warn(
            Some("x-smpp-tls-trust-all"),
            "the SMSC's certificate will NOT be verified (lab use only)",
        );
    }
    ChannelTls {
        mode,
        options: TlsOptions {
            version,
            server_name,
            trust_all,
        },
        keystore,
    }
}

/// Reads `[channel-NAME]`, returning the channel and the reader with its problems.
pub(super) fn parse<'a>(
    ctx: &'a FileContext<'a>,
    section: &'a str,
    name: &str,
    table: &'a toml::Table,
) -> (ChannelConfig, SectionReader<'a>) {
    let mut reader = SectionReader::new(ctx, section, table, CHANNEL_OPTIONS);
    let channel = read_channel(name, &mut reader);
    reader.finish();
    (channel, reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_validity() {
        assert_eq!(relative_time(3600), "000000010000000R");
        assert_eq!(relative_time(86_400 * 2 + 61), "000002000101000R");
        assert!(is_smpp_time(&relative_time(MAX_VALIDITY_SECS)));
    }

    #[test]
    fn smpp_time_shapes() {
        assert!(is_smpp_time("261125103000004+"));
        assert!(is_smpp_time("000001000000000R"));
        assert!(!is_smpp_time("000001000000004R"));
        assert!(!is_smpp_time("26112510300000+"));
        assert!(!is_smpp_time("2611251030000a4+"));
    }
}
