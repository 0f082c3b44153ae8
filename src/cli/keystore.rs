//! `smppd keystore inspect FILE`: lists a PKCS#12 file's certificates and says which of the
//! two passwords is wrong. The checks live in `smppd::transport::keystore::inspect()`; this
//! file only gathers the passwords and prints.
//!
//! Passwords come from `--file-password`/`--key-password`, else from
//! `SMPPD_KEYSTORE_FILE_PASSWORD`/`SMPPD_KEYSTORE_KEY_PASSWORD`, else from a prompt without
//! echo when stdin is a terminal. The options exist for scripts, but a command-line argument
//! is visible to every user of the machine (`ps`), so the other two are preferred.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use smppd::secret::Secret;
use smppd::transport::keystore::format_time;
use smppd::transport::keystore::{inspect, Inspection, PasswordCheck};

/// `smppd keystore ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeystoreCommand {
    /// List a PKCS#12 file's certificates and check its file and key passwords.
    Inspect(InspectArgs),
}

/// Arguments of `smppd keystore inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The PKCS#12 file (.p12, .pfx), as in x-smpp-tls-path-to-certificate.
    file: PathBuf,
    /// The file password (x-smpp-tls-certificate-file-password). Visible to other users:
    /// prefer the environment variable or the prompt.
    #[arg(long, env = "SMPPD_KEYSTORE_FILE_PASSWORD", hide_env_values = true)]
    file_password: Option<Secret>,
    /// The key password (x-smpp-tls-certificate-password); defaults to the file password.
    /// Visible to other users: prefer the environment variable or the prompt.
    #[arg(long, env = "SMPPD_KEYSTORE_KEY_PASSWORD", hide_env_values = true)]
    key_password: Option<Secret>,
}

/// Runs a `keystore` subcommand.
pub fn run(command: KeystoreCommand) -> ExitCode {
    match command {
        KeystoreCommand::Inspect(args) => run_inspect(args),
    }
}

fn run_inspect(args: InspectArgs) -> ExitCode {
    // An empty file password is a real one (OpenSSL allows it); an empty key password means
    // "the same as the file password", as when a channel loads the file.
    let file_password = args.file_password.or_else(|| prompt("File password: "));
    let key_password = args
        .key_password
        .or_else(|| {
            file_password
                .as_ref()
                .and_then(|_| prompt("Key password (Enter: same as the file password): "))
        })
        .filter(|p| !p.is_empty());
    let report = inspect(
        &args.file,
        file_password.as_ref(),
        key_password.as_ref(),
        SystemTime::now(),
    );
    print(&report);
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Asks for a password without echo, only when someone is at a terminal.
fn prompt(question: &str) -> Option<Secret> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(question).ok().map(Secret::from)
}

fn print(r: &Inspection) {
    println!("keystore {}", r.path.display());
    match &r.mac {
        Some((digest, iterations)) => println!("  MAC: HMAC-{digest}, {iterations} iterations"),
        None if r.sections.is_empty() => {}
        None => println!("  MAC: none (the file's integrity is not protected)"),
    }
    for (i, section) in r.sections.iter().enumerate() {
        println!("  section {}: {section}", i + 1);
    }
    println!("  file password: {}", verdict(r.file_password));
    println!("  key password: {}", verdict(r.key_password));
    if r.file_password == PasswordCheck::NotGiven && !r.sections.is_empty() {
        println!("  (give the file password to list the certificates)");
    }
    if r.file_password == PasswordCheck::Correct {
        println!("  private keys: {}", r.keys);
    }
    for (i, c) in r.certificates.iter().enumerate() {
        let f = &c.facts;
        match &c.friendly_name {
            Some(alias) => println!("certificate {} (alias {alias})", i + 1),
            None => println!("certificate {}", i + 1),
        }
        println!("  subject:     {}", f.subject);
        println!("  issuer:      {}", f.issuer);
        println!("  serial:      {}", f.serial);
        println!(
            "  valid:       {} to {}",
            format_time(f.not_before),
            format_time(f.not_after)
        );
        let key = match (c.has_key, c.key_matches) {
            (false, _) => "none",
            (true, Some(true)) => "present, matches this certificate",
            (true, Some(false)) => "present, DOES NOT MATCH this certificate",
            (true, None) => "present, not checked (key password missing or wrong)",
        };
        println!("  private key: {key}");
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    if let Some(e) = &r.error {
        println!("error: {e} ({})", e.reason());
    } else if r.file_password == PasswordCheck::NotGiven {
        println!("incomplete: without the file password the contents were not checked");
    } else {
        println!("ok: a channel can load this keystore");
    }
}

fn verdict(check: PasswordCheck) -> &'static str {
    match check {
        PasswordCheck::NotGiven => "not given",
        PasswordCheck::NotNeeded => "not needed (no private key in the file)",
        PasswordCheck::Correct => "correct",
        PasswordCheck::Wrong => "WRONG",
        PasswordCheck::Unchecked => "not checked (the file did not open)",
    }
}
