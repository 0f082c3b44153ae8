//! `smppd demo`: the daemon's main job against the built-in SMSC simulator, in one command.
//!
//! Starts the simulator on 127.0.0.1:2775 over mutual TLS with the development PKI, then
//! runs the daemon exactly as `smppd run` does with `config/demo.toml`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use smppd::daemon;
use smppd::secret::Secret;
use smppd::simulator::{
    Account, ClientAuth, MessageIdStyle, Simulator, SimulatorConfig, TlsServerSettings, TlsVersions,
};

use super::run::{exit_code, runtime, LogArgs};

/// `smppd demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The daemon's configuration for the demo.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "config/demo.toml"
    )]
    pub config: PathBuf,
    /// The development PKI (CA, SMSC certificate and key) the simulator uses.
    #[arg(long, value_name = "DIR", default_value = "certs/dev")]
    pub certs: PathBuf,
    /// Where the simulator listens (the demo configuration connects here).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2775")]
    pub smsc: std::net::SocketAddr,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Runs the simulator and the daemon until Ctrl-C or SIGTERM.
pub fn run(args: DemoArgs) -> ExitCode {
    if let Err(code) = args.log.init("demo") {
        return code;
    }
    let runtime = match runtime("demo") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let mut sim = SimulatorConfig::loopback(vec![Account::new("demo", Secret::new("demo"))]);
        sim.listen = args.smsc;
        sim.message_id_style = MessageIdStyle::Hex;
        sim.receipt_delay = Duration::from_millis(500);
        sim.record_limit = Some(1000);
        sim.tls = Some(TlsServerSettings {
            cert_chain: args.certs.join("server-chain.pem"),
            private_key: args.certs.join("server.key"),
            client_auth: ClientAuth::Required {
                ca: args.certs.join("ca.pem"),
            },
            versions: TlsVersions::Both,
        });
        let simulator = match Simulator::start(sim).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("smppd demo: the simulator cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(
            event = "simulator_started",
            address = %simulator.local_addr(),
            "built-in SMSC simulator listening (mutual TLS, account demo)"
        );
        let (ready, api) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            if let Ok(addr) = api.await {
                eprintln!(
                    "\nsmppd demo is running. In another terminal:\n  \
                     curl -s -X POST http://{addr}/v1/messages -H 'content-type: application/json' \
                     -d '{{\"to\":\"447700900123\",\"text\":\"Hello from smppd\"}}'\n  \
                     curl -s http://{addr}/v1/messages/<id from the answer>\n\
                     Ctrl-C stops it.\n"
                );
            }
        });
        let result = daemon::run(&args.config, Some(ready)).await;
        simulator.shutdown().await;
        exit_code("demo", result)
    })
}
