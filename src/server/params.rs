//! [`ServerParams`]: the limits and timeouts of one server-side connection.

use std::time::Duration;

use crate::codec::{SystemId, DEFAULT_MAX_PDU_LEN, HEADER_LEN};

use super::error::ParamError;

/// How one server-side connection behaves; the configuration layer builds it and
/// [`ServerParams::validate`] says what is wrong before any client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerParams {
    /// The system_id smppd names itself in bind responses (at most 15 octets, no NUL).
    pub system_id: String,
    /// Largest command_length accepted, header included. A longer frame is answered with
    /// generic_nack ESME_RINVCMDLEN and the connection closes: the stream cannot be resynchronised.
    pub max_pdu_len: u32,
    /// A client that has not bound successfully this long after the connection opened is
    /// closed, so that idle sockets cannot hold server slots.
    pub bind_timeout: Duration,
    /// Bound and nothing received for this long: smppd sends unbind, then closes once it is
    /// answered or after `response_timeout`.
    pub idle_timeout: Duration,
    /// A deliver_sm or unbind of ours unanswered for this long closes the connection: the
    /// client is not reading.
    pub response_timeout: Duration,
    /// deliver_sm in flight (sent, not yet answered) at most.
    pub deliver_window: usize,
    /// submit_sm, data_sm and query_sm awaiting the daemon's answer at most; more are
    /// answered ESME_RTHROTTLED at once.
    pub max_pending: usize,
}

impl Default for ServerParams {
    /// Values that suit a typical ESME: a 64 KiB PDU limit, 30 s to bind, 90 s of silence
    /// (three missed 30 s enquire_links), 30 s to answer, 100 deliver_sm and 100 submits in flight.
    fn default() -> Self {
        ServerParams {
            system_id: "smppd".to_owned(),
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
            bind_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            response_timeout: Duration::from_secs(30),
            deliver_window: 100,
            max_pending: 100,
        }
    }
}

impl ServerParams {
    /// Checks what the core would otherwise have to quietly repair: a system_id that does not
    /// fit bind_resp, a PDU limit below the header, windows of zero (nothing could ever flow).
    pub fn validate(&self) -> Result<(), ParamError> {
        SystemId::new(&self.system_id).map_err(ParamError::SystemId)?;
        if (self.max_pdu_len as usize) < HEADER_LEN {
            return Err(ParamError::MaxPduLen(self.max_pdu_len));
        }
        if self.deliver_window == 0 {
            return Err(ParamError::Zero("deliver_window"));
        }
        if self.max_pending == 0 {
            return Err(ParamError::Zero("max_pending"));
        }
        Ok(())
    }
}
