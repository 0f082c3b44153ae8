//! A minimal W3C WebDriver client over Debian's `chromedriver`: enough to open a page, type
//! into an input, click, reload, and run a script to read what the page shows or stores.
//! Blocking (call it from `spawn_blocking` in async tests).

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
    chromium: PathBuf,
    profile: tempfile::TempDir,
}

/// One browser session of a [`Driver`], closed on drop.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

/// One HTTP/1.1 request with `Connection: close`: the status and the JSON body.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT * 2)).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // chromedriver keeps the connection open whatever the request says: read the head,
    // then as much body as it announces.
    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let complete = String::from_utf8_lossy(&response)
            .split_once("\r\n\r\n")
            .map(|(head, body)| {
                let head = head.to_ascii_lowercase();
                let length = head.lines().find_map(|l| {
                    l.strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                });
                match length {
                    Some(n) => body.len() >= n,
                    None if head.contains("transfer-encoding: chunked") => {
                        body.ends_with("0\r\n\r\n")
                    }
                    None => false,
                }
            })
            .unwrap_or(false);
        if complete {
            break;
        }
        let n = stream.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&response);
    let (head, mut body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut joined = String::new();
    if chunked {
        while let Some((size, rest)) = body.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || rest.len() < size {
                break;
            }
            joined.push_str(&rest[..size]);
            body = rest[size..].trim_start_matches("\r\n");
        }
        body = &joined;
    }
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

impl Driver {
    /// Starts chromedriver for `chromium`; `None` when there is none (after a loud message),
    /// a failure instead when `$CI` is set.
    pub fn start(chromium: &Path) -> Option<Driver> {
        let configured = std::env::var_os("SMPPD_CHROMEDRIVER").map(PathBuf::from);
        let on_path = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("chromedriver"))
                .find(|candidate| candidate.is_file())
        });
        let Some(path) = configured.or(on_path) else {
            if std::env::var_os("CI").is_some() {
                panic!("no chromedriver on PATH and CI is set: apt install chromium-driver");
            }
            eprintln!(
                "\n\n*** SKIPPED: the status page login test needs chromedriver \
                 (apt install chromium-driver, or set SMPPD_CHROMEDRIVER) ***\n\n"
            );
            return None;
        };
        let port = crate::support::ports::closed_port().port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", path.display()));
        let driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            chromium: chromium.to_path_buf(),
            profile: tempfile::tempdir().unwrap(),
        };
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(driver.addr).is_err()
            || request(driver.addr, "GET", "/status", None).1["value"]["ready"] != true
        {
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(driver)
    }

    /// `method path` with `body`; the answer's `value`, which must not be an error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = request(self.addr, method, path, body.as_ref());
        assert_eq!(status, 200, "WebDriver {method} {path}: {answer}");
        answer["value"].clone()
    }

    /// A new headless browser session with its own profile.
    pub fn session(&self) -> Session<'_> {
        let options = json!({
            "binary": self.chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                format!("--user-data-dir={}", self.profile.path().display())]
        });
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options
        }}});
        let value = self.call("POST", "/session", Some(capabilities));
        let id = value["sessionId"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "no session id: {value}");
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Session<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver.call(method, &path, body)
    }

    /// Loads `url`.
    pub fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Reloads the page.
    pub fn reload(&self) {
        self.call("POST", "/refresh", Some(json!({})));
    }

    /// Runs `script` (a function body) in the page; what it returns.
    pub fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Waits until `script` returns `true`.
    pub fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        while self.script(script) != true {
            if Instant::now() > deadline {
                let page = self.script("return document.body.innerText");
                panic!("no {what} within {WAIT:?}; the page shows:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Types `text` into the element `css` selects.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the element `css` selects.
    pub fn click(&self, css: &str) {
        let element = self.element(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.id);
        let _ = request(self.driver.addr, "DELETE", &path, None);
    }
}
