//! The table of every option a `[channel-NAME]` section may hold.
//!
//! The names are those of the Genesys Driver for SMS and MMS, verbatim, so operators can port
//! their channel sections; smppd's own additions use the same `x-smpp-` style. The table is the
//! single source for three things: which keys exist (unknown keys are errors with the nearest
//! valid name suggested), which are refused and why, and the configuration reference in
//! docs/configuration.md (a test checks that every name here is documented there).

/// How smppd treats an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Read, validated and used.
    Supported,
    /// Refused at start-up with this reason: its meaning is tied to Genesys internals or is not
    /// documented, and guessing would surprise an operator more than an error does.
    Refused(&'static str),
    /// Accepted and ignored with a notice, but only when its value is exactly this one.
    IgnoredIf(&'static str),
}

/// One channel option: its name, default, valid values and meaning.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The key, as written in the TOML section.
    pub name: &'static str,
    /// The default, as an operator would write it ("required" when there is none).
    pub default: &'static str,
    /// The valid values or range.
    pub values: &'static str,
    /// What it does, in one line.
    pub meaning: &'static str,
    /// Whether smppd uses it.
    pub support: Support,
}

/// A supported option (shared with the `[http]` and `[webhook]` tables).
pub(crate) const fn supported(
    name: &'static str,
    default: &'static str,
    values: &'static str,
    meaning: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        default,
        values,
        meaning,
        support: Support::Supported,
    }
}

/// An option refused by name, with the reason (shared with the `[smpp-user-NAME]` table).
pub(crate) const fn refused(name: &'static str, why: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        default: "-",
        values: "-",
        meaning: why,
        support: Support::Refused(why),
    }
}

/// The documented value of `driver-classname`, the only one accepted.
pub const GENESYS_DRIVER_CLASS: &str =
    "com.genesyslab.mcr.smserver.channel.sms_mms.opensmpp.SmppDriver";

/// Every option of a channel section, in the order docs/configuration.md documents them.
pub const CHANNEL_OPTIONS: &[OptionSpec] = &[
    supported("x-smpp-host", "required", "host name or IP address", "The SMSC to connect to."),
    supported("x-smpp-port", "2775", "1-65535", "The SMSC's TCP port."),
    supported(
        "x-smpp-system-id",
        "required",
        "1-15 characters",
        "The bind system_id (the SMPP account name).",
    ),
    supported(
        "password",
        "\"\"",
        "0-8 characters; inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "The bind password. A secret: never logged.",
    ),
    supported(
        "x-smpp-system-type",
        "\"\"",
        "0-12 characters",
        "The bind system_type.",
    ),
    supported(
        "x-smpp-address-range",
        "\"\"",
        "0-40 characters",
        "The bind address_range (which MO addresses this account receives).",
    ),
    supported(
        "x-smpp-bind-mode",
        "transceiver",
        "transmitter, receiver, transceiver",
        "Which bind to send: bind_transmitter, bind_receiver or bind_transceiver.",
    ),
    supported(
        "x-smpp-comms-timeout",
        "10000",
        "1000-180000 (ms)",
        "How long the TCP connect and the TLS handshake may take together.",
    ),
    supported(
        "x-smpp-enquire-link-timeout",
        "30000",
        "1000-3600000 (ms)",
        "Idle time after which enquire_link is sent; an unanswered one closes the link.",
    ),
    supported(
        "x-smpp-response-max-waiting-time",
        "30000",
        "1000-180000 (ms)",
        "How long to wait for any response (bind_resp, submit_sm_resp, ...).",
    ),
    supported(
        "reconnection-timeout",
        "180",
        "10-86400 (s)",
        "The ceiling of the reconnect back-off (exponential from 1 s, full jitter).",
    ),
    supported(
        "x-smpp-submit-window-size",
        "10",
        "1-1000",
        "The most submit_sm requests awaiting their response.",
    ),
    supported(
        "x-smpp-submit-max-rate",
        "10",
        "0-1000000 (messages/s; 0 = no cap)",
        "The most submit_sm per second (token bucket), for the channel as a whole: with several sessions each gets its share.",
    ),
    supported(
        "x-smpp-sessions",
        "1",
        "1-64",
        "How many binds the channel opens, across every node sharing the store: each session has its own window and a share of x-smpp-submit-max-rate (which must then be 0 or at least this).",
    ),
    supported(
        "x-smpp-sar-max-segments",
        "255",
        "2-255",
        "The most segments a long message may be split into; longer texts are refused.",
    ),
    supported(
        "x-smpp-use-msg-payload",
        "false",
        "true, false",
        "Send long texts as one message_payload TLV instead of concatenated segments.",
    ),
    supported(
        "x-smpp-src-addr-ton",
        "1",
        "0-255",
        "source_addr_ton of submit_sm (1 = international).",
    ),
    supported(
        "x-smpp-src-addr-npi",
        "1",
        "0-255",
        "source_addr_npi of submit_sm (1 = ISDN/E.164).",
    ),
    supported(
        "x-smpp-dest-addr-ton",
        "1",
        "0-255",
        "dest_addr_ton of submit_sm (1 = international).",
    ),
    supported(
        "x-smpp-dest-addr-npi",
        "1",
        "0-255",
        "dest_addr_npi of submit_sm (1 = ISDN/E.164).",
    ),
    supported(
        "x-smpp-service-type",
        "\"\"",
        "0-5 characters",
        "service_type of submit_sm.",
    ),
    supported(
        "x-smpp-validity-period",
        "\"\"",
        "empty, seconds (integer), or a 16-character SMPP absolute/relative time",
        "validity_period of submit_sm; seconds are sent as an SMPP relative time.",
    ),
    supported(
        "x-smpp-delivery-report",
        "true",
        "true, false",
        "Request delivery receipts (registered_delivery = 1).",
    ),
    supported(
        "x-smpp-outbound-enc-default",
        "auto",
        "auto, gsm7, ascii, latin1, ucs2",
        "The text coding for outbound messages; auto picks the cheapest exact one.",
    ),
    supported(
        "x-smpp-inbound-enc-default",
        "gsm7",
        "gsm7, ascii, latin1",
        "How inbound short_message with data_coding 0 (SMSC default) is decoded.",
    ),
    supported(
        "x-smpp-empty-message",
        "\" \"",
        "any string",
        "The text given to an inbound message that arrives with no content.",
    ),
    supported(
        "default-reply-address",
        "none",
        "an SMS address (1-20 characters)",
        "The source address used when a request gives none.",
    ),
    supported(
        "x-debug-mode",
        "false",
        "true, false",
        "Log message texts at debug level, with card numbers masked.",
    ),
    supported(
        "x-smpp-tls-mode",
        "off",
        "off, single, mutual",
        "off: plain TCP; single: verify the SMSC's certificate; mutual: also present ours.",
    ),
    supported(
        "x-smpp-tls-version",
        "1.2",
        "1.1 (needs the tls11 build), 1.2, 1.3",
        "The TLS version, pinned exactly.",
    ),
    supported(
        "x-smpp-tls-path-to-certificate",
        "none",
        "path to a PKCS#12 file",
        "single: the certificates to trust; mutual: our key and chain plus the CAs to trust.",
    ),
    supported(
        "x-smpp-tls-certificate-file-password",
        "\"\"",
        "inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Opens the PKCS#12 file (MAC and certificate bags). A secret.",
    ),
    supported(
        "x-smpp-tls-certificate-password",
        "the file password",
        "inline, { env = \"VAR\" } or { file = \"PATH\" }",
        "Decrypts the private key inside the PKCS#12 file. A secret.",
    ),
    supported(
        "x-smpp-tls-server-name",
        "x-smpp-host",
        "a DNS name or IP address",
        "The name to verify in the SMSC's certificate and to send as SNI.",
    ),
    supported(
        "x-smpp-tls-pem-certificate",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: our certificate chain, leaf first (mutual).",
    ),
    supported(
        "x-smpp-tls-pem-key",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: our private key (mutual).",
    ),
    supported(
        "x-smpp-tls-pem-ca",
        "none",
        "path to a PEM file",
        "Instead of PKCS#12: the CA certificates to trust.",
    ),
    supported(
        "x-smpp-tls-trust-all",
        "false",
        "true, false",
        "Lab use only: accept any SMSC certificate. Logs a warning at every connection.",
    ),
    OptionSpec {
        name: "driver-classname",
        default: GENESYS_DRIVER_CLASS,
        values: GENESYS_DRIVER_CLASS,
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
pub fn channel_option(name: &str) -> Option<&'static OptionSpec> {
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
}
