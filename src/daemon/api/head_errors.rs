//! Answers to request heads the router never sees: one hyper refuses to parse, and one that
//! never finishes (408). Pure functions over bytes, so every case is tested without a socket;
//! the connection code in `serve.rs` does the I/O.
//!
//! What hyper 1.x does with a request head it cannot parse (`proto/h1/conn.rs`,
//! `on_parse_error`, and `role.rs`, `Server::on_error`): when nothing of an answer has been
//! written for the request, it writes a head of its own and ends the connection with the parse
//! error (`hyper::Error::is_parse`):
//!
//! - `400 Bad Request` for a malformed request line (method, target, version — `HTTP/2.0`
//!   included: hyper never answers 505), a malformed header name, value or line end, an
//!   invalid `Content-Length`, or a `Transfer-Encoding` that does not end in `chunked` (or any
//!   in an HTTP/1.0 request);
//! - `431 Request Header Fields Too Large` when the head exceeds the configured size
//!   ([`MAX_HEAD_BYTES`]) or has more than [`MAX_HEADERS`] header fields;
//! - `414 URI Too Long` for a target over 65534 bytes, which cannot happen while
//!   [`MAX_HEAD_BYTES`] is smaller than that.
//!
//! That head is `connection: close`, `content-length: 0` and a `date`, with no body and no
//! `Content-Type`. It is the last thing hyper writes on the connection. An HTTP/2 preface,
//! or a connection closed in the middle of a head, gets nothing at all.
//!
//! hyper offers no hook to change that answer (a builder option for it is only proposed,
//! hyperium/hyper#3911), so the connection code in `serve.rs` recognises it on its way to the
//! socket ([`hyper_refusal`]) and writes [`answer`] in its place. Nothing the router sends can
//! be mistaken for it: every error the router answers goes through `json_errors` and so
//! carries `Content-Type: application/json` and a body, and only the first bytes written after
//! everything before them went out (the router's answers included) are looked at.

use super::error::ApiError;
use axum::http::StatusCode;

/// The largest request head (request line and header fields, with their line ends) the API
/// reads: hyper is configured with it, and the 431 names it. The API's own headers are small
/// (a bearer token, an `Idempotency-Key` of at most 255 characters); a larger limit would only
/// let each connection make the server hold more memory.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most header fields in a request: hyper's default, which is kept because setting it
/// makes hyper allocate the headers of every request on the heap.
pub const MAX_HEADERS: usize = 100;

/// The status of hyper's own answer to a request head it could not parse, when `written` (the
/// first bytes written after the connection's previous answers all went out) is exactly that
/// answer; `None` for anything else. See the module documentation for what hyper writes.
pub(super) fn hyper_refusal(written: &[u8]) -> Option<StatusCode> {
    // Most writes are 2xx answers of the router: decided from the status code's first digit.
    if written.len() < 12 || !written.starts_with(b"HTTP/1.") || written[9] != b'4' {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut response = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(len)) = response.parse(written) else {
        return None;
    };
    // hyper's answer is a head alone; anything after it is not that answer.
    if len != written.len() {
        return None;
    }
    let status = StatusCode::from_u16(response.code?).ok()?;
    let refusable = [
        StatusCode::BAD_REQUEST,
        StatusCode::URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    ];
    if !refusable.contains(&status) {
        return None;
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let bodiless = header("content-length") == Some(b"0".as_slice());
    (bodiless && header("content-type").is_none()).then_some(status)
}

/// What was wrong with a request head that hyper refused with `status`, in words a client
/// can act on.
///
/// `hyper_error` is the error hyper ended the connection with; its text is the only detail
/// hyper makes public beyond "a parse error" and "too large". `head` is what the connection
/// captured of the request head (possibly nothing, or another request's head when the client
/// pipelines): when parsing it again fails the way hyper's error says, it names the place
/// (which line, which part); otherwise the description comes from hyper's error alone.
pub(super) fn describe(status: StatusCode, hyper_error: &str, head: &[u8]) -> String {
    let reparsed = Reparsed::of(head);
    match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            if matches!(reparsed, Reparsed::TooManyHeaders) {
                format!("the request has more than {MAX_HEADERS} header fields")
            } else {
                format!(
                    "the request's head (request line and headers) exceeds {} KiB",
                    MAX_HEAD_BYTES / 1024
                )
            }
        }
        StatusCode::URI_TOO_LONG => "the request target (URI) is too long".to_string(),
        _ => match reparsed.described_if_hyper_said(hyper_error) {
            Some(precise) => precise,
            None => coarse(hyper_error).to_string(),
        },
    }
}

/// The description of each of hyper's parse errors (their `Display`, hyper 1.x), for when the
/// captured head does not show the fault.
fn coarse(hyper_error: &str) -> &'static str {
    match hyper_error {
        "invalid HTTP method parsed" => "the request line is malformed: the method is not valid",
        "invalid URI" => "the request line is malformed: the request target is not a valid URI",
        "invalid HTTP version parsed" => {
            "the request line is malformed: the version must be HTTP/1.1 or HTTP/1.0"
        }
        "invalid HTTP header parsed" => {
            "the request line or a header field is malformed (a character not allowed there, \
             or a line not ended by CRLF)"
        }
        "invalid content-length parsed" => {
            "the Content-Length header is not a number, or is given twice with different values"
        }
        "invalid transfer-encoding parsed" => "the Transfer-Encoding header must end with chunked",
        "unexpected transfer-encoding parsed" => {
            "an HTTP/1.0 request cannot have a Transfer-Encoding header"
        }
        _ => "the request's head is malformed",
    }
}

/// The captured head parsed again as hyper parses it (`httparse`, default configuration, at
/// most [`MAX_HEADERS`] fields).
enum Reparsed {
    /// It parses, or is incomplete: the fault is not in what was captured.
    Fine,
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// The request line is at fault.
    RequestLine(httparse::Error, RequestLinePart),
    /// Header line `line` (1 = the first after the request line) is at fault.
    Header { line: usize, error: httparse::Error },
}

/// Where in the request line parsing stopped.
#[derive(Clone, Copy)]
enum RequestLinePart {
    Method,
    Target,
    Version,
    End,
}

impl Reparsed {
    fn of(head: &[u8]) -> Reparsed {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let error = match request.parse(head) {
            Ok(_) => return Reparsed::Fine,
            Err(httparse::Error::TooManyHeaders) => return Reparsed::TooManyHeaders,
            Err(error) => error,
        };
        let part = match (request.method, request.path, request.version) {
            (None, _, _) => RequestLinePart::Method,
            (Some(_), None, _) => RequestLinePart::Target,
            (Some(_), Some(_), None) => RequestLinePart::Version,
            (Some(_), Some(_), Some(_)) => RequestLinePart::End,
        };
        // With the whole request line read, the error is in its end or in a header line:
        // parse the lines one by one to tell which.
        if !matches!(part, RequestLinePart::End) {
            return Reparsed::RequestLine(error, part);
        }
        let start = head
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(head.len());
        let mut lines = head[start..].split_inclusive(|&b| b == b'\n');
        let Some(request_line) = lines.next() else {
            return Reparsed::Fine;
        };
        let line_alone = parses_alone(request_line, |line| {
            httparse::Request::new(&mut []).parse(line).map(|_| ())
        });
        if line_alone.is_err() {
            return Reparsed::RequestLine(error, part);
        }
        for (index, line) in lines.enumerate() {
            if line == b"\r\n" || line == b"\n" {
                break;
            }
            let alone = parses_alone(line, |line| {
                httparse::parse_headers(line, &mut [httparse::EMPTY_HEADER; 1]).map(|_| ())
            });
            if let Err(error) = alone {
                return Reparsed::Header {
                    line: index + 1,
                    error,
                };
            }
        }
        Reparsed::Fine
    }

    /// The precise description, when parsing again fails as hyper says it failed (so the
    /// captured head is the one hyper refused).
    fn described_if_hyper_said(&self, hyper_error: &str) -> Option<String> {
        // How hyper turns each httparse error into its own (`impl From<httparse::Error>`
        // and `Server::parse`).
        let hyper_would_say = |error: httparse::Error, part: RequestLinePart| match error {
            httparse::Error::Version => "invalid HTTP version parsed",
            httparse::Error::Token => match part {
                RequestLinePart::Method => "invalid HTTP method parsed",
                _ => "invalid URI",
            },
            _ => "invalid HTTP header parsed",
        };
        match *self {
            Reparsed::RequestLine(error, part) => (hyper_would_say(error, part) == hyper_error)
                .then(|| {
                    let what = match (error, part) {
                        (httparse::Error::Version, _) => "the version must be HTTP/1.1 or HTTP/1.0",
                        (_, RequestLinePart::Method) => "the method is not a valid token",
                        (_, RequestLinePart::Target) => {
                            "the request target has a character not allowed in it"
                        }
                        _ => {
                            "it must be the method, the target and HTTP/1.1, separated by \
                             single spaces and ended by CRLF"
                        }
                    };
                    format!("the request line is malformed: {what}")
                }),
            Reparsed::Header { line, error } => {
                (hyper_would_say(error, RequestLinePart::End) == hyper_error).then(|| {
                    let what = match error {
                        httparse::Error::HeaderName => {
                            "its name has a character not allowed in a header name"
                        }
                        httparse::Error::HeaderValue => "its value has a control character",
                        _ => "it must be a name, a colon and a value, ended by CRLF",
                    };
                    format!("header line {line} is malformed: {what}")
                })
            }
            Reparsed::Fine | Reparsed::TooManyHeaders => None,
        }
    }
}

/// Parses one line of a head on its own, ended as the end of a head so that a complete line
/// is never "partial".
fn parses_alone(
    line: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<(), httparse::Error>,
) -> Result<(), httparse::Error> {
    let mut alone = line.to_vec();
    if !alone.ends_with(b"\n") {
        alone.extend_from_slice(b"\r\n");
    }
    alone.extend_from_slice(b"\r\n");
    parse(&alone)
}

/// A complete answer that closes the connection: `status` with the documented JSON error
/// body saying `message`.
pub(super) fn answer(status: StatusCode, message: String) -> Vec<u8> {
    let body = serde_json::to_vec(&ApiError::new(status, message)).unwrap_or_default();
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Finds where a request head ends as its bytes arrive in pieces: at the first empty line
/// (`\r\n\r\n`, or a bare `\n` where httparse accepts one), empty lines before the request
/// line skipped as hyper skips them.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct HeadEnd {
    /// Whether the last byte ended a line (a `\r` after it changes nothing).
    at_line_start: bool,
    /// Whether anything but line ends has arrived.
    begun: bool,
}

impl HeadEnd {
    /// How many of `bytes` belong to the head when it ends within them; `None` when all of
    /// them do and it goes on.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'\n' if self.at_line_start && self.begun => return Some(i + 1),
                b'\n' => self.at_line_start = true,
                b'\r' => {}
                _ => {
                    self.begun = true;
                    self.at_line_start = false;
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\
        content-length: 0\r\ndate: Mon, 30 Nov 2026 01:00:00 GMT\r\n\r\n";

    #[test]
    fn hyper_refusals_are_recognised_and_router_answers_never() {
        assert_eq!(hyper_refusal(HYPER_400), Some(StatusCode::BAD_REQUEST));
        let too_large = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
            content-length: 0\r\n\r\n";
        assert_eq!(
            hyper_refusal(too_large),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let http10 = b"HTTP/1.0 414 URI Too Long\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_refusal(http10), Some(StatusCode::URI_TOO_LONG));

        // What the router writes: a JSON error with its body, in one write or two.
        let router = answer(StatusCode::BAD_REQUEST, "bad".into());
        assert_eq!(hyper_refusal(&router), None);
        let head_end = router.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(hyper_refusal(&router[..head_end]), None);
        // Followed by anything, a bare head is not the refusal either.
        assert_eq!(hyper_refusal(&[HYPER_400, b"x"].concat()), None);
        // Incomplete, another status, or not a response at all.
        assert_eq!(hyper_refusal(&HYPER_400[..40]), None);
        let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(hyper_refusal(not_found), None);
        assert_eq!(hyper_refusal(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(hyper_refusal(b"{\"error\":\"HTTP/1.1 400\"}"), None);
        assert_eq!(hyper_refusal(b""), None);
    }

    fn said(status: StatusCode, hyper_error: &str, head: &[u8]) -> String {
        describe(status, hyper_error, head)
    }

    #[test]
    fn each_fault_is_named_where_it_is() {
        let bad = StatusCode::BAD_REQUEST;
        assert_eq!(
            said(
                bad,
                "invalid HTTP header parsed",
                b"GET / HTTP/1.1 garbage\r\n\r\n"
            ),
            "the request line is malformed: it must be the method, the target and HTTP/1.1, \
             separated by single spaces and ended by CRLF"
        );
        assert_eq!(
            said(bad, "invalid HTTP method parsed", b"\x00\x01\x02\r\n\r\n"),
            "the request line is malformed: the method is not a valid token"
        );
        assert_eq!(
            said(
                bad,
                "invalid HTTP version parsed",
                b"GET / HTTP/2.0\r\n\r\n"
            ),
            "the request line is malformed: the version must be HTTP/1.1 or HTTP/1.0"
        );
        assert_eq!(
            said(bad, "invalid URI", b"GET /a\x7fb HTTP/1.1\r\n\r\n"),
            "the request line is malformed: the request target has a character not allowed in it"
        );
        assert_eq!(
            said(
                bad,
                "invalid HTTP header parsed",
                b"GET / HTTP/1.1\r\nhost: x\r\nbad name: 1\r\n\r\n"
            ),
            "header line 2 is malformed: its name has a character not allowed in a header name"
        );
        assert_eq!(
            said(
                bad,
                "invalid HTTP header parsed",
                b"\r\nGET / HTTP/1.1\r\nx-a: 1\x01\r\n\r\n"
            ),
            "header line 1 is malformed: its value has a control character"
        );
        let too_many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: 1\r\n".repeat(101));
        assert_eq!(
            said(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "message head is too large",
                too_many.as_bytes()
            ),
            "the request has more than 100 header fields"
        );
        assert_eq!(
            said(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "message head is too large",
                b"GET /aaaa"
            ),
            "the request's head (request line and headers) exceeds 16 KiB"
        );
    }

    #[test]
    fn a_head_that_does_not_show_the_fault_falls_back_on_hyper_s_error() {
        let bad = StatusCode::BAD_REQUEST;
        // Nothing captured, or a head that parses (hyper refused what came after it).
        assert_eq!(
            said(bad, "invalid content-length parsed", b""),
            "the Content-Length header is not a number, or is given twice with different values"
        );
        assert_eq!(
            said(bad, "invalid HTTP method parsed", b"GET / HTTP/1.1\r\n\r\n"),
            "the request line is malformed: the method is not valid"
        );
        // A captured head that fails otherwise than hyper says is another request's.
        assert_eq!(
            said(bad, "invalid HTTP version parsed", b"\x00\r\n\r\n"),
            "the request line is malformed: the version must be HTTP/1.1 or HTTP/1.0"
        );
        assert_eq!(
            said(bad, "something new", b""),
            "the request's head is malformed"
        );
    }

    #[test]
    fn answers_are_complete_json_and_close() {
        let bytes = answer(StatusCode::REQUEST_TIMEOUT, "late".into());
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n\
             content-length: 16\r\nconnection: close\r\n\r\n{\"error\":\"late\"}"
        );
    }

    #[test]
    fn the_end_of_a_head_is_found_across_pieces() {
        let mut end = HeadEnd::default();
        assert_eq!(end.feed(b"\r\nGET / HTTP/1.1\r\nhost: x\r"), None);
        assert_eq!(end.feed(b"\n\r"), None);
        assert_eq!(end.feed(b"\nbody"), Some(1));
        let mut bare = HeadEnd::default();
        assert_eq!(bare.feed(b"GET / HTTP/1.1\nhost: x\n\nbody"), Some(24));
        let mut none = HeadEnd::default();
        assert_eq!(none.feed(b"\r\n\r\n"), None);
    }
}
