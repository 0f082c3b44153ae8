//! [`Repeats`]: one summary line for a failure that keeps coming back, not one line per
//! reconnect.
//!
//! An SMSC that accepts the bind and then drops the link fails the same way at every
//! reconnect. The first failure of such a run is logged in full and opens a window of
//! [`SUMMARY_WINDOW`]; the same failure again inside the window is only counted. The window
//! closes when it has run out (polled by the caller's timer, [`Repeats::deadline`]), when a
//! different failure arrives, or when the caller ends the run (the link proved healthy, the
//! channel stops); the count then becomes one [`Summary`]. The next occurrence after that is
//! logged in full again and opens a new window. So a failure repeating without end costs a few
//! lines a minute, however fast it repeats.
//!
//! Sans-I/O: the caller passes `now` and does the logging; the key says what "the same
//! failure" means (for the supervisor: the same code and reason).

use std::time::{Duration, Instant};

/// How long repeats of a failure are counted before they are summarised.
pub const SUMMARY_WINDOW: Duration = Duration::from_secs(60);

/// What to do with a failure that just happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it in full: it is the first of its run.
    Log,
    /// Only count it: it repeats the failure logged in full less than a window ago.
    Count,
}

/// How often a failure repeated after the occurrence that was logged in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary<K> {
    /// Which failure.
    pub key: K,
    /// Occurrences counted and not logged.
    pub repeated: u32,
    /// From the occurrence logged in full to the summary.
    pub over: Duration,
}

#[derive(Debug)]
struct Run<K> {
    key: K,
    started: Instant,
    repeated: u32,
}

/// The current run of one repeating failure, if any.
#[derive(Debug)]
pub struct Repeats<K> {
    window: Duration,
    run: Option<Run<K>>,
}

impl<K: Copy + PartialEq> Repeats<K> {
    /// Counts repeats for `window` after each failure logged in full.
    pub fn new(window: Duration) -> Self {
        Repeats { window, run: None }
    }

    /// A failure happened at `now`: whether to log it, and the summary of the run it ends
    /// (a different failure, or the same one after its window ran out).
    pub fn on_failure(&mut self, key: K, now: Instant) -> (Verdict, Option<Summary<K>>) {
        if let Some(run) = &mut self.run {
            if run.key == key && now < run.started + self.window {
                run.repeated = run.repeated.saturating_add(1);
                return (Verdict::Count, None);
            }
        }
        let closed = self.close(now);
        self.run = Some(Run {
            key,
            started: now,
            repeated: 0,
        });
        (Verdict::Log, closed)
    }

    /// When [`Repeats::poll`] will have a summary to give: the end of the window, if any
    /// repeat was counted in it.
    pub fn deadline(&self) -> Option<Instant> {
        self.run
            .as_ref()
            .filter(|run| run.repeated > 0)
            .map(|run| run.started + self.window)
    }

    /// Ends the run whose window has run out by `now`; its summary if anything was counted.
    pub fn poll(&mut self, now: Instant) -> Option<Summary<K>> {
        let expired = self
            .run
            .as_ref()
            .is_some_and(|run| now >= run.started + self.window);
        if expired {
            self.close(now)
        } else {
            None
        }
    }

    /// Ends the current run now (the link recovered, the channel stops); its summary if
    /// anything was counted.
    pub fn close(&mut self, now: Instant) -> Option<Summary<K>> {
        let run = self.run.take()?;
        (run.repeated > 0).then(|| Summary {
            key: run.key,
            repeated: run.repeated,
            over: now.saturating_duration_since(run.started),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_is_logged_and_repeats_in_the_window_are_counted() {
        let t0 = Instant::now();
        let mut r = Repeats::new(SUMMARY_WINDOW);
        assert_eq!(r.on_failure("a", t0), (Verdict::Log, None));
        assert_eq!(r.deadline(), None, "nothing counted yet");
        for i in 1..=57 {
            assert_eq!(r.on_failure("a", t0 + S * i), (Verdict::Count, None));
        }
        assert_eq!(r.deadline(), Some(t0 + SUMMARY_WINDOW));
        assert_eq!(r.poll(t0 + S * 59), None, "the window is still open");
        let summary = r.poll(t0 + SUMMARY_WINDOW).expect("a summary");
        assert_eq!(
            summary,
            Summary {
                key: "a",
                repeated: 57,
                over: SUMMARY_WINDOW
            }
        );
        // The window is closed: the next occurrence is logged in full again.
        assert_eq!(r.deadline(), None);
        assert_eq!(r.on_failure("a", t0 + S * 61), (Verdict::Log, None));
    }

    #[test]
    fn a_different_failure_ends_the_run_with_its_summary() {
        let t0 = Instant::now();
        let mut r = Repeats::new(SUMMARY_WINDOW);
        r.on_failure("a", t0);
        r.on_failure("a", t0 + S);
        r.on_failure("a", t0 + S * 2);
        let (verdict, closed) = r.on_failure("b", t0 + S * 20);
        assert_eq!(verdict, Verdict::Log);
        assert_eq!(
            closed,
            Some(Summary {
                key: "a",
                repeated: 2,
                over: S * 20
            })
        );
        // "b" opened its own run.
        assert_eq!(r.on_failure("b", t0 + S * 21), (Verdict::Count, None));
    }

    #[test]
    fn a_repeat_after_the_window_is_logged_even_without_a_poll() {
        let t0 = Instant::now();
        let mut r = Repeats::new(SUMMARY_WINDOW);
        r.on_failure("a", t0);
        r.on_failure("a", t0 + S);
        let (verdict, closed) = r.on_failure("a", t0 + S * 90);
        assert_eq!(verdict, Verdict::Log);
        assert_eq!(closed.map(|s| (s.repeated, s.over)), Some((1, S * 90)));
    }

    #[test]
    fn a_run_without_repeats_ends_silently() {
        let t0 = Instant::now();
        let mut r = Repeats::new(SUMMARY_WINDOW);
        r.on_failure("a", t0);
        assert_eq!(r.poll(t0 + SUMMARY_WINDOW), None);
        assert_eq!(r.on_failure("a", t0 + SUMMARY_WINDOW), (Verdict::Log, None));
        assert_eq!(r.close(t0 + SUMMARY_WINDOW), None);
    }

    #[test]
    fn closing_reports_what_was_counted() {
        let t0 = Instant::now();
        let mut r = Repeats::new(SUMMARY_WINDOW);
        assert_eq!(r.close(t0), None);
        r.on_failure(1u8, t0);
        r.on_failure(1u8, t0 + S);
        assert_eq!(r.close(t0 + S * 5).map(|s| s.repeated), Some(1));
        assert_eq!(r.on_failure(1u8, t0 + S * 6), (Verdict::Log, None));
    }
}
