//! The one hang guard of the integration tests.

use std::time::Duration;

/// Long enough to mean "it hangs", never a performance expectation: a wait that reaches it
/// has failed. CI machines are slow, not this slow.
pub const HANG_GUARD: Duration = Duration::from_secs(60);
