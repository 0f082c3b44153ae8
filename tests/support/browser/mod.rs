//! Debian's `chromium`, headless, for tests of the status page: `--dump-dom` (the DOM after
//! the page's script ran) and `--screenshot`. Each run gets its own throw-away profile and
//! is killed if it hangs; runs take turns, so two cores are not shared by several browsers.
//!
//! `--virtual-time-budget` runs the page's timers on virtual time (pausing while a fetch is
//! pending), so a budget of 12 s sees three refreshes in a fraction of that.

pub mod webdriver;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Long enough to mean "it hangs": a cold chromium start on a loaded CI machine takes seconds.
const BROWSER_GUARD: Duration = Duration::from_secs(120);

/// The browser names tried on `PATH`, after `$SMPPD_CHROMIUM`.
const NAMES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The turn of one browser: held while it runs.
pub fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A headless chromium.
pub struct Browser {
    path: PathBuf,
}

impl Browser {
    /// The browser, or `None` when there is none. In CI (`$CI` set) a missing browser fails
    /// the test instead: a browser test that skips itself there proves nothing.
    pub fn find() -> Option<Browser> {
        let configured = std::env::var_os("SMPPD_CHROMIUM").map(PathBuf::from);
        let on_path = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .flat_map(|dir| NAMES.map(|name| dir.join(name)))
                .find(|candidate| candidate.is_file())
        });
        match configured.or(on_path) {
            Some(path) => Some(Browser { path }),
            None if std::env::var_os("CI").is_some() => {
                panic!("no chromium on PATH and CI is set: install it (apt install chromium)")
            }
            None => {
                eprintln!(
                    "\n\n*** SKIPPED: the status page browser test needs chromium \
                     (apt install chromium, or set SMPPD_CHROMIUM) ***\n\n"
                );
                None
            }
        }
    }

    /// The browser's executable.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The DOM of `url` once the page's script ran for `budget_ms` of virtual time.
    pub fn dump_dom(&self, url: &str, budget_ms: u32) -> String {
        self.run(&["--dump-dom".to_string(), url.to_string()], budget_ms)
    }

    /// A PNG of `url` at `width` × `height` CSS pixels, written to `path`.
    pub fn screenshot(&self, url: &str, budget_ms: u32, path: &Path, width: u32, height: u32) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let _ = std::fs::remove_file(path);
        self.run(
            &[
                format!("--screenshot={}", path.display()),
                format!("--window-size={width},{height}"),
                "--hide-scrollbars".to_string(),
                url.to_string(),
            ],
            budget_ms,
        );
        let png = std::fs::read(path)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    }

    /// Runs the browser with `args` after the common ones; returns its standard output.
    fn run(&self, args: &[String], budget_ms: u32) -> String {
        let _turn = turn();
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(&self.path)
            .args([
                "--headless=new",
                // Tests run as root in CI containers, where chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.path.display()));
        let read = |mut stream: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stream.read_to_string(&mut text);
                text
            })
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        let deadline = Instant::now() + BROWSER_GUARD;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium {args:?} hung; stderr:\n{}",
                    stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        assert!(status.success(), "chromium {args:?}: {status}\n{err}");
        out
    }
}

/// The DOM's `<article>` (a channel card) whose heading is `name`, as HTML.
pub fn card<'a>(dom: &'a str, name: &str) -> &'a str {
    let heading = format!("<h3>{name}</h3>");
    dom.split("<article")
        .skip(1)
        .map(|a| a.split("</article>").next().unwrap_or(a))
        .find(|a| a.contains(&heading))
        .unwrap_or_else(|| panic!("no card for {name} in:\n{dom}"))
}

/// The text of the `<dd>` after `<dt>label</dt>` in `html`.
pub fn field<'a>(html: &'a str, label: &str) -> &'a str {
    let start = format!("<dt>{label}</dt><dd>");
    let at = html
        .find(&start)
        .unwrap_or_else(|| panic!("no {label} in:\n{html}"));
    let rest = &html[at + start.len()..];
    &rest[..rest.find("</dd>").unwrap_or(rest.len())]
}
