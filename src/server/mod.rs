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
//!          bind_* ──> BindRequested ──answer Err(status)──> bind_*_resp(status), stays OPEN
//!   OPEN ──┴─ answer Ok ──> bind_*_resp ESME_ROK ──> BOUND(TX | RX | TRX)
//!    │  (one bind in flight; another bind while one is                │  │  │
//!    │   pending or bound ──> ESME_RALYBND)                           │  │  └ client unbind ──>
//!    │                                                                │  │    unbind_resp,
//!    │                       operator unbind(), or nothing received   │  │    Unbound, CLOSED
//!    │                       for idle_timeout ──> we send unbind      │  │
//!    │                                                                ▼  │ a deliver_sm
//!    │                        UNBINDING ── unbind_resp, or response_timeout ──> CLOSED
//!    │                        (submits refused ESME_RINVBNDSTS;        │  unanswered for
//!    │                         responses still flow)                   │  response_timeout
//!    └─ bind_timeout without a bind, or a framing error ──> CLOSED  <──┘  (NotReading)
//! ```
//!
//! Before a bind succeeds every other request is answered ESME_RINVBNDSTS; enquire_link is
//! answered in every state; unknown command ids get generic_nack ESME_RINVCMDID; a PDU whose
//! body does not decode is answered as the codec's [`crate::codec::DecodeError::reply`]
//! advises and the connection goes on. Only a command_length the framer cannot accept ends
//! it (generic_nack ESME_RINVCMDLEN first).
//!
//! Bounds: at most [`ServerParams::max_pending`] submit_sm, data_sm and query_sm await the
//! daemon's answer (more are answered ESME_RTHROTTLED at once, with no event), and at most
//! [`ServerParams::deliver_window`] deliver_sm await the client's answer.
//!
//! Delivery guarantee: the daemon commits a message before it answers its `Submit`. When the
//! connection closes first (client unbind, timeout, framing error), answers for tokens still
//! pending are dropped: the client sees no response and may submit again, so a message is
//! accepted at least once, never lost. deliver_sm still unanswered at close come back in
//! [`ServerEvent::Undelivered`] for the daemon to keep queued.
//!
//! Depends on [`crate::codec`] and [`crate::secret`] only; it sits beside [`crate::session`],
//! the client side, and shares nothing with it.

mod core;
mod error;
mod event;
mod outbound;
mod params;
mod pending;

#[cfg(test)]
mod client;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use self::core::ServerSession;
pub use error::{DeliverRefused, ParamError};
pub use event::{BindMode, CloseReason, QueryAnswer, ServerEvent, Submitted, Token};
pub use params::ServerParams;
