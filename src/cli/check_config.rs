//! `smppd check-config FILE`: validate everything a start would, without starting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use smppd::config::{
    Config, KeystoreSource, PostgresStore, SmppServerConfig, SmppUserConfig, StoreBackend,
};
use smppd::daemon::channels::tls_settings;
use smppd::daemon::inspect_postgres;
use smppd::daemon::store::sqlite::{inspect, latest_schema};
use smppd::daemon::store::MessageState;
use smppd::supervisor::ChannelFailure;
use smppd::transport::keystore::Keystore;
use smppd::transport::Connector;

/// `smppd check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Checks the file, opens every keystore, builds every TLS context, and prints a summary per
/// channel, for the SMPP server and per SMPP user. Exits 0 when a start would succeed, 1 with
/// every problem listed otherwise.
pub fn run(args: CheckConfigArgs) -> ExitCode {
    let loaded = match Config::load(&args.file) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors.0 {
                println!("error: {e}");
            }
            println!("{}: {} problem(s)", args.file.display(), errors.0.len());
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        println!("warning: {w}");
    }
    let config = loaded.config;
    let mut problems = 0;
    for c in &config.channels {
        let keystore = match &c.tls.keystore {
            KeystoreSource::None => "none".to_string(),
            KeystoreSource::Pkcs12 { path, .. } => format!("pkcs12 {}", path.display()),
            KeystoreSource::Pem {
                certificate, ca, ..
            } => format!(
                "pem {}",
                certificate
                    .as_ref()
                    .or(ca.as_ref())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
        };
        let session = &c.session;
        println!(
            "[channel-{}] {}:{} bind={:?} system_id={} tls={}/{} keystore={} window={} rate={} drain={}ms retry-limit={} throttle-pause={}-{}ms",
            c.name,
            c.host,
            c.port,
            session.bind_mode(),
            session.system_id(),
            c.tls.mode.as_str(),
            c.tls.options.version.as_str(),
            keystore,
            session.window_size(),
            if session.max_rate() == 0 {
                "unlimited".to_string()
            } else {
                format!("{}/s", session.max_rate())
            },
            session.drain_timeout().as_millis(),
            session.transient_retry_limit(),
            session.throttle_pause().as_millis(),
            session.throttle_pause_max().as_millis(),
        );
        let result = tls_settings(&c.tls).and_then(|settings| {
            if let Some(ks) = settings.keystore() {
                println!(
                    "    keystore: {} certificate(s) in our chain, private key {}, {} trusted",
                    ks.contents.chain.len(),
                    if ks.contents.key.is_some() {
                        "present"
                    } else {
                        "absent"
                    },
                    ks.contents.trusted.len()
                );
                for w in ks.contents.warnings(SystemTime::now()) {
                    println!("    warning: {w}");
                }
            }
            Connector::new(&settings).map(|_| ())
        });
        if let Err(e) = result {
            let report = ChannelFailure::Init(e).report();
            println!(
                "    error {}: {} (reason {})",
                report.primary.code, report.primary.text, report.reason
            );
            problems += 1;
        }
    }
    if let Some(server) = &config.smpp_server {
        if let Err(problem) = check_smpp_server(server) {
            println!("    error: {problem}");
            problems += 1;
        }
    }
    for user in &config.smpp_users {
        println!("{}", user_summary(user));
    }
    if config.webhook.is_some() {
        println!("[webhook] configured");
    }
    println!("[http] listen {}", config.http.listen);
    let checked = match &config.store.backend {
        StoreBackend::Sqlite => check_store(&config.store.path),
        StoreBackend::Postgres(pg) => check_postgres(&config, pg),
    };
    if let Err(problem) = checked {
        println!("    error: {problem}");
        problems += 1;
    }
    if problems == 0 {
        println!(
            "{}: OK, {} channel(s)",
            args.file.display(),
            config.channels.len()
        );
        ExitCode::SUCCESS
    } else {
        println!("{}: {problems} problem(s)", args.file.display());
        ExitCode::FAILURE
    }
}

/// Prints the server's summary line and opens its keystore and client CA file as a start
/// would: the PKCS#12 file must hold the server's key and chain, the CA file a certificate.
fn check_smpp_server(server: &SmppServerConfig) -> Result<(), String> {
    let timeouts = format!(
        "bind-timeout={}s idle-timeout={}s",
        server.bind_timeout.as_secs(),
        server.idle_timeout.as_secs()
    );
    let Some((version, keystore, client_ca)) = server.tls.parts() else {
        println!("[smpp-server] listen {} tls=off {timeouts}", server.listen);
        return Ok(());
    };
    println!(
        "[smpp-server] listen {} tls={}/{} keystore=pkcs12 {}{} {timeouts}",
        server.listen,
        server.tls.mode().as_str(),
        version.as_str(),
        keystore.path.display(),
        client_ca
            .map(|ca| format!(" client-ca={}", ca.display()))
            .unwrap_or_default(),
    );
    let path = keystore.path.display();
    let contents = Keystore::load_pkcs12(
        &keystore.path,
        &keystore.file_password,
        &keystore.key_password,
    )
    .map_err(|e| format!("[smpp-server] tls-path-to-certificate {path}: {e}"))?;
    contents
        .require_key()
        .map_err(|e| format!("[smpp-server] tls-path-to-certificate {path}: {e}"))?;
    println!(
        "    keystore: {} certificate(s) in the server's chain, private key present",
        contents.chain.len()
    );
    for w in contents.warnings(SystemTime::now()) {
        println!("    warning: {w}");
    }
    if let Some(ca) = client_ca {
        let trusted = Keystore::load_pem(None, None, Some(ca))
            .and_then(|k| k.require_trusted().map(<[_]>::len))
            .map_err(|e| format!("[smpp-server] tls-client-ca {}: {e}", ca.display()))?;
        println!("    client CA: {trusted} certificate(s)");
    }
    Ok(())
}

/// One line per user, without its hash.
fn user_summary(user: &SmppUserConfig) -> String {
    let list = |items: Vec<String>, empty: &str| {
        if items.is_empty() {
            empty.to_string()
        } else {
            items.join(",")
        }
    };
    format!(
        "[smpp-user-{}] system_id={} channels={} max_binds={} throughput={}/s credits={} allowed_ips={} address_ranges={}",
        user.name,
        user.system_id,
        user.channels.join(","),
        user.max_binds,
        user.throughput,
        user.credits
            .map_or_else(|| "unlimited".to_string(), |c| c.to_string()),
        list(user.allowed_ips.iter().map(ToString::to_string).collect(), "any"),
        list(
            user.address_ranges.iter().map(ToString::to_string).collect(),
            "none"
        ),
    )
}

/// What a start would find in the PostgreSQL database: it must be reachable, and its schema
/// one this build knows (none yet is fine: the first start creates it).
fn check_postgres(config: &Config, pg: &PostgresStore) -> Result<(), String> {
    let runtime = super::runtime(super::Threads::One)
        .map_err(|e| format!("[store] cannot start a runtime to connect: {e}"))?;
    let (found, stats) = runtime
        .block_on(inspect_postgres(config, pg))
        .map_err(|e| format!("[store] {e}"))?;
    let known = smppd::daemon::store::postgres::latest_schema();
    match stats {
        Some(stats) => {
            let queued = stats.messages_in(MessageState::Queued);
            println!(
                "[store] postgres {} {} (schema {found} of {known}, {queued} message(s) queued, {} webhook event(s))",
                pg.url, pg.tls, stats.outbox
            );
        }
        None => println!(
            "[store] postgres {} {} (reachable; no schema yet: created at the first start)",
            pg.url, pg.tls
        ),
    }
    Ok(())
}

/// What a start would find at the store's path: an existing store of a schema this build
/// reads (its counts are printed), or a directory where one can be created.
fn check_store(path: &std::path::Path) -> Result<(), String> {
    if path.exists() {
        let stats = inspect(path).map_err(|e| e.to_string())?;
        let queued = stats.messages_in(MessageState::Queued);
        println!(
            "[store] {} (schema {} of {}, {queued} message(s) queued, {} webhook event(s))",
            path.display(),
            stats.schema_version,
            latest_schema(),
            stats.outbox
        );
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "[store] path {}: the directory {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    println!(
        "[store] {} (new: created at the first start)",
        path.display()
    );
    Ok(())
}
