//! The table of every option a `[channel-NAME]` section may hold.
//!
//! The names are those of the Genesys Driver for SMS and MMS, verbatim, so operators can port
//! their channel sections; smppd's own additions use the same `x-smpp-` style. The table is the
//! single source for which keys exist (unknown keys are errors with the nearest valid name
//! suggested), which are refused and why, their defaults and ranges (the channel reader takes
//! them from here, and the options that set a session parameter take them from
//! [`crate::session::limits`]), and the configuration reference in docs/configuration.md (a
//! test checks that it states these names, defaults and ranges).

use super::option_spec::{Absent, OptionSpec, Support, Values};

use super::option_spec::{
    boolean, choice, described, integer, refused, session_integer, text, Unit::*,
};
use crate::session::limits::{
    self, DRAIN_TIMEOUT_MS, ENQUIRE_LINK_INTERVAL_MS, RESPONSE_TIMEOUT_MS, THROTTLE_PAUSE_MAX_MS,
    THROTTLE_PAUSE_MS, TRANSIENT_RETRY_LIMIT, WINDOW_SIZE,
};
use crate::supervisor::{DEFAULT_RECONNECTION_TIMEOUT_SECS, MIN_RECONNECTION_TIMEOUT_SECS};

/// The documented value of `driver-classname`, the only one accepted.
pub(crate) const GENESYS_DRIVER_CLASS: &str =
    "com.genesyslab.mcr.smserver.channel.sms_mms.opensmpp.SmppDriver";

/// Every option of a channel section, in the order docs/configuration.md documents them.
pub(crate) const CHANNEL_OPTIONS: &[OptionSpec] = &[
    described(
        "x-smpp-host",
        "required",
        "host name or IP address",
        "The SMSC to connect to.",
    ),
    integer("x-smpp-port", 2775, (1, 65535), Count, "The SMSC's TCP port."),
    text(
        "x-smpp-system-id",
        Absent::Required,
        limits::MAX_SYSTEM_ID,
        "The bind system_id (the SMPP account name).",
    ),
    described(
        "password",
        "\"\"",
        "0-8 characters; inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "The bind password. A secret: never logged.",
    ),
    text(
        "x-smpp-system-type",
        Absent::Value(""),
        limits::MAX_SYSTEM_TYPE,
        "The bind system_type.",
    ),
    text(
        "x-smpp-address-range",
        Absent::Value(""),
        limits::MAX_ADDRESS_RANGE,
        "The bind address_range (which MO addresses this account receives).",
    ),
    choice(
        "x-smpp-bind-mode",
        "transceiver",
        &["transmitter", "receiver", "transceiver"],
        "Which bind to send: bind_transmitter, bind_receiver or bind_transceiver.",
    ),
    integer(
        "x-smpp-comms-timeout",
        10_000,
        (1_000, 180_000),
        Millis,
        "How long the TCP connect and the TLS handshake may take together.",
    ),
    session_integer(
        "x-smpp-enquire-link-timeout",
        ENQUIRE_LINK_INTERVAL_MS,
        Millis,
        "Idle time after which enquire_link is sent; an unanswered one closes the link.",
    ),
    session_integer(
        "x-smpp-response-max-waiting-time",
        RESPONSE_TIMEOUT_MS,
        Millis,
        "How long to wait for any response (bind_resp, submit_sm_resp, ...).",
    ),
    integer(
        "reconnection-timeout",
        DEFAULT_RECONNECTION_TIMEOUT_SECS as i64,
        (MIN_RECONNECTION_TIMEOUT_SECS as i64, 86_400),
        Seconds,
        "The ceiling of the reconnect back-off (exponential from 1 s, full jitter).",
    ),
    session_integer(
        "x-smpp-submit-window-size",
        WINDOW_SIZE,
        Count,
        "The most submit_sm requests awaiting their response.",
    ),
    integer(
        "x-smpp-submit-max-rate",
        limits::DEFAULT_MAX_RATE as i64,
        (0, 1_000_000),
        Other("messages/s; 0 = no cap"),
        "The most submit_sm per second (token bucket), for the channel as a whole: with several sessions each gets its share.",
    ),
    integer(
        "x-smpp-sessions",
        1,
        (1, 64),
        Count,
        "How many binds the channel opens, across every node sharing the store: each session has its own window and a share of x-smpp-submit-max-rate (which must then be 0 or at least this).",
    ),
    session_integer(
        "x-smpp-drain-timeout",
        DRAIN_TIMEOUT_MS,
        Millis,
        "smppd's own: how long a stopping session waits for the responses to its submits in flight before it unbinds.",
    ),
    session_integer(
        "x-smpp-transient-retry-limit",
        TRANSIENT_RETRY_LIMIT,
        Count,
        "smppd's own: how many times a message is submitted again after a transient error response before it fails.",
    ),
    session_integer(
        "x-smpp-throttle-pause",
        THROTTLE_PAUSE_MS,
        Millis,
        "smppd's own: the first pause in submitting after ESME_RTHROTTLED or ESME_RMSGQFUL; at most x-smpp-throttle-pause-max.",
    ),
    session_integer(
        "x-smpp-throttle-pause-max",
        THROTTLE_PAUSE_MAX_MS,
        Millis,
        "smppd's own: the longest pause; each further throttling response doubles the pause up to it, an accepted submit resets it.",
    ),
    integer(
        "x-smpp-sar-max-segments",
        255,
        (2, 255),
        Count,
        "The most segments a long message may be split into; longer texts are refused.",
    ),
    boolean(
        "x-smpp-use-msg-payload",
        false,
        "Send long texts as one message_payload TLV instead of concatenated segments.",
    ),
    integer(
        "x-smpp-src-addr-ton",
        1,
        (0, 255),
        Count,
        "source_addr_ton of submit_sm and addr_ton of the bind (1 = international).",
    ),
    integer(
        "x-smpp-src-addr-npi",
        1,
        (0, 255),
        Count,
        "source_addr_npi of submit_sm and addr_npi of the bind (1 = ISDN/E.164).",
    ),
    integer(
        "x-smpp-dest-addr-ton",
        1,
        (0, 255),
        Count,
        "dest_addr_ton of submit_sm (1 = international).",
    ),
    integer(
        "x-smpp-dest-addr-npi",
        1,
        (0, 255),
        Count,
        "dest_addr_npi of submit_sm (1 = ISDN/E.164).",
    ),
    text(
        "x-smpp-service-type",
        Absent::Value(""),
        5,
        "service_type of submit_sm.",
    ),
    described(
        "x-smpp-validity-period",
        "\"\"",
        "empty, seconds (integer), or a 16-character SMPP absolute/relative time",
        "validity_period of submit_sm; seconds are sent as an SMPP relative time.",
    ),
    boolean(
        "x-smpp-delivery-report",
        true,
        "Request delivery receipts (registered_delivery = 1).",
    ),
    choice(
        "x-smpp-outbound-enc-default",
        "auto",
        &["auto", "gsm7", "ascii", "latin1", "ucs2"],
        "The text coding for outbound messages; auto picks the cheapest exact one.",
    ),
    choice(
        "x-smpp-inbound-enc-default",
        "gsm7",
        &["gsm7", "ascii", "latin1"],
        "How inbound short_message with data_coding 0 (SMSC default) is decoded.",
    ),
    text(
        "x-smpp-empty-message",
        Absent::Value(" "),
        1024,
        "The text given to an inbound message that arrives with no content.",
    ),
    text(
        "default-reply-address",
        Absent::Means("none"),
        20,
        "The source address (an SMS address) used when a request gives none.",
    ),
    boolean(
        "x-debug-mode",
        false,
        "Log message texts at debug level, with card numbers masked.",
    ),
    choice(
        "x-smpp-tls-mode",
        "off",
        &["off", "single", "mutual"],
        "off: plain TCP; single: verify the SMSC's certificate; mutual: also present ours.",
    ),
    choice(
        "x-smpp-tls-version",
        "1.2",
        &["1.1", "1.2", "1.3"],
        "The TLS version, pinned exactly (1.1 needs the tls11 build).",
    ),
    described(
        "x-smpp-tls-path-to-certificate",
        "none",
        "path to a PKCS#12 file",
        "single: the certificates to trust; mutual: our key and chain plus the CAs to trust.",
    ),
    described(
        "x-smpp-tls-certificate-file-password",
        "\"\"",
        "inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Opens the PKCS#12 file (MAC and certificate bags). A secret.",
    ),
    described(
        "x-smpp-tls-certificate-password",
        "the file password",
        "inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Decrypts the private key inside the PKCS#12 file. A secret.",
    ),
    described(
        "x-smpp-tls-server-name",
        "x-smpp-host",
        "a DNS name or IP address",
        "The name to verify in the SMSC's certificate and to send as SNI.",
    ),
    described(
        "x-smpp-tls-pem-certificate",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: our certificate chain, leaf first (mutual).",
    ),
    described(
        "x-smpp-tls-pem-key",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: our private key (mutual).",
    ),
    described(
        "x-smpp-tls-pem-ca",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: the CA certificates to trust.",
    ),
    boolean(
        "x-smpp-tls-trust-all",
        false,
        "Lab use only: accept any SMSC certificate. Logs a warning at every connection.",
    ),
    OptionSpec {
        name: "driver-classname",
        values: Values::Described {
            default: GENESYS_DRIVER_CLASS,
            values: GENESYS_DRIVER_CLASS,
        },
        meaning: "The Genesys Java class; accepted with a notice and ignored.",
        support: Support::IgnoredIf(GENESYS_DRIVER_CLASS),
    },
    refused(
        "inbound-route",
        "routes to Genesys DMS endpoints; smppd delivers inbound messages and receipts to the [webhook] URL",
    ),
    refused(
        "session-by-address",
        "switches Genesys Chat Server session mode, which smppd does not have",
    ),
    refused(
        "session-by-text",
        "switches Genesys Chat Server session mode, which smppd does not have",
    ),
    refused(
        "x-smpp-receive-timeout",
        "its meaning is not documented; smppd detects dead links with x-smpp-enquire-link-timeout and times responses with x-smpp-response-max-waiting-time",
    ),
    refused(
        "x-smpp-sar-prompt-responses",
        "its meaning is not documented, and guessing how multi-part responses are reported would be worse than refusing",
    ),
    refused(
        "x-smpp-ucs2-enc-schema",
        "its meaning is not documented; smppd always sends UCS-2 as UTF-16BE (data_coding 8), surrogate pairs included",
    ),
    refused(
        "x-smpp-extraopt",
        "the Genesys TLV string syntax is not documented; smppd will not guess at it",
    ),
    refused(
        "x-smpp-delivery-extraopt",
        "the Genesys TLV string syntax is not documented; smppd will not guess at it",
    ),
];

/// Looks an option up by its exact name.
#[cfg(test)]
pub(crate) fn channel_option(name: &str) -> Option<&'static OptionSpec> {
    CHANNEL_OPTIONS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for o in CHANNEL_OPTIONS {
            assert!(seen.insert(o.name), "{} listed twice", o.name);
        }
    }

    #[test]
    fn every_genesys_option_is_listed() {
        // The 41 options of the Genesys `channel-any_name_for_sms` section: each is either
        // supported or refused by name, never silently unknown.
        let genesys = [
            "default-reply-address",
            "driver-classname",
            "inbound-route",
            "password",
            "reconnection-timeout",
            "session-by-address",
            "session-by-text",
            "x-debug-mode",
            "x-smpp-address-range",
            "x-smpp-bind-mode",
            "x-smpp-comms-timeout",
            "x-smpp-delivery-extraopt",
            "x-smpp-delivery-report",
            "x-smpp-dest-addr-npi",
            "x-smpp-dest-addr-ton",
            "x-smpp-empty-message",
            "x-smpp-enquire-link-timeout",
            "x-smpp-extraopt",
            "x-smpp-host",
            "x-smpp-inbound-enc-default",
            "x-smpp-outbound-enc-default",
            "x-smpp-port",
            "x-smpp-receive-timeout",
            "x-smpp-response-max-waiting-time",
            "x-smpp-sar-max-segments",
            "x-smpp-sar-prompt-responses",
            "x-smpp-service-type",
            "x-smpp-src-addr-npi",
            "x-smpp-src-addr-ton",
            "x-smpp-submit-max-rate",
            "x-smpp-submit-window-size",
            "x-smpp-system-id",
            "x-smpp-system-type",
            "x-smpp-tls-certificate-file-password",
            "x-smpp-tls-certificate-password",
            "x-smpp-tls-mode",
            "x-smpp-tls-path-to-certificate",
            "x-smpp-tls-version",
            "x-smpp-ucs2-enc-schema",
            "x-smpp-use-msg-payload",
            "x-smpp-validity-period",
        ];
        assert_eq!(genesys.len(), 41);
        for name in genesys {
            assert!(channel_option(name).is_some(), "{name} is missing");
        }
    }

    #[test]
    fn the_password_text_states_the_smpp_limit() {
        let password = channel_option("password").unwrap();
        let limit = format!("0-{} characters;", limits::MAX_PASSWORD);
        assert!(password.values_text().starts_with(&limit));
    }
}
