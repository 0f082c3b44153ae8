//! `smppd pdu decode`: print PDUs given as hex, field by field, for people debugging a link.
//! Decoding lives in `smppd::codec::dump`, rendering (with delivery receipts read) in
//! `smppd::pdu_view`; this file only reads the input.

use clap::{Args, Subcommand};
use smppd::codec::dump;
use smppd::pdu_view;
use std::io::{BufRead, Write};
use std::process::ExitCode;

/// Work with raw SMPP PDUs.
#[derive(Debug, Args)]
pub struct PduArgs {
    #[command(subcommand)]
    command: PduCommand,
}

#[derive(Debug, Subcommand)]
enum PduCommand {
    /// Decode hex-encoded PDUs (one or several concatenated) and print every field.
    ///
    /// Exit status: 0 when every PDU decodes, 1 when one is malformed, 2 for unusable input.
    Decode {
        /// Print JSON instead of aligned text.
        #[arg(long)]
        json: bool,
        /// Hex octets, spaces allowed (several arguments are joined); `-` reads hex lines from
        /// stdin.
        #[arg(required = true, value_name = "HEX")]
        hex: Vec<String>,
    },
}

/// Runs `smppd pdu ...`.
pub fn run(args: PduArgs) -> ExitCode {
    match args.command {
        PduCommand::Decode { json, hex } => decode(json, &hex),
    }
}

fn decode(json: bool, args: &[String]) -> ExitCode {
    let text = if args.iter().any(|a| a == "-") {
        let mut all = String::new();
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(l) => all.push_str(l.split('#').next().unwrap_or("")),
                Err(e) => {
                    eprintln!("smppd pdu decode: cannot read stdin: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        all
    } else {
        args.join("")
    };
    let bytes = match parse_hex(&text) {
        Ok(b) if !b.is_empty() => b,
        Ok(_) => {
            eprintln!("smppd pdu decode: no hex octets given");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("smppd pdu decode: {e}");
            return ExitCode::from(2);
        }
    };
    let dumps = dump::dump(&bytes);
    let out = if json {
        let mut s = serde_json::to_string_pretty(&pdu_view::to_json(&dumps)).unwrap_or_default();
        s.push('\n');
        s
    } else {
        pdu_view::to_text(&dumps)
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if dump::has_errors(&dumps) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Hex digits with any whitespace, `:` or `,` between them and optional `0x` prefixes.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let cleaned = text.replace("0x", "").replace("0X", "");
    let mut digits = Vec::with_capacity(cleaned.len());
    for (i, c) in cleaned.chars().enumerate() {
        if let Some(d) = c.to_digit(16) {
            digits.push(d as u8);
        } else if !(c.is_whitespace() || c == ':' || c == ',') {
            return Err(format!("'{c}' at character {i} is not a hex digit"));
        }
    }
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    Ok(digits
        .chunks(2)
        .map(|p| p.iter().fold(0u8, |acc, d| acc << 4 | d))
        .collect())
}
