//! deliver_sm (SMPP 3.4 §4.6.1): the SMSC delivers a mobile-originated message or a delivery
//! receipt (esm_class message type 1, see `EsmClass::is_delivery_receipt`).
//!
//! Its field table is submit_sm's, field for field; the fields the SMSC does not use
//! (schedule_delivery_time, validity_period, replace_if_present_flag, sm_default_msg_id) are
//! sent as NULL/0. Sharing the struct keeps one decoder to fuzz and one to benchmark.

/// The body of deliver_sm: identical to [`super::SubmitSm`].
pub type DeliverSm = super::SubmitSm;
