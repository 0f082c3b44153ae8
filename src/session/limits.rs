//! The ranges and defaults of [`SessionParams`](super::SessionParams)'s parameters, and the
//! SMPP v3.4 lengths of its strings.
//!
//! The `with_*` methods check against these, and the configuration's option table takes the
//! ranges and defaults of the options that set them from here, so an option and the parameter
//! behind it cannot disagree. Times are in milliseconds, as the options write them.
//!
//! A namespace of its own, apart from the session's root: its constants are named after the
//! parameters (`limits::WINDOW_SIZE`), which would not say what they are at the root.

/// The inclusive range of a numeric parameter, and its value when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest value allowed.
    pub min: u64,
    /// The largest value allowed.
    pub max: u64,
    /// The value when none is given.
    pub default: u64,
}

/// Submits that may await their response at once.
pub const WINDOW_SIZE: Bounds = Bounds {
    min: 1,
    max: 1000,
    default: 10,
};

/// How long a request may wait for its response, in milliseconds.
pub const RESPONSE_TIMEOUT_MS: Bounds = Bounds {
    min: 1_000,
    max: 180_000,
    default: 30_000,
};

/// How long the bind may wait for its bind_resp, in milliseconds (as for any response).
pub const BIND_TIMEOUT_MS: Bounds = RESPONSE_TIMEOUT_MS;

/// Idle time after which an enquire_link is sent, in milliseconds.
pub const ENQUIRE_LINK_INTERVAL_MS: Bounds = Bounds {
    min: 1_000,
    max: 3_600_000,
    default: 30_000,
};

/// How long a graceful stop waits for the responses in flight, in milliseconds (0: no wait).
pub const DRAIN_TIMEOUT_MS: Bounds = Bounds {
    min: 0,
    max: 300_000,
    default: 10_000,
};

/// Re-submissions of one message after transient errors; 0 fails it at the first one.
pub const TRANSIENT_RETRY_LIMIT: Bounds = Bounds {
    min: 0,
    max: 100,
    default: 3,
};

/// The first pause after ESME_RTHROTTLED or ESME_RMSGQFUL, in milliseconds. Its largest
/// allowed value is also bounded by the longest pause.
pub const THROTTLE_PAUSE_MS: Bounds = Bounds {
    min: 10,
    max: 600_000,
    default: 1_000,
};

/// The longest pause after repeated throttling, in milliseconds.
pub const THROTTLE_PAUSE_MAX_MS: Bounds = Bounds {
    min: 10,
    max: 600_000,
    default: 30_000,
};

/// Submits per second when none is given; 0 means no cap, and any higher value is allowed
/// (SMSCs differ in what they accept).
pub const DEFAULT_MAX_RATE: u32 = 10;

/// The longest `system_id`, in octets without the NUL (SMPP v3.4, 5.2.1).
pub const MAX_SYSTEM_ID: usize = 15;
/// The longest `password`, in octets without the NUL (SMPP v3.4, 5.2.2).
pub const MAX_PASSWORD: usize = 8;
/// The longest `system_type`, in octets without the NUL (SMPP v3.4, 5.2.3).
pub const MAX_SYSTEM_TYPE: usize = 12;
/// The longest `address_range`, in octets without the NUL (SMPP v3.4, 5.2.7).
pub const MAX_ADDRESS_RANGE: usize = 40;
