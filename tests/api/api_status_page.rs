//! `GET /` and `GET /status`: the page is served to anyone, as HTML that loads nothing from
//! anywhere else, with headers that keep it from being cached, framed or extended; the
//! guard still applies to it; the data it shows still needs the token.

use crate::support::api::{call, raw, start, FakeEngine, RawAnswer};
use hyper::{Method, StatusCode};

/// The value of header `name` in `head` (names compared without case).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn fetch(addr: std::net::SocketAddr, path: &str, extra: &[&str]) -> (RawAnswer, String) {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n");
    for h in extra {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("connection: close\r\n\r\n");
    let answer = raw(addr, &request).await;
    let page = call(addr, Method::GET, path, None, None).await.text;
    (answer, page)
}

#[tokio::test]
async fn the_page_is_html_with_a_strict_policy_and_never_cached() {
    let server = start("", FakeEngine::new(true, false)).await;
    for path in ["/", "/status"] {
        let (answer, page) = fetch(server.addr, path, &[]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.head);
        let head = &answer.head;
        assert_eq!(
            header(head, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(head, "cache-control"), Some("no-store"));
        assert_eq!(header(head, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(head, "referrer-policy"), Some("no-referrer"));
        assert_eq!(header(head, "x-frame-options"), Some("DENY"));
        let policy = header(head, "content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "connect-src 'self'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        assert!(policy.contains("script-src 'sha256-"), "{policy}");
        assert!(policy.contains("style-src 'sha256-"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");

        assert!(page.starts_with("<!doctype html>"), "{path}");
        assert!(page.contains("name=\"viewport\""), "readable on a phone");
        assert!(page.contains("/v1/channels"));
        // No asset from anywhere else: no CDN, no font or script host, no absolute URL.
        for external in ["http://", "https://", "//cdn", "src=", "@import", "url("] {
            assert!(!page.contains(external), "{path} references {external}");
        }
    }
}

#[tokio::test]
async fn the_page_needs_no_token_but_its_data_does() {
    let server = start(
        "[http]\nbearer-token = \"page-t0ken\"\n",
        FakeEngine::new(true, false),
    )
    .await;
    let (answer, page) = fetch(server.addr, "/", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(!page.contains("page-t0ken"));
    let data = call(server.addr, Method::GET, "/v1/channels", None, None).await;
    assert_eq!(data.status, StatusCode::UNAUTHORIZED);
    let data = call(
        server.addr,
        Method::GET,
        "/v1/channels",
        None,
        Some("page-t0ken"),
    )
    .await;
    assert_eq!(data.status, StatusCode::OK);
    let head = call(server.addr, Method::HEAD, "/status", None, None).await;
    assert_eq!(head.status, StatusCode::OK);
}

#[tokio::test]
async fn the_guard_applies_to_the_page_too() {
    let server = start("", FakeEngine::new(true, false)).await;
    let addr = server.addr;
    let request = "GET /status HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n";
    let answer = raw(addr, request).await;
    assert_eq!(answer.status, 421, "DNS rebinding: {}", answer.head);
    let (answer, _) = fetch(addr, "/", &["origin: http://evil.example"]).await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(answer.body["error"].is_string());
    let post = call(addr, Method::POST, "/", Some(b"{}".to_vec()), None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
}
