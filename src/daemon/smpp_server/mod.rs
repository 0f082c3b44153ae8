//! The SMPP server for downstream clients ("users"): smppd as an SMSC towards them and an
//! ESME towards the operators. A user's submits are committed to the store (charged, in the
//! user's own queue) before they are answered, sent through the user's channels in order of
//! preference, and their receipts, like the inbound messages routed to the user by address
//! range, wait in the outbox under the user's name until one of its receiver binds
//! acknowledges them.

pub mod deliver;
pub mod routes;

pub use deliver::{deliver_sm, DeliverError};
pub use routes::{Sending, UserRoutes};
