//! One supervisor per channel: connect, bind, run the session, and after a failure wait with
//! back-off and try again. Depends on [`crate::session`] (and the transport for connecting).

pub mod backoff;
