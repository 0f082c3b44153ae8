//! The PDU bodies, one file each (SMPP 3.4 chapter 4): a namespace of its own, apart from the
//! codec's root, because the bodies are many and named as in the specification; the
//! [`Pdu`](crate::codec::Pdu) enum that ties each body to its command_id is at the root.
//!
//! Field names are spelled as in the specification, so grepping for `schedule_delivery_time`
//! finds both the spec table and the code. Responses whose body an SMSC may omit on error
//! (bind_*_resp, submit_sm_resp, ...) hold an `Option`: `None` means "header only".

mod alert_notification;
pub(super) mod any;
mod bind;
mod bind_resp;
mod body;
mod bodyless;
mod cancel_sm;
mod data_sm;
mod data_sm_resp;
mod deliver_sm;
mod deliver_sm_resp;
mod outbind;
mod query_sm;
mod query_sm_resp;
mod replace_sm;
mod submit_multi;
mod submit_multi_resp;
mod submit_sm;
mod submit_sm_resp;

pub use alert_notification::AlertNotification;
pub use bind::Bind;
pub use bind_resp::BindResp;
pub use cancel_sm::CancelSm;
pub use data_sm::DataSm;
pub use data_sm_resp::DataSmResp;
pub use deliver_sm::DeliverSm;
pub use deliver_sm_resp::DeliverSmResp;
pub use outbind::Outbind;
pub use query_sm::QuerySm;
pub use query_sm_resp::QuerySmResp;
pub use replace_sm::ReplaceSm;
pub use submit_multi::{DestAddress, SubmitMulti};
pub use submit_multi_resp::{SubmitMultiResp, UnsuccessSme};
pub use submit_sm::SubmitSm;
pub use submit_sm_resp::SubmitSmResp;
