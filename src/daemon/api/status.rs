//! `GET /` and `GET /status`: the status page, one self-contained HTML file
//! (`status.html`, compiled into the binary).
//!
//! The page holds no data, so it is served without a token. Its script reads
//! `GET /v1/channels` every few seconds with the bearer token an operator typed into its
//! form (kept in the tab's `sessionStorage`, never in a URL or a cookie). Those reads are
//! same-origin GETs, which browsers send without an `Origin` header, so the [`super::guard`]
//! checks stay as they are for every other page.
//!
//! The answer forbids everything the page does not need: its one inline script and its one
//! inline style are allowed by their SHA-256 hashes, connections go to this origin only, and
//! it may be neither framed nor submit a form anywhere.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::sync::LazyLock;

/// The page.
const PAGE: &str = include_str!("status.html");

/// The Content-Security-Policy of [`PAGE`], computed once. Should it ever fail to be a
/// header value, the page is served with a policy that blocks its script too: broken
/// rather than open.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&policy(PAGE)).unwrap_or(HeaderValue::from_static("default-src 'none'"))
});

/// `'sha256-…'` sources for the content of every `<tag>…</tag>` element of `page` (written
/// without attributes), as a browser hashes it.
fn inline_hashes(page: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut hashes = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        let digest = ring::digest::digest(&ring::digest::SHA256, &body.as_bytes()[..end]);
        let encoded = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        hashes.push(format!("'sha256-{encoded}'"));
        rest = &body[end + close.len()..];
    }
    hashes
}

/// The policy for `page`: nothing but its own inline script and style, data: for the empty
/// icon (which spares a request for /favicon.ico), and reads of this origin.
fn policy(page: &str) -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        inline_hashes(page, "script").join(" "),
        inline_hashes(page, "style").join(" "),
    )
}

/// The status page, never cached: a cached copy would outlive an upgrade of the daemon.
pub(super) async fn get_status() -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::CONTENT_SECURITY_POLICY, POLICY.clone()),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ];
    (headers, PAGE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_page_s_inline_script_and_style() {
        // Another <script> or <style> would be blocked by the policy: one of each, no
        // attributes, no inline event handlers or style attributes.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!PAGE.contains(" style="), "a style attribute is blocked");
        assert!(!PAGE.contains(" onclick="), "an inline handler is blocked");
        let policy = policy(PAGE);
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(POLICY.to_str().ok(), Some(policy.as_str()));
    }

    #[test]
    fn hashes_are_those_a_browser_computes() {
        // The CSP specification's own example: sha256 of `alert('Hello, world.');`.
        let page = "<p><script>alert('Hello, world.');</script><script></script>";
        assert_eq!(
            inline_hashes(page, "script"),
            [
                "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='",
                "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
            ]
        );
        assert!(inline_hashes("<script>unclosed", "script").is_empty());
    }

    #[test]
    fn the_page_puts_data_into_text_only() {
        // Channel names, error reasons and certificate subjects come from outside: the
        // script must never parse them as markup.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!PAGE.contains(sink), "the page uses {sink}");
        }
        for store in ["localStorage", "document.cookie"] {
            assert!(!PAGE.contains(store), "the token must not go to {store}");
        }
    }
}
