//! Shared helpers of the `simulator_*` integration tests: a throw-away PKI and a small SMPP
//! client written directly on the codec (not on smppd's session layer, so that the simulator
//! and the client under test never share code paths).

pub mod pki;

pub mod client;

use smppd::simulator::{Account, SimulatorConfig};

/// Plain TCP config with account `esme`/`secret` (and `other`/`pw2`).
pub fn config() -> SimulatorConfig {
    SimulatorConfig::loopback(vec![
        Account::new("esme", "secret"),
        Account::new("other", "pw2"),
    ])
}
