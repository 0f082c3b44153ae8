//! `smppd simulate`: run the built-in SMSC simulator until Ctrl-C or SIGTERM, printing one
//! line per notable event.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use smppd::codec::CommandStatus;
use smppd::simulator::{
    Account, AfterBind, ClientAuth, DeliverKind, Event, Faults, MessageIdStyle, Simulator,
    SimulatorConfig, SimulatorError, SubmitOutcome, TlsServerSettings, TlsVersions,
};
use tokio::sync::broadcast::error::RecvError;

/// Environment variable holding `id:pw,id2:pw2`, so passwords stay off the command line.
const ACCOUNTS_ENV: &str = "SMPPD_SIM_ACCOUNTS";

/// Entries kept per record list in a CLI run (the events are printed as they happen).
const RECORD_LIMIT: usize = 1000;

/// The flags of `smppd simulate` (the subcommand's help text is on `Command::Simulate`).
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on (port 0 picks a free port; the first output line reports it).
    #[arg(long, default_value = "127.0.0.1:2775")]
    listen: SocketAddr,
    /// An account allowed to bind, SYSTEM_ID:PASSWORD; repeatable. Also read from
    /// SMPPD_SIM_ACCOUNTS (comma-separated), which keeps passwords out of `ps`.
    #[arg(long = "account", value_name = "SYSTEM_ID:PASSWORD")]
    accounts: Vec<String>,
    /// Serve TLS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key for --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Offer only this TLS version (default: both 1.2 and 1.3).
    #[arg(long, value_enum, requires = "tls_cert")]
    tls_version: Option<TlsVersionArg>,
    /// Form of the message ids in submit_sm_resp and receipts.
    #[arg(long, value_enum, default_value = "hex")]
    message_id_style: IdStyleArg,
    /// Milliseconds between a submit_sm_resp and its delivery receipt.
    #[arg(long, value_name = "N", default_value_t = 0)]
    receipt_delay_ms: u64,
    /// Fault: answer every Nth submit_sm of a connection with ESME_RTHROTTLED.
    #[arg(long, value_name = "N")]
    throttle_every: Option<u32>,
    /// Fault: close a connection when its Nth submit_sm arrives, leaving that one unanswered.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    drop_after: Option<u32>,
    /// Fault: close every connection right after the TLS handshake (plain TCP: after accept).
    #[arg(long)]
    close_after_handshake: bool,
    /// Fault: hold every response this many milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Fault: never answer enquire_link.
    #[arg(long)]
    ignore_enquire_link: bool,
    /// Fault: record submit_sm but never answer it.
    #[arg(long)]
    withhold_submit_responses: bool,
    /// Fault: right after every successful bind_resp, send an unbind, octets that cannot be
    /// framed, or a deliver_sm that does not decode (a flapping SMSC).
    #[arg(long, value_enum, value_name = "WHAT")]
    after_bind: Option<AfterBindArg>,
    /// Append every event to this file as one JSON line (connections, binds, each submit_sm
    /// with its octets and outcome, deliver_sm and their answers, closes), each written
    /// before the answer it records goes out, so the file survives the process being killed.
    #[arg(long, value_name = "PATH")]
    record_file: Option<PathBuf>,
    /// Add N to the counter behind the message ids, so that a simulator restarted on the
    /// same port does not hand out the ids of the last one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    message_id_offset: u64,
    /// Every N milliseconds, send a mobile-originated deliver_sm to each bound receiver and
    /// transceiver, from 447700900999 to 12345, with a text unique to this process
    /// (`mo <tag>-<n>`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    mo_every_ms: Option<u64>,
    /// Print only the start and stop lines, not one line per event: under load, formatting
    /// and writing a line per submit costs more CPU than serving it.
    #[arg(long)]
    quiet: bool,
}

/// `--tls-version` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum TlsVersionArg {
    /// TLS 1.2 only.
    #[value(name = "1.2")]
    V12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    V13,
}

/// `--after-bind` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum AfterBindArg {
    /// Send unbind.
    Unbind,
    /// Send a header whose command_length is below 16.
    Garbage,
    /// Send a deliver_sm with a one-octet body.
    MalformedPdu,
}

/// `--message-id-style` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum IdStyleArg {
    /// Lower-case hexadecimal.
    Hex,
    /// Decimal digits.
    Decimal,
}

impl SimulateArgs {
    fn config(&self, env_accounts: Option<String>) -> Result<SimulatorConfig, SimulatorError> {
        let mut accounts = self
            .accounts
            .iter()
            .map(|a| Account::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(list) = env_accounts {
            accounts.extend(Account::parse_list(&list)?);
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsServerSettings {
                cert_chain: cert.clone(),
                private_key: key.clone(),
                client_auth: match &self.client_ca {
                    Some(ca) => ClientAuth::Required { ca: ca.clone() },
                    None => ClientAuth::None,
                },
                versions: match self.tls_version {
                    None => TlsVersions::Both,
                    Some(TlsVersionArg::V12) => TlsVersions::Tls12,
                    Some(TlsVersionArg::V13) => TlsVersions::Tls13,
                },
            }),
            _ => None,
        };
        let mut config = SimulatorConfig::loopback(accounts);
        config.listen = self.listen;
        config.tls = tls;
        config.message_id_style = match self.message_id_style {
            IdStyleArg::Hex => MessageIdStyle::Hex,
            IdStyleArg::Decimal => MessageIdStyle::Decimal,
        };
        config.receipt_delay = Duration::from_millis(self.receipt_delay_ms);
        config.record_file = self.record_file.clone();
        config.message_id_offset = self.message_id_offset;
        config.mo_interval = self.mo_every_ms.map(Duration::from_millis);
        // Nobody reads the record of a CLI run (events are printed instead): keep it small.
        config.record_limit = Some(RECORD_LIMIT);
        config.faults = Faults {
            throttle_every: self.throttle_every,
            drop_after: self.drop_after,
            close_after_handshake: self.close_after_handshake,
            response_delay: Duration::from_millis(self.delay_ms),
            ignore_enquire_link: self.ignore_enquire_link,
            withhold_submit_responses: self.withhold_submit_responses,
            after_bind: self.after_bind.map(|a| match a {
                AfterBindArg::Unbind => AfterBind::Unbind,
                AfterBindArg::Garbage => AfterBind::Garbage,
                AfterBindArg::MalformedPdu => AfterBind::MalformedPdu,
            }),
        };
        Ok(config)
    }
}

/// Runs the simulator until Ctrl-C or SIGTERM.
pub fn run(args: SimulateArgs) -> ExitCode {
    let config = match args.config(std::env::var(ACCOUNTS_ENV).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smppd simulate: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match super::run::runtime("simulate") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(serve(config, args.quiet))
}

async fn serve(config: SimulatorConfig, quiet: bool) -> ExitCode {
    let mode = if config.tls.is_some() { "tls" } else { "tcp" };
    let accounts = config.accounts.len();
    let handle = match Simulator::start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("smppd simulate: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Quiet: no subscriber at all, so the simulator does not queue events nobody prints.
    let mut events = (!quiet).then(|| handle.subscribe());
    // Registered before the first line goes out, so a supervisor that signals as soon as it
    // sees "listening" cannot kill the process with the default SIGTERM action.
    let stop = stop_signal();
    println!(
        "listening {} {mode} accounts={accounts}",
        handle.local_addr()
    );
    tokio::pin!(stop);
    match &mut events {
        None => stop.await,
        Some(events) => loop {
            tokio::select! {
                _ = &mut stop => break,
                event = events.recv() => match event {
                    Ok(e) => println!("{}", describe(&e)),
                    Err(RecvError::Lagged(n)) => println!("(skipped {n} events)"),
                    Err(RecvError::Closed) => break,
                },
            }
        },
    }
    handle.shutdown().await;
    println!("stopped");
    ExitCode::SUCCESS
}

/// Installs the SIGTERM handler now and returns a future that resolves on Ctrl-C or SIGTERM.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    async move {
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One line per event; binds print the system_id, never the password (it is not recorded).
fn describe(event: &Event) -> String {
    match event {
        Event::Connected(id, peer) => format!("conn={id} connected peer={peer}"),
        Event::Closed(id, reason) => match reason.detail() {
            Some(detail) => format!("conn={id} closed reason={} ({detail})", reason.as_str()),
            None => format!("conn={id} closed reason={}", reason.as_str()),
        },
        Event::Bind(b) => format!(
            "conn={} bind mode={:?} system_id={} status={}",
            b.connection,
            b.mode,
            b.system_id,
            status(b.command_status)
        ),
        Event::Submit(s) => {
            let outcome = match &s.outcome {
                SubmitOutcome::Accepted { message_id } => format!("accepted id={message_id}"),
                SubmitOutcome::Throttled => "throttled".to_owned(),
                SubmitOutcome::Withheld => "withheld".to_owned(),
                SubmitOutcome::Dropped => "dropped connection".to_owned(),
                SubmitOutcome::Rejected { command_status } => {
                    format!("rejected status={}", status(*command_status))
                }
            };
            format!(
                "conn={} submit seq={} from={} to={} len={} {outcome}",
                s.connection,
                s.sequence_number,
                s.source_addr,
                s.destination_addr,
                s.short_message.len()
            )
        }
        Event::DeliverSent(d) => format!(
            "conn={} deliver_sm seq={} {}",
            d.connection,
            d.sequence_number,
            kind(&d.kind)
        ),
        Event::DeliverAnswered(d) => format!(
            "conn={} deliver_sm_resp seq={} {} status={}",
            d.connection,
            d.sequence_number,
            kind(&d.kind),
            d.response_status.map_or("none".to_owned(), status)
        ),
    }
}

fn kind(k: &DeliverKind) -> String {
    match k {
        DeliverKind::Receipt { message_id } => format!("receipt id={message_id}"),
        DeliverKind::MobileOriginated => "mo".to_owned(),
    }
}

/// A command_status as its spec name when it has one, else as hex.
fn status(s: CommandStatus) -> String {
    s.spec_name()
        .map_or_else(|| format!("0x{:08x}", s.value()), str::to_owned)
}
