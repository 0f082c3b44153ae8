//! (placeholder replaced by the real builder on merge)
use crate::codec::pdu::DeliverSm;
/// Why an event cannot be delivered.
#[derive(Debug, thiserror::Error)]
#[error("unreadable")]
pub struct DeliverError;
/// Placeholder.
pub fn deliver_sm(_event: &[u8]) -> Result<DeliverSm, DeliverError> {
    Err(DeliverError)
}
