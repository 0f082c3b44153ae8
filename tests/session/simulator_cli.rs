//! `smppd simulate` as a process: starts, serves a bind and a submit, prints events without
//! passwords, and stops cleanly on SIGTERM.

use std::net::SocketAddr;
use std::process::Stdio;

use crate::support::hang_guard::HANG_GUARD;
use crate::support::simulator::client::{message_id, Client};
use crate::support::simulator::pki::PemFiles;
use smppd::codec::{CommandId, CommandStatus};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};
use tokio::time::timeout;

async fn line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    timeout(HANG_GUARD, lines.next_line())
        .await
        .expect("hang guard")
        .unwrap()
        .expect("stdout closed")
}

#[tokio::test]
async fn simulate_serves_until_sigterm_and_never_prints_a_password() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--message-id-style",
            "decimal",
        ])
        .env("SMPPD_SIM_ACCOUNTS", "esme:s3cr3tpw,other:pw2")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = line(&mut lines).await;
    let addr: SocketAddr = first
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    assert!(first.contains("accounts=2"), "{first}");

    let mut c = Client::tcp(addr).await;
    assert_eq!(
        c.bind(CommandId::BindTransmitter, "esme", "s3cr3tpw").await,
        CommandStatus::EsmeRok
    );
    c.submit("from the cli test", 0, None).await;
    let id = message_id(&c.expect().await);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));

    let mut seen = vec![first];
    while !seen.last().unwrap().contains("submit") {
        seen.push(line(&mut lines).await);
    }
    assert!(seen
        .iter()
        .any(|l| l.contains("bind") && l.contains("system_id=esme")));
    assert!(seen.last().unwrap().contains(&id));

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = timeout(HANG_GUARD, child.wait())
        .await
        .expect("hang guard")
        .unwrap();
    assert!(status.success(), "{status:?}");
    while let Ok(Some(l)) = lines.next_line().await {
        seen.push(l);
    }
    assert_eq!(seen.last().map(String::as_str), Some("stopped"));
    assert!(
        seen.iter().all(|l| !l.contains("s3cr3tpw")),
        "a password was printed: {seen:?}"
    );
}

#[tokio::test]
async fn simulate_says_why_it_dropped_a_client_that_sent_unframeable_bytes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(["simulate", "--listen", "127.0.0.1:0"])
        .env("SMPPD_SIM_ACCOUNTS", "esme:pw")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = line(&mut lines).await;
    let addr: SocketAddr = first.split_whitespace().nth(1).unwrap().parse().unwrap();

    let mut c = Client::tcp(addr).await;
    let mut bad = Vec::new();
    for word in [4u32, 0x0000_0015, 0, 9] {
        bad.extend_from_slice(&word.to_be_bytes());
    }
    c.send_raw(&bad).await;
    assert_eq!(
        c.expect().await.header.command_status,
        CommandStatus::EsmeRinvcmdlen
    );
    let closed = loop {
        let l = line(&mut lines).await;
        if l.contains(" closed") {
            break l;
        }
    };
    assert!(
        closed.contains("reason=framing_error") && closed.contains("command_length 4"),
        "{closed}"
    );
    child.start_kill().unwrap();
    let _ = timeout(HANG_GUARD, child.wait()).await.expect("hang guard");
}

#[tokio::test]
async fn simulate_quiet_serves_but_prints_only_start_and_stop() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--quiet"])
        .env("SMPPD_SIM_ACCOUNTS", "esme:pw")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = line(&mut lines).await;
    assert!(first.starts_with("listening "), "{first}");
    let addr: SocketAddr = first.split_whitespace().nth(1).unwrap().parse().unwrap();

    let mut c = Client::tcp(addr).await;
    assert_eq!(
        c.bind(CommandId::BindTransmitter, "esme", "pw").await,
        CommandStatus::EsmeRok
    );
    c.submit("quiet please", 0, None).await;
    assert!(!message_id(&c.expect().await).is_empty());

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = timeout(HANG_GUARD, child.wait())
        .await
        .expect("hang guard")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = Vec::new();
    while let Ok(Some(l)) = lines.next_line().await {
        rest.push(l);
    }
    assert_eq!(rest, ["stopped"]);
}

#[tokio::test]
async fn simulate_record_file_survives_sigkill_and_holds_mo_and_offset_ids() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("sim.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--quiet"])
        .args(["--mo-every-ms", "50", "--message-id-offset", "16"])
        .arg("--record-file")
        .arg(&record)
        .env("SMPPD_SIM_ACCOUNTS", "esme:pw")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = line(&mut lines).await;
    let addr: SocketAddr = first.split_whitespace().nth(1).unwrap().parse().unwrap();

    let mut c = Client::tcp(addr).await;
    assert_eq!(
        c.bind(CommandId::BindTransceiver, "esme", "pw").await,
        CommandStatus::EsmeRok
    );
    let mo = c.expect().await;
    assert_eq!(mo.header.command_id, CommandId::DeliverSm);
    c.ack(&mo).await;
    c.submit("kept on disk", 0, None).await;
    // MO keep coming between; find the answer to the submit.
    let id = loop {
        let frame = c.expect().await;
        match frame.header.command_id {
            CommandId::SubmitSmResp => break message_id(&frame),
            _ => c.ack(&frame).await,
        }
    };
    assert_eq!(id, "10000010", "hex ids start 16 further on");

    // SIGKILL: nothing gets to flush anything; what was answered must be in the file.
    child.start_kill().unwrap();
    let _ = timeout(HANG_GUARD, child.wait()).await.expect("hang guard");
    let text = std::fs::read_to_string(&record).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["event"] == "submit"
        && e["message_id"] == "10000010"
        && e["short_message"] == "6b657074206f6e206469736b"));
    assert!(events.iter().any(|e| e["event"] == "deliver_answered"
        && e["kind"] == "mo"
        && e["command_status"] == 0));
}

#[tokio::test]
async fn simulate_help_documents_every_flag_and_the_environment_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(["simulate", "--help"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--account",
        "--tls-cert",
        "--tls-key",
        "--client-ca",
        "--tls-version",
        "--message-id-style",
        "--receipt-delay-ms",
        "--throttle-every",
        "--drop-after",
        "--close-after-handshake",
        "--delay-ms",
        "--ignore-enquire-link",
        "--withhold-submit-responses",
        "--after-bind",
        "--record-file",
        "--message-id-offset",
        "--mo-every-ms",
        "--quiet",
        "SMPPD_SIM_ACCOUNTS",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test]
async fn simulate_refuses_a_malformed_account_without_echoing_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--account",
            "nocolonpw",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SYSTEM_ID:PASSWORD"), "{err}");
    assert!(!err.contains("nocolonpw"), "{err}");
}

#[tokio::test]
async fn simulate_serves_mutual_tls_from_pem_files() {
    let pki = PemFiles::new();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--tls-version",
            "1.2",
        ])
        .args(["--tls-cert", &path(&pki.server_cert)])
        .args(["--tls-key", &path(&pki.server_key)])
        .args(["--client-ca", &path(&pki.ca)])
        .env("SMPPD_SIM_ACCOUNTS", "esme:secret")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = line(&mut lines).await;
    assert!(first.contains(" tls "), "{first}");
    let addr: SocketAddr = first.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut c = Client::tls(addr, &pki, true).await;
    assert_eq!(
        c.bind(CommandId::BindTransceiver, "esme", "secret").await,
        CommandStatus::EsmeRok
    );
    child.start_kill().unwrap();
    let _ = timeout(HANG_GUARD, child.wait()).await.expect("hang guard");
}
