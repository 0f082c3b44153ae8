//! The SMSC side of `load soak`: `smppd simulate` processes on one fixed port, killed and
//! restarted with a random fault configuration, each writing its own record file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::rng::Rng;
use crate::{smppd_binary, PASSWORD, SYSTEM_ID};

/// A fault period: what the simulator does wrong until the next restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL, nothing listening for a while, then a healthy simulator.
    Killed {
        /// How long nothing listens.
        down: Duration,
    },
    /// `--drop-after N`: every connection cut at its Nth submit_sm.
    DropAfter(u32),
    /// `--throttle-every N`.
    Throttle(u32),
    /// `--delay-ms N`: every response held.
    Delay(u64),
    /// `--ignore-enquire-link` while the load pauses, so the link goes idle and the
    /// keep-alive must find out.
    IgnoreEnquireLinkIdle,
    /// `--ignore-enquire-link --withhold-submit-responses`: an SMSC that hangs with the
    /// connection open.
    Hung,
    /// `--after-bind unbind|garbage|malformed-pdu`: a flapping SMSC.
    AfterBind(&'static str),
    /// `--close-after-handshake`: every connection closed at once.
    CloseAfterHandshake,
    /// `--throttle-every N --delay-ms M`: a congested SMSC.
    Congested(u32, u64),
}

impl Fault {
    /// A fault chosen at random.
    pub fn random(rng: &mut Rng) -> Fault {
        match rng.below(9) {
            0 => Fault::Killed {
                down: Duration::from_millis(rng.range(0, 8000)),
            },
            1 => Fault::DropAfter(rng.range(1, 300) as u32),
            2 => Fault::Throttle(rng.range(2, 20) as u32),
            3 => Fault::Delay(rng.range(100, 1500)),
            4 => Fault::IgnoreEnquireLinkIdle,
            5 => Fault::Hung,
            6 => Fault::AfterBind(["unbind", "garbage", "malformed-pdu"][rng.below(3) as usize]),
            7 => Fault::CloseAfterHandshake,
            _ => Fault::Congested(rng.range(3, 10) as u32, rng.range(50, 500)),
        }
    }

    /// The row of the report this fault counts in.
    pub fn kind(&self) -> String {
        match self {
            Fault::Killed { .. } => {
                "simulator killed (SIGKILL), down 0-8 s, restarted healthy".into()
            }
            Fault::DropAfter(_) => "links cut at the Nth submit_sm (`--drop-after`)".into(),
            Fault::Throttle(_) => "throttling (`--throttle-every`)".into(),
            Fault::Delay(_) => "slow responses (`--delay-ms`)".into(),
            Fault::IgnoreEnquireLinkIdle => {
                "enquire_link unanswered on an idle link (`--ignore-enquire-link`)".into()
            }
            Fault::Hung => "hung SMSC (`--ignore-enquire-link --withhold-submit-responses`)".into(),
            Fault::AfterBind(what) => format!("`--after-bind {what}`"),
            Fault::CloseAfterHandshake => {
                "every connection closed at once (`--close-after-handshake`)".into()
            }
            Fault::Congested(..) => "congested (`--throttle-every` + `--delay-ms`)".into(),
        }
    }

    /// The simulator flags of the fault period (none for a kill: the restart is healthy).
    pub fn flags(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match self {
            Fault::Killed { .. } => Vec::new(),
            Fault::DropAfter(n) => s(&["--drop-after", &n.to_string()]),
            Fault::Throttle(n) => s(&["--throttle-every", &n.to_string()]),
            Fault::Delay(ms) => s(&["--delay-ms", &ms.to_string()]),
            Fault::IgnoreEnquireLinkIdle => s(&["--ignore-enquire-link"]),
            Fault::Hung => s(&["--ignore-enquire-link", "--withhold-submit-responses"]),
            Fault::AfterBind(what) => s(&["--after-bind", what]),
            Fault::CloseAfterHandshake => s(&["--close-after-handshake"]),
            Fault::Congested(n, ms) => s(&[
                "--throttle-every",
                &n.to_string(),
                "--delay-ms",
                &ms.to_string(),
            ]),
        }
    }
}

/// The simulator processes, one at a time, on one port.
pub struct Smsc {
    dir: PathBuf,
    /// The port every process listens on.
    pub port: u16,
    mo_every_ms: u64,
    current: Option<Child>,
    /// Processes started so far (the next one's number).
    pub started: u32,
    /// Record files, with the process number each belongs to.
    pub records: Vec<(PathBuf, u32)>,
}

/// Ids of consecutive simulator processes are this far apart (see `--message-id-offset`).
pub const ID_SPACING: u64 = 100_000_000;

impl Smsc {
    /// Nothing started yet.
    pub fn new(dir: &Path, port: u16, mo_every_ms: u64) -> Smsc {
        Smsc {
            dir: dir.to_path_buf(),
            port,
            mo_every_ms,
            current: None,
            started: 0,
            records: Vec::new(),
        }
    }

    /// Starts a process with `flags` (after stopping the current one, if any, with SIGKILL
    /// when `hard`); `mo` says whether it sends MO messages. Returns once it listens.
    pub fn start(&mut self, flags: &[String], mo: bool, rng: &mut Rng, hard: bool) {
        self.stop(hard);
        let number = self.started;
        self.started += 1;
        let record = self.dir.join(format!("sim-{number:03}.jsonl"));
        let log = std::fs::File::create(self.dir.join(format!("sim-{number:03}.stderr")))
            .expect("simulator log file");
        let mut cmd = Command::new(smppd_binary());
        cmd.args(["simulate", "--quiet", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--record-file")
            .arg(&record)
            .args([
                "--message-id-offset",
                &(u64::from(number) * ID_SPACING).to_string(),
            ])
            .args(["--receipt-delay-ms", &rng.range(0, 200).to_string()])
            .args(flags)
            .env("SMPPD_SIM_ACCOUNTS", format!("{SYSTEM_ID}:{PASSWORD}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if mo {
            cmd.args(["--mo-every-ms", &self.mo_every_ms.to_string()]);
        }
        // The port may still be held for a moment by the process just killed.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = cmd.spawn().expect("spawn smppd simulate");
            let mut first = String::new();
            let _ = BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut first);
            if first.starts_with("listening") {
                self.current = Some(child);
                self.records.push((record, number));
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "the simulator could not listen on port {} again",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the current process: SIGKILL when `hard`, else SIGTERM (its connections are
    /// closed in order) with SIGKILL after 5 s.
    pub fn stop(&mut self, hard: bool) {
        let Some(mut child) = self.current.take() else {
            return;
        };
        if !hard {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        self.stop(true);
    }
}
