//! One supervisor per channel: connect, bind, run the session, and after a failure wait with
//! back-off and try again. Depends on [`crate::session`] (and the transport for connecting).

pub mod backoff;
pub mod channel;

pub use backoff::{Backoff, BackoffError, Jitter};
pub use channel::{
    spawn, ChannelEnd, ChannelError, ChannelHandle, ChannelIo, ChannelState, ChannelStatus,
    ConnectError,
};
