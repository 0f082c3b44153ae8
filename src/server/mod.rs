//! The server side of one SMPP v3.4 connection: what smppd does when an ESME binds to it.
//!
//! [`ServerSession`] is the protocol core, sans-I/O in the manner of quinn-proto's
//! `Connection` and of the simulator's `smsc`: received octets and the current time go in
//! ([`ServerSession::handle_bytes`], [`ServerSession::handle_timeout`]), octets to write and
//! [`ServerEvent`]s come out ([`ServerSession::poll_transmit`], [`ServerSession::poll_event`]),
//! and the daemon answers events through the `answer_*` methods. The core owns no socket,
//! timer, store or configuration file, so every rule below is tested in memory with a clock
//! advanced by hand, every input can be fuzzed, and one driver can run any number of
//! connections on whatever runtime it likes. The driver's loop:
//!
//! ```text
//!   read socket ──> handle_bytes(buf, now) ─┐      sleep until next_deadline()
//!                                           ├──> handle_timeout(now)
//!   poll_event() ──> daemon ──> answer_bind / answer_submit / answer_query / deliver / unbind
//!   poll_transmit(out) ──> write socket;  is_closed() ──> flush what is left, close socket
//! ```
//!
//! Bind state (SMPP v3.4 §2.3, §4.1, §4.2):
//!
//! ```text
//!           bind_* ──> BindRequested ── answer_bind Err(status) ──> bind_*_resp(status),
//!   OPEN ◄──────────────────────────────────────────────────────────  stays OPEN
//!    │ answer_bind Ok ──> bind_*_resp ESME_ROK      (one bind awaits the daemon at a time;
//!    ▼                                               another bind ──> ESME_RALYBND)
//!   BOUND(TX | RX | TRX) ── client unbind ──> unbind_resp, Unbound ──> CLOSED(ClientUnbind)
//!    │ unbind() by the operator, or nothing received for idle_timeout: smppd sends unbind
//!    ▼
//!   UNBINDING ── unbind_resp, or none within response_timeout ──> CLOSED(OperatorUnbind | Idle)
//!     (new submits ESME_RINVBNDSTS; answers to earlier ones and deliver_sm_resp still flow)
//!
//!   OPEN:              no successful bind within bind_timeout         ──> CLOSED(BindTimeout)
//!   BOUND, UNBINDING:  a deliver_sm unanswered for response_timeout   ──> CLOSED(NotReading)
//!   any state:         a command_length the framer refuses ──> generic_nack, CLOSED(Framing)
//! ```
//!
//! Before a bind succeeds every other request is answered ESME_RINVBNDSTS; enquire_link is
//! answered in every state; unknown command ids get generic_nack ESME_RINVCMDID, and so do
//! requests smppd does not serve (submit_multi, cancel_sm, replace_sm, a client's deliver_sm),
//! through their own response when they have one, in every state. A PDU whose body does not
//! decode is answered as the codec's [`crate::codec::DecodeError::reply`] advises and the
//! connection goes on; a malformed deliver_sm_resp or unbind_resp still answers the PDU of
//! ours its header names.
//!
//! Bounds: at most [`ServerParams::max_pending`] submit_sm, data_sm and query_sm await the
//! daemon's answer (more are answered ESME_RTHROTTLED at once, with no event), and at most
//! [`ServerParams::deliver_window`] deliver_sm await the client's answer. Everything else the
//! core queues is an answer to octets it was handed, so a driver that stops reading while its
//! writes are blocked keeps the output bounded too.
//!
//! Delivery guarantee: the daemon commits a message before it answers its `Submit`. When the
//! connection closes first (client unbind, timeout, framing error), answers for tokens still
//! pending are dropped: the client sees no response and may submit again, so a message is
//! accepted at least once, never lost. deliver_sm still unanswered at close come back in
//! [`ServerEvent::Undelivered`] for the daemon to keep queued.
//!
//! Depends on [`crate::codec`] and [`crate::secret`] only; it sits beside [`crate::session`],
//! the client side, and shares nothing with it. Only a test binds the two together, over an
//! in-memory pipe, so that each side is checked against an implementation written apart.

mod core;
mod error;
mod event;
mod outbound;
mod params;
mod pending;

#[cfg(test)]
mod client;
#[cfg(test)]
mod pair;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use self::core::ServerSession;
pub use error::{DeliverRefused, ParamError};
pub use event::{BindMode, CloseReason, QueryAnswer, ServerEvent, Submitted, Token};
pub use params::ServerParams;
