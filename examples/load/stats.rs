//! Figures read from `/proc` (no libc: the crate forbids unsafe code) and the summary of one
//! client run, passed from the client process to the orchestrator as one text line.

use std::time::Duration;

/// CPU time (user + system) of process `pid` in clock ticks (`getconf CLK_TCK`, 100 here).
pub fn cpu_ticks_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may contain spaces: count fields after it.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of the full line, utime 14 and stime 15.
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

/// This process's CPU time in clock ticks.
pub fn cpu_ticks() -> u64 {
    cpu_ticks_of(std::process::id())
}

/// Clock ticks per second; `getconf CLK_TCK` is 100 on Linux.
pub const TICKS_PER_SECOND: f64 = 100.0;

/// Resident set size of process `pid` in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The peak resident set size of process `pid` so far, in KiB (VmHWM).
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The `p`-th percentile (0..=100) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One client run.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages: u64,
    pub seconds: f64,
    pub cpu_ticks: u64,
    pub p50_us: u32,
    pub p99_us: u32,
    pub errors: u64,
    /// Filled in by the orchestrator: the simulator's CPU over the same run.
    pub sim_ticks: u64,
    /// The client process's peak resident set (VmHWM) when it reported, in KiB.
    pub peak_kib: u64,
}

impl Stats {
    /// Summarises a run; `latencies` in microseconds. Called after the CPU time was read, so
    /// sorting is not charged to the client.
    pub fn new(
        messages: u64,
        elapsed: Duration,
        cpu_ticks: u64,
        mut latencies: Vec<u32>,
        errors: u64,
    ) -> Stats {
        latencies.sort_unstable();
        Stats {
            messages,
            seconds: elapsed.as_secs_f64(),
            cpu_ticks,
            p50_us: percentile(&latencies, 50.0),
            p99_us: percentile(&latencies, 99.0),
            errors,
            sim_ticks: 0,
            peak_kib: 0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }

    pub fn cpu_us_per_msg(&self) -> f64 {
        self.cpu_ticks as f64 / TICKS_PER_SECOND * 1e6 / self.messages as f64
    }

    pub fn sim_us_per_msg(&self) -> f64 {
        self.sim_ticks as f64 / TICKS_PER_SECOND * 1e6 / self.messages as f64
    }

    pub fn to_line(&self) -> String {
        format!(
            "RESULT {} {} {} {} {} {} {}",
            self.messages,
            self.seconds,
            self.cpu_ticks,
            self.p50_us,
            self.p99_us,
            self.errors,
            peak_rss_kib(std::process::id())
        )
    }

    pub fn from_line(line: &str) -> Stats {
        let f: Vec<&str> = line.split_whitespace().skip(1).collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Stats {
            messages: n(0),
            seconds: f.get(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
            cpu_ticks: n(2),
            p50_us: n(3) as u32,
            p99_us: n(4) as u32,
            errors: n(5),
            sim_ticks: 0,
            peak_kib: n(6),
        }
    }
}
