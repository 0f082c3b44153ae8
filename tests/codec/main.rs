//! The wire formats, with no network: the SMPP codec (golden vectors, round trips, cross-checks
//! against two other implementations), the SMS text layer (codings, segments, delivery
//! receipts) and `smppd pdu decode`.

#[path = "../support"]
mod support {
    pub mod cli;
}

mod cli_pdu;
mod codec_crosscheck;
mod codec_golden;
mod codec_roundtrip;
mod sms_fuzz_regressions;
mod sms_receipt;
mod sms_roundtrip;
mod sms_segment;
