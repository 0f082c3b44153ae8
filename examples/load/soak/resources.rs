//! The daemon's resident memory and open descriptors, from `/proc` (no libc: the crate
//! forbids unsafe code): at the start, the middle and the end, and the most seen in between.

use std::time::{Duration, Instant};

use crate::stats::rss_kib;

/// The daemon's resources at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds since the load began.
    pub at_s: f64,
    /// VmRSS.
    pub rss_kib: u64,
    /// Open sockets.
    pub sockets: usize,
    /// Other open descriptors (files, pipes, eventfd, ...).
    pub other_fds: usize,
}

impl Sample {
    fn take(pid: u32, t0: Instant) -> Sample {
        let mut sockets = 0;
        let mut other_fds = 0;
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for entry in dir.flatten() {
                let socket = std::fs::read_link(entry.path())
                    .map(|t| t.to_string_lossy().starts_with("socket:"))
                    .unwrap_or(false);
                if socket {
                    sockets += 1;
                } else {
                    other_fds += 1;
                }
            }
        }
        Sample {
            at_s: t0.elapsed().as_secs_f64(),
            rss_kib: rss_kib(pid),
            sockets,
            other_fds,
        }
    }

    /// Every open descriptor.
    pub fn fds(&self) -> usize {
        self.sockets + self.other_fds
    }
}

/// How often the peak is sampled.
const EVERY: Duration = Duration::from_secs(5);

/// The samples of one run.
#[derive(Debug)]
pub struct Resources {
    pid: u32,
    t0: Instant,
    start_at: Instant,
    middle_at: Instant,
    last: Option<Instant>,
    /// Taken once the load has run a while (`start_at`).
    pub start: Option<Sample>,
    /// Taken halfway through the load.
    pub middle: Option<Sample>,
    /// Taken after the drain, without the load's connections.
    pub end: Option<Sample>,
    /// The most of each figure over every sample.
    pub peak: Sample,
    /// Samples taken.
    pub count: usize,
}

impl Resources {
    /// Samples of `pid` over a load of `total` that began at `t0`.
    pub fn new(pid: u32, t0: Instant, total: Duration) -> Resources {
        Resources {
            pid,
            t0,
            start_at: t0 + (total / 6).min(Duration::from_secs(30)),
            middle_at: t0 + total / 2,
            last: None,
            start: None,
            middle: None,
            end: None,
            peak: Sample::default(),
            count: 0,
        }
    }

    fn take(&mut self) -> Sample {
        let s = Sample::take(self.pid, self.t0);
        self.peak.rss_kib = self.peak.rss_kib.max(s.rss_kib);
        self.peak.sockets = self.peak.sockets.max(s.sockets);
        self.peak.other_fds = self.peak.other_fds.max(s.other_fds);
        self.count += 1;
        self.last = Some(Instant::now());
        s
    }

    /// Takes whatever sample is due.
    pub fn tick(&mut self) {
        let now = Instant::now();
        if self.start.is_none() && now >= self.start_at {
            self.start = Some(self.take());
        }
        if self.middle.is_none() && now >= self.middle_at {
            self.middle = Some(self.take());
        }
        if self.last.is_none_or(|l| now - l >= EVERY) {
            self.take();
        }
    }

    /// The end sample.
    pub fn finish(&mut self) {
        self.end = Some(self.take());
    }
}
