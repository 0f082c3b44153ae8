//! [`Reports`]: how the engine tells the API what became of messages, and hands over
//! receipts and inbound messages for the webhook.

use super::metrics::Metrics;
use crate::daemon::engine::{InboundContent, InboundReport, NotAccepted, ReceiptReport};
use crate::daemon::store::{rfc3339, MessageId, MessageStore, ReceiptMatch};
use crate::daemon::webhook::Webhook;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

/// The engine's side of the API. Cheap to clone; every method is synchronous and
/// non-blocking, so a session may call it from its event loop.
#[derive(Clone)]
pub struct Reports {
    pub(super) store: Arc<dyn MessageStore>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) webhook: Option<Arc<Webhook>>,
}

impl Reports {
    /// submit_sm_resp with status 0 for segment `segment` (0-based) of message `id`.
    pub fn submitted(&self, id: &MessageId, segment: usize, smsc_message_id: &str) {
        if let Some(outcome) = self.store.on_submitted(id, segment, smsc_message_id) {
            self.metrics
                .record_response(&outcome.channel, Some(0), outcome.since_accepted);
        }
    }

    /// Message `id` failed: `status` is the error submit_sm_resp's command_status, `None`
    /// for a failure without one (response timeout, link lost, given up after re-sends).
    pub fn failed(&self, id: &MessageId, status: Option<u32>, reason: &str) {
        if let Some(outcome) = self.store.on_failed(id, status, reason) {
            self.metrics
                .record_response(&outcome.channel, status, outcome.since_accepted);
        }
    }

    /// A delivery receipt arrived on `channel`. `Ok` means the deliver_sm may be
    /// acknowledged now: the store is updated and the webhook event is queued (or there is
    /// no webhook). On `Err` nothing was changed; answer the deliver_sm with an error so the
    /// SMSC sends it again.
    pub fn receipt(&self, channel: &str, receipt: ReceiptReport) -> Result<(), NotAccepted> {
        let slot = match &self.webhook {
            Some(hook) => Some(hook.reserve().ok_or(NotAccepted::WebhookQueueFull)?),
            None => None,
        };
        let matched = self.store.on_receipt(channel, &receipt);
        if let Some(slot) = slot {
            let (message_id, segment, message_state) = match &matched {
                ReceiptMatch::Matched { id, segment, state } => {
                    (Some(id.to_string()), Some(*segment), Some(state.as_str()))
                }
                _ => (None, None, None),
            };
            let event = json!({
                "event_id": MessageId::generate().to_string(),
                "type": "receipt",
                "channel": channel,
                "smsc_message_id": receipt.smsc_message_id,
                "state": receipt.state.as_str(),
                "error_code": receipt.error_code,
                "message_id": message_id,
                "segment": segment,
                "message_state": message_state,
                "received_at": rfc3339(SystemTime::now()),
            });
            slot.send(Bytes::from(event.to_string()));
        }
        match matched {
            ReceiptMatch::Matched { .. } => {}
            ReceiptMatch::NotFound => tracing::debug!(
                channel,
                smsc_message_id = %receipt.smsc_message_id,
                "receipt for no tracked message"
            ),
            ReceiptMatch::Ambiguous { submit_ids } => tracing::warn!(
                channel,
                smsc_message_id = %receipt.smsc_message_id,
                candidates = ?submit_ids,
                "receipt matches several messages; none updated"
            ),
        }
        Ok(())
    }

    /// An inbound message arrived on `channel`. `Ok` means the deliver_sm (every segment of
    /// it) may be acknowledged now; see [`Reports::receipt`].
    pub fn inbound(&self, channel: &str, message: InboundReport) -> Result<(), NotAccepted> {
        let Some(hook) = &self.webhook else {
            tracing::info!(channel, "inbound message dropped: no [webhook] configured");
            return Ok(());
        };
        let slot = hook.reserve().ok_or(NotAccepted::WebhookQueueFull)?;
        let mut event = json!({
            "event_id": MessageId::generate().to_string(),
            "type": "inbound",
            "channel": channel,
            "from": message.from,
            "to": message.to,
            "received_at": rfc3339(SystemTime::now()),
        });
        match message.content {
            InboundContent::Text(text) => event["text"] = json!(text),
            InboundContent::Binary { data, data_coding } => {
                event["binary"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
                event["data_coding"] = json!(data_coding);
            }
        }
        slot.send(Bytes::from(event.to_string()));
        Ok(())
    }
}
