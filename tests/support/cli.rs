//! Running the `smppd` binary as a command that exits: its status, stdout and stderr.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `smppd ARGS`, run to its end with `stdin` written to it and closed (`b""`: nothing).
pub fn smppd(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smppd runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("smppd takes its stdin");
    drop(input);
    child.wait_with_output().expect("smppd exits")
}
