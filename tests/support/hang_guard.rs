//! The one hang guard of the integration tests.

use std::future::Future;
use std::time::Duration;

/// Long enough to mean "it hangs", never a performance expectation: a wait that reaches it
/// has failed. CI machines are slow, not this slow.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// `f`, or a failed test once [`HANG_GUARD`] has passed: a hung test fails instead of
/// letting CI wait forever. Never a timing assertion.
// Some binaries bound single waits with HANG_GUARD and run no future under the guard.
#[allow(dead_code)]
pub async fn guard<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, f)
        .await
        .expect("hang guard: the test did not finish")
}
