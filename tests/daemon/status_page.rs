//! The status page in a real browser (Debian's `chromium`, headless) against the real
//! binary, checked on the DOM its script built:
//!
//! - without a token: a channel bound to the simulator shows `bound`, a channel pointed at a
//!   closed port shows its 43009; a screenshot at phone width goes to
//!   `$CARGO_TARGET_DIR/status-page.png` (`target/status-page.png`), CI's artifact;
//! - with `[http] bearer-token`: the page shows the login form and no data (the 401 path);
//!   driven through chromedriver (WebDriver), a wrong token brings the form back, the right
//!   one shows the channels, survives a reload in the same tab (sessionStorage) and is
//!   nowhere else (URL, cookies, localStorage, the daemon's log); "Forget token" drops it;
//! - from a stand-in API answering every field the page knows (queue, time since bind,
//!   certificates, webhook backlog), hostile strings and missing fields: all shown, as text.
//!
//! Without chromium the tests print a loud SKIPPED outside CI and fail in CI.

use crate::support::browser::webdriver::Driver;
use crate::support::browser::{card, field, turn, Browser};
use crate::support::daemon::{http_with_headers, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use crate::support::ports::closed_port;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use smppd::simulator::{Account, Simulator, SimulatorConfig, SimulatorHandle};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Virtual time for a page load: three refreshes (at 0, 5 and 10 s), so rates are shown.
const BUDGET_MS: u32 = 12_000;

/// A phone's viewport in CSS pixels.
const PHONE: (u32, u32) = (412, 900);

const TOKEN: &str = "status-page-t0ken";

/// Where cargo builds (the binary's directory's parent): `target/` or `$CARGO_TARGET_DIR`.
fn target_dir() -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_smppd"));
    binary
        .parent()
        .and_then(|debug| debug.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// `smppd run` with channel `alpha` bound to a simulator and `down` at a closed port,
/// answering on its API once `down` has failed. Returns the daemon, its API address, and
/// what keeps the simulator and the directory alive.
async fn daemon(token: Option<&str>) -> (Daemon, SocketAddr, SimulatorHandle, TempDir) {
    let sim = Simulator::start(SimulatorConfig::loopback(vec![Account::new(
        "alpha", "pw-alpha",
    )]))
    .await
    .unwrap();
    let dir = TempDir::new("status-page");
    let token_line = token
        .map(|t| format!("bearer-token = \"{t}\"\n"))
        .unwrap_or_default();
    let config = dir.write(
        "smppd.toml",
        &format!(
            "[channel-alpha]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"alpha\"\npassword = \"pw-alpha\"\n\
             x-smpp-submit-window-size = 10\nx-smpp-submit-max-rate = 0\n\n\
             [channel-down]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"down\"\npassword = \"pw-down\"\n\n\
             [http]\nlisten = \"127.0.0.1:0\"\n{token_line}",
            sim.local_addr().port(),
            closed_port().port()
        ),
    );
    let daemon = Daemon::run(&config);
    let api = daemon.api();
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let auth = token.map(|t| format!("Bearer {t}"));
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let (status, body) = http_with_headers(api, "GET", "/v1/channels", None, &headers);
            assert_eq!(status, 200, "{body}");
            if body["channels"][1]["last_error"]["code"].is_u64() {
                return;
            }
            assert!(Instant::now() < deadline, "down never failed: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    (daemon, api, sim, dir)
}

async fn browse(browser: Arc<Browser>, url: String) -> String {
    tokio::task::spawn_blocking(move || browser.dump_dom(&url, BUDGET_MS))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_and_a_failing_channel_as_a_browser_shows_them() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let browser = Arc::new(browser);
    let (daemon, api, _sim, _dir) = daemon(None).await;

    let dom = browse(browser.clone(), format!("http://{api}/status")).await;
    assert!(dom.contains("1 of 2 channels bound"), "{dom}");
    let alpha = card(&dom, "alpha");
    assert!(
        alpha.contains("<span class=\"badge\">bound</span>"),
        "{alpha}"
    );
    assert_eq!(field(alpha, "Window"), "0 / 10");
    assert!(field(alpha, "Messages/s").starts_with("out 0.0"), "{alpha}");
    let down = card(&dom, "down");
    assert!(!down.contains(">bound<"), "{down}");
    let error = field(down, "Last error");
    assert!(error.contains("43009"), "{error}");
    assert!(error.contains("connect_refused"), "{error}");
    assert!(
        dom.contains("<p id=\"problem\" class=\"panel\" role=\"alert\" hidden=\"\"></p>"),
        "no problem reported: {dom}"
    );

    let shot = target_dir().join("status-page.png");
    let url = format!("http://{api}/");
    let path = shot.clone();
    tokio::task::spawn_blocking(move || {
        browser.screenshot(&url, BUDGET_MS, &path, PHONE.0, PHONE.1)
    })
    .await
    .unwrap();
    eprintln!("status page screenshot: {}", shot.display());
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_page_asks_for_it_and_shows_nothing_else() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let (daemon, api, _sim, _dir) = daemon(Some(TOKEN)).await;
    let dom = browse(Arc::new(browser), format!("http://{api}/")).await;
    assert!(
        dom.contains("<form id=\"login\" class=\"panel\" method=\"post\">"),
        "{dom}"
    );
    assert!(
        dom.contains("This smppd asks for its bearer token."),
        "{dom}"
    );
    assert!(dom.contains("<section id=\"data\" hidden=\"\">"), "{dom}");
    assert!(!dom.contains("<article"), "{dom}");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_keeps_the_token_in_the_tab_and_asks_again_when_refused() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let Some(driver) = Driver::start(browser.path()) else {
        return;
    };
    let (daemon, api, _sim, _dir) = daemon(Some(TOKEN)).await;
    tokio::task::spawn_blocking(move || {
        let _turn = turn();
        let page = driver.session();
        page.open(&format!("http://{api}/"));
        let form_shown = "return !document.getElementById('login').hidden";
        page.wait_for("login form", form_shown);
        page.type_into("#token", "not-the-token");
        page.click("#login button[type=submit]");
        page.wait_for(
            "refusal",
            "return document.getElementById('login-why').textContent \
             .startsWith('That token was refused')",
        );
        assert_eq!(page.script(form_shown), true);
        page.type_into("#token", TOKEN);
        page.click("#login button[type=submit]");
        let channels_shown = "return document.querySelectorAll('article').length === 2 \
             && document.getElementById('login').hidden";
        page.wait_for("channels", channels_shown);
        let kept = page.script(
            "return [sessionStorage.getItem('smppd-bearer-token'), localStorage.length, \
             document.cookie, location.href, document.getElementById('token').value]",
        );
        assert_eq!(kept, json!([TOKEN, 0, "", format!("http://{api}/"), ""]));
        page.reload();
        page.wait_for("channels after a reload", channels_shown);
        page.click("#forget");
        page.wait_for(
            "login form after forgetting",
            "return !document.getElementById('login').hidden && sessionStorage.length === 0",
        );
    })
    .await
    .unwrap();
    let log = daemon.all_output();
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
    assert!(log.contains("auth_failed"), "{log}");
}

/// What the stand-in API answers: every field the page knows (those of today's API and those
/// the monitoring work adds), some hostile, some missing.
fn full_answer(submitted: u64) -> Value {
    json!({
        "channels": [
            {
                "name": "<img src=x onerror=alert(1)>",
                "state": "bound", "bound": true, "can_transmit": true, "can_receive": true,
                "last_error": null,
                "counters": {"submitted": submitted, "acknowledged": submitted, "failed": 0,
                    "resent": 0, "received": 3, "receipts": submitted},
                "window": {"in_use": 3, "size": 10},
                "queue": {"depth": 42, "oldest_age_seconds": 75},
                "seconds_since_bind": 7200,
                "certificates": [
                    {"role": "own", "subject": "CN=<b>us</b>", "not_after": "2027-11-30T00:00:00Z",
                        "seconds_left": 31_536_000},
                    {"role": "ca", "subject": "CN=Dev CA", "not_after": "2026-12-10T00:00:00Z",
                        "seconds_left": 864_000},
                    {"role": "peer", "subject": "CN=smsc", "not_after": "2026-11-01T00:00:00Z",
                        "seconds_left": -100}
                ]
            },
            {
                "name": "legacy", "state": "backing off", "bound": false,
                "last_error": {"code": 43009,
                    "reason": "connect_refused: <script>alert(2)</script>"},
                "counters": {"submitted": 0, "acknowledged": 0, "failed": 0, "resent": 0,
                    "received": 0, "receipts": 0},
                "window": {"in_use": 0, "size": 1},
                "queue": {"depth": 0, "oldest_age_seconds": null},
                "seconds_since_bind": null,
                "certificates": []
            },
            {"name": "bare"},
            17,
            null
        ],
        "any_channel_queue": {"depth": 1200, "oldest_age_seconds": 4000},
        "webhook": {"backlog": 7, "oldest_event_age_seconds": 12}
    })
}

/// Serves the page and, as `/v1/channels`, [`full_answer`] with 50 more submits each time.
async fn stand_in() -> SocketAddr {
    const PAGE: &str = include_str!("../../src/daemon/api/status.html");
    async fn channels(State(calls): State<Arc<AtomicU64>>) -> Json<Value> {
        let n = calls.fetch_add(1, Ordering::Relaxed);
        Json(full_answer(1000 + 50 * n))
    }
    let app = axum::Router::new()
        .route("/", get(|| async { axum::response::Html(PAGE) }))
        .route("/v1/channels", get(channels))
        .with_state(Arc::new(AtomicU64::new(0)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_is_shown_as_text_and_missing_ones_as_a_dash() {
    let Some(browser) = Browser::find() else {
        return;
    };
    let addr = stand_in().await;
    let dom = browse(Arc::new(browser), format!("http://{addr}/")).await;

    // Markup in names, reasons and subjects stays text: the page's script is the only one.
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert!(!dom.contains("<img") && !dom.contains("<b>"), "{dom}");
    let hostile = card(&dom, "&lt;img src=x onerror=alert(1)&gt;");
    assert_eq!(field(hostile, "Queue"), "42, oldest 75 s");
    assert_eq!(field(hostile, "Last bind"), "2 h ago");
    assert_eq!(field(hostile, "Last error"), "none");
    assert_eq!(field(hostile, "Window"), "3 / 10");
    // 50 submits per refresh, refreshed every 5 s.
    assert_eq!(field(hostile, "Messages/s"), "out 10.0 · in 0.0");
    let certs = field(hostile, "Certificates");
    assert!(
        certs.contains("own CN=&lt;b&gt;us&lt;/b&gt;: 2027-11-30"),
        "{certs}"
    );
    assert!(
        certs.contains("ca CN=Dev CA: 2026-12-10<span class=\"warn-text\"> (10 days)"),
        "{certs}"
    );
    assert!(
        certs.contains("peer CN=smsc: 2026-11-01<span class=\"bad-text\"> (expired)"),
        "{certs}"
    );

    let legacy = card(&dom, "legacy");
    assert!(legacy.starts_with(" class=\"card bad\""), "{legacy}");
    assert!(
        field(legacy, "Last error").contains("43009 connect_refused: &lt;script&gt;"),
        "{legacy}"
    );
    assert_eq!(field(legacy, "Queue"), "0");
    assert_eq!(field(legacy, "Last bind"), "never");
    assert_eq!(field(legacy, "Certificates"), "none");

    let bare = card(&dom, "bare");
    for label in [
        "Last error",
        "Window",
        "Messages/s",
        "Queue",
        "Last bind",
        "Certificates",
        "Totals",
    ] {
        assert_eq!(field(bare, label), "—", "{label}: {bare}");
    }
    // Entries that are no channel at all are shown as nameless cards, not as a broken page.
    assert_eq!(dom.matches("<article").count(), 5, "{dom}");
    let backlogs = "<dt>Queue, any channel</dt><dd>1,200, oldest 67 min</dd>\
        <dt>Webhook backlog</dt><dd>7 events</dd><dt>Oldest event</dt><dd>12 s</dd>";
    assert!(dom.contains(backlogs), "{dom}");
    assert!(dom.contains("1 of 5 channels bound"), "{dom}");
}
