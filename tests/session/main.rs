//! One SMPP connection and what drives it: the session against a scripted SMSC, the channel
//! task through the real supervisor, and the built-in simulator (library and `smppd
//! simulate`) that plays the SMSC.

#[path = "../support"]
mod support {
    pub mod channel;
    pub mod dev_pki;
    pub mod events;
    pub mod hang_guard;
    pub mod peer;
    // Only the CA, server and client certificates, for the simulator's PEM files.
    #[allow(dead_code)]
    pub mod pki;
    pub mod simulator;
}

mod channel_bind;
mod channel_lifecycle;
mod channel_window;
mod daemon_channels;
mod session_channel;
mod session_driver;
mod session_simulator;
mod simulator_cli;
mod simulator_faults;
mod simulator_record;
mod simulator_smpp;
mod simulator_tls;
