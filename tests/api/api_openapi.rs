//! `/openapi.json` against the real answers: every response body the API sends is checked
//! against the schema the description gives for it — types, required fields, and no field
//! the description does not name — so the two cannot drift apart.

use crate::support::api::{call, get, post, post_request, raw, start, submitted, FakeEngine};
use base64::Engine as _;
use hyper::{Method, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Value};
use smppd::daemon::api::{openapi_document, request};

/// Checks `value` against `schema` (the subset of OpenAPI 3.0 the description uses),
/// resolving `$ref` in `doc`. Returns the first disagreement, with its JSON path.
///
/// An object schema with a `type` names every field it allows; one without (a branch of a
/// `oneOf`) constrains only the fields it names.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: unresolved {reference}"));
        }
        return check(doc, target, value, at);
    }
    if let Some(not) = schema.get("not") {
        if check(doc, not, value, at).is_ok() {
            return Err(format!("{at}: {value} matches a schema it must not"));
        }
    }
    if value.is_null() {
        return if schema["nullable"] == true || schema.get("type").is_none() {
            Ok(())
        } else {
            Err(format!("{at}: null, but the schema is not nullable"))
        };
    }
    let kind = schema["type"].as_str().unwrap_or("");
    let fits = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "" => true,
        other => return Err(format!("{at}: schema type {other} not understood")),
    };
    if !fits {
        return Err(format!("{at}: {value} is not of type {kind}"));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min) {
            return Err(format!("{at}: {value} is shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
            return Err(format!("{at}: {value} is longer than maxLength"));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            let regex = regex::Regex::new(pattern)
                .map_err(|e| format!("{at}: pattern {pattern:?} does not compile: {e}"))?;
            if !regex.is_match(text) {
                return Err(format!("{at}: {value} does not match {pattern}"));
            }
        }
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            return Err(format!("{at}: {value} is below the minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            return Err(format!("{at}: {value} is above the maximum"));
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap_or("");
            if !object.contains_key(key) {
                return Err(format!("{at}: required field {key} missing"));
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (key, v) in object {
                match properties.get(key) {
                    Some(property) => check(doc, property, v, &format!("{at}.{key}"))?,
                    None if !kind.is_empty() => {
                        return Err(format!("{at}: field {key} is not described"))
                    }
                    None => {}
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let matching = branches
            .iter()
            .filter(|b| check(doc, b, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!(
                "{at}: matches {matching} branches of oneOf, not exactly one"
            ));
        }
    }
    Ok(())
}

/// The schema the description gives for `method path` answering `status`.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} answered {status}, which the description does not list"
    );
    schema
}

fn assert_fits(doc: &Value, method: &str, path: &str, status: StatusCode, body: &Value) {
    let schema = response_schema(doc, method, path, status.as_u16());
    if let Err(e) = check(doc, schema, body, "$") {
        panic!("{method} {path} {status}: {e}\nbody: {body}");
    }
}

#[test]
fn the_checker_catches_drift() {
    let doc = json!({"components": {"schemas": {"A": {"type": "object", "required": ["x"],
        "properties": {"x": {"type": "integer"}, "y": {"type": "string", "nullable": true}}}}}});
    let a = json!({"$ref": "#/components/schemas/A"});
    assert!(check(&doc, &a, &json!({"x": 1, "y": null}), "$").is_ok());
    assert!(
        check(&doc, &a, &json!({"y": "s"}), "$").is_err(),
        "missing required"
    );
    assert!(
        check(&doc, &a, &json!({"x": 1, "z": 2}), "$").is_err(),
        "undescribed field"
    );
    assert!(
        check(&doc, &a, &json!({"x": "1"}), "$").is_err(),
        "wrong type"
    );
    let one = json!({"type": "object", "properties": {"p": {"type": "string", "pattern": "^a+$",
        "minLength": 2}, "q": {"type": "integer", "minimum": 1}},
        "oneOf": [{"required": ["p"], "properties": {"q": {"not": {}}}},
            {"required": ["q"], "properties": {"p": {"not": {}}}}]});
    assert!(check(&doc, &one, &json!({"p": "aa"}), "$").is_ok());
    assert!(check(&doc, &one, &json!({"q": 3}), "$").is_ok());
    for wrong in [
        json!({"p": "a"}),
        json!({"p": "ab"}),
        json!({"q": 0}),
        json!({}),
        json!({"p": "aa", "q": 1}),
    ] {
        assert!(check(&doc, &one, &wrong, "$").is_err(), "{wrong}");
    }
}

#[tokio::test]
async fn every_answer_matches_the_description() {
    let server = start("", FakeEngine::new(true, false)).await;
    let addr = server.addr;
    let doc = get(addr, "/openapi.json").await.body;

    let answer = post(
        addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x".repeat(200)}),
    )
    .await;
    assert_fits(&doc, "post", "/v1/messages", answer.status, &answer.body);
    let id = answer.body["id"].as_str().unwrap().to_string();
    let answer = post(addr, "/v1/messages", &json!({"to": "x", "text": "y"})).await;
    assert_fits(&doc, "post", "/v1/messages", answer.status, &answer.body);

    let batch = json!({"messages": [
        {"to": "1", "text": "a"},
        {"to": "x", "text": "b"},
        {"to": "2", "text": "c", "idempotency_key": "k"},
        {"to": "2", "text": "c", "idempotency_key": "k"}
    ]});
    let answer = post(addr, "/v1/messages/batch", &batch).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS);
    assert_fits(
        &doc,
        "post",
        "/v1/messages/batch",
        answer.status,
        &answer.body,
    );

    let path = format!("/v1/messages/{id}");
    let answer = get(addr, &path).await;
    assert_fits(
        &doc,
        "get",
        "/v1/messages/{id}",
        answer.status,
        &answer.body,
    );
    // Submitted, then failed: every field of a message filled in.
    let claimed = server.claim("a").await;
    let first = claimed.iter().find(|m| m.id.as_str() == id).unwrap();
    server.apply("a", vec![submitted(first, 0, "7")]).await;
    let failed = smppd::daemon::store::Change::Failed {
        key: smppd::daemon::store::segment_key(first.seq, 1),
        status: Some(0x45),
        reason: "rejected".into(),
    };
    server.apply("a", vec![failed]).await;
    let answer = get(addr, &path).await;
    assert_eq!(answer.body["state"], "failed");
    assert_fits(
        &doc,
        "get",
        "/v1/messages/{id}",
        answer.status,
        &answer.body,
    );
    let answer = get(addr, "/v1/messages/0123456789abcdef0123456789abcdef").await;
    assert_fits(
        &doc,
        "get",
        "/v1/messages/{id}",
        answer.status,
        &answer.body,
    );

    let answer = get(addr, "/v1/channels").await;
    assert_fits(&doc, "get", "/v1/channels", answer.status, &answer.body);
    let answer = get(addr, "/health").await;
    assert_fits(&doc, "get", "/health", answer.status, &answer.body);
}

/// The SMPP server's routes, with a real listener and two users (one without a credit
/// limit) and one connection that has not bound yet, and without the server at all.
#[tokio::test]
async fn every_smpp_answer_matches_the_description() {
    let hash = smppd::password::PasswordHash::hash(&smppd::secret::Secret::new("pw")).unwrap();
    let extra = format!(
        "[smpp-server]\nlisten = \"127.0.0.1:0\"\n\
         [smpp-user-acme]\nsystem-id = \"acme\"\npassword-hash = \"{hash}\"\nchannels = [\"a\"]\ncredits = 3\n\
         [smpp-user-free]\nsystem-id = \"free\"\npassword-hash = \"{hash}\"\nchannels = [\"b\"]\n"
    );
    let server = start(&extra, FakeEngine::new(true, false)).await;
    let addr = server.addr;
    let doc = get(addr, "/openapi.json").await.body;
    let smpp = server
        .services
        .smpp
        .clone()
        .expect("the SMPP server listens");

    let answer = get(addr, "/v1/smpp-users").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["users"][0]["credits"], 3);
    assert!(answer.body["users"][1]["credits"].is_null());
    assert_fits(&doc, "get", "/v1/smpp-users", answer.status, &answer.body);

    // A connection that has not bound: user and bind are null.
    let _client = tokio::net::TcpStream::connect(smpp.listener.local_addr)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while smpp.board.all().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no session");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let answer = get(addr, "/v1/smpp-sessions").await;
    assert!(
        answer.body["sessions"][0]["user"].is_null(),
        "{}",
        answer.text
    );
    assert_fits(
        &doc,
        "get",
        "/v1/smpp-sessions",
        answer.status,
        &answer.body,
    );
    let id = answer.body["sessions"][0]["id"].as_u64().unwrap();

    let credits = "/v1/smpp-users/{name}/credits";
    for (path, body, status) in [
        ("/v1/smpp-users/acme/credits", json!({"add": 2}), 200),
        ("/v1/smpp-users/free/credits", json!({"add": 2}), 409),
        ("/v1/smpp-users/nobody/credits", json!({"add": 2}), 404),
        ("/v1/smpp-users/%ff/credits", json!({"add": 2}), 404),
        ("/v1/smpp-users/acme/credits", json!({"add": 0}), 400),
        ("/v1/smpp-users/acme/credits", json!([]), 400),
    ] {
        let answer = post(addr, path, &body).await;
        assert_eq!(answer.status, status, "{path} {body}: {}", answer.text);
        assert_fits(&doc, "post", credits, answer.status, &answer.body);
    }
    let session = "/v1/smpp-sessions/{id}";
    for (path, status) in [
        (format!("/v1/smpp-sessions/{id}"), 202),
        ("/v1/smpp-sessions/12345".to_string(), 404),
        ("/v1/smpp-sessions/x".to_string(), 400),
        ("/v1/smpp-sessions/-1".to_string(), 400),
        ("/v1/smpp-sessions/%ff".to_string(), 400),
    ] {
        let answer = call(addr, Method::DELETE, &path, None, None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
        assert_fits(&doc, "delete", session, answer.status, &answer.body);
    }

    // Without [smpp-server]: empty lists, and nothing to add credits to or unbind.
    let bare = start("", FakeEngine::new(true, false)).await;
    for path in ["/v1/smpp-users", "/v1/smpp-sessions"] {
        let answer = get(bare.addr, path).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_fits(&doc, "get", path, answer.status, &answer.body);
    }
    let answer = post(bare.addr, "/v1/smpp-users/acme/credits", &json!({"add": 1})).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_fits(&doc, "post", credits, answer.status, &answer.body);
    let answer = call(bare.addr, Method::DELETE, "/v1/smpp-sessions/1", None, None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_fits(&doc, "delete", session, answer.status, &answer.body);
    smpp.stop().await;
}

#[tokio::test]
async fn refusals_before_the_route_match_the_description() {
    let server = start("", FakeEngine::new(true, false)).await;
    let addr = server.addr;
    let doc = get(addr, "/openapi.json").await.body;
    let local = format!("host: {addr}");
    let body = r#"{"to": "1", "text": "x"}"#;
    let cases: [(&[&str], u16); 4] = [
        (
            &[
                "origin: http://evil.example",
                "content-type: application/json",
            ],
            403,
        ),
        (&["content-type: text/plain"], 415),
        (
            &["host: evil.example", "content-type: application/json"],
            421,
        ),
        (
            &["content-type: application/json", "content-length: 99999999"],
            413,
        ),
    ];
    for (headers, status) in cases {
        for path in ["/v1/messages", "/v1/messages/batch"] {
            let mut all = headers.to_vec();
            if !headers.iter().any(|h| h.starts_with("host:")) {
                all.push(&local);
            }
            let request = if headers.iter().any(|h| h.starts_with("content-length:")) {
                format!(
                    "POST {path} HTTP/1.1\r\n{}\r\nconnection: close\r\n\r\n",
                    all.join("\r\n")
                )
            } else {
                post_request(path, &all, body)
            };
            let answer = raw(addr, &request).await;
            assert_eq!(answer.status, status, "{path} {headers:?}: {}", answer.head);
            let status = StatusCode::from_u16(status).unwrap();
            assert_fits(&doc, "post", path, status, &answer.body);
        }
    }
    let answer = get(addr, "/v1/messages/%ff").await;
    assert_fits(
        &doc,
        "get",
        "/v1/messages/{id}",
        answer.status,
        &answer.body,
    );
    for path in ["/health", "/v1/channels", "/openapi.json"] {
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n");
        let answer = raw(addr, &request).await;
        assert_eq!(answer.status, 421, "{path}");
        assert_fits(
            &doc,
            "get",
            path,
            StatusCode::MISDIRECTED_REQUEST,
            &answer.body,
        );
    }
}

/// Whether `body` fits the documented request body of `POST /v1/messages`.
fn documented_valid(doc: &Value, body: &Value) -> Result<(), String> {
    let schema = &doc["paths"]["/v1/messages"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    check(doc, schema, body, "$")
}

/// The description and the request parser agree on which bodies are valid: a fuzzer that
/// builds requests from the description gets them accepted, and what it builds to violate
/// the description is refused. (What the description cannot say — a character the forced
/// coding lacks, too many segments for the channel, an unknown channel — is left out.)
#[tokio::test]
async fn the_request_schema_agrees_with_the_parser() {
    let server = start("", FakeEngine::new(true, false)).await;
    let doc = get(server.addr, "/openapi.json").await.body;
    let max = request::MAX_VALIDITY_SECS;
    let valid = [
        json!({"to": "1", "text": "x"}),
        json!({"to": "+44123456789012345678", "text": " "}),
        json!({"to": "1", "binary": "AAEC"}),
        json!({"to": "1", "binary": "AA=="}),
        json!({"to": "1", "binary": "AAE="}),
        json!({"to": "1", "from": "ACME", "text": "x", "encoding": "ucs2"}),
        json!({"to": "1", "from": "+44", "text": "x"}),
        json!({"to": "1", "from": "a.b-c_d e", "text": "x"}),
        json!({"to": "1", "from": "12345678901234567890", "text": "x"}),
        json!({"to": "1", "text": "x", "validity": 1, "delivery_report": false}),
        json!({"to": "1", "text": "x", "validity": max}),
        json!({"to": "1", "text": "x", "idempotency_key": "k-1"}),
    ];
    let invalid = [
        json!({"to": "1"}),
        json!({"to": "1", "text": ""}),
        json!({"to": "1", "binary": ""}),
        json!({"to": "1", "text": "x", "binary": "AA=="}),
        json!({"to": "1", "text": "x", "binary": "AA==", "encoding": "auto"}),
        json!({"to": "1", "binary": "AA==", "encoding": "auto"}),
        json!({"to": "1", "binary": "AB=="}),
        json!({"to": "1", "binary": "AAE"}),
        json!({"to": "1", "binary": "AA=A"}),
        json!({"to": "x", "text": "x"}),
        json!({"to": "", "text": "x"}),
        json!({"to": "1", "from": "", "text": "x"}),
        json!({"to": "1", "from": "ABCDEFGHIJKL", "text": "x"}),
        json!({"to": "1", "from": "AC!ME", "text": "x"}),
        json!({"to": "1", "text": "x", "validity": 0}),
        json!({"to": "1", "text": "x", "validity": max + 1}),
        json!({"to": "1", "text": "x", "encoding": "utf8"}),
        json!({"to": "1", "text": "x", "idempotency_key": ""}),
        json!({"to": "1", "text": "x", "idempotency_key": "a b"}),
        json!({"to": "1", "text": "x", "idempotency_key": "k".repeat(256)}),
        json!({"to": "1", "text": "x", "colour": "red"}),
    ];
    for body in valid {
        documented_valid(&doc, &body).unwrap_or_else(|e| panic!("{body}: {e}"));
        let answer = post(server.addr, "/v1/messages", &body).await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{body}: {}",
            answer.text
        );
    }
    for body in invalid {
        assert!(
            documented_valid(&doc, &body).is_err(),
            "{body} fits the description"
        );
        let answer = post(server.addr, "/v1/messages", &body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text
        );
    }
    let header = &doc["paths"]["/v1/messages"]["post"]["parameters"][0];
    assert_eq!(header["name"], "Idempotency-Key");
    for (key, status) in [
        ("k-2", 202),
        ("a b", 400),
        ("", 400),
        (&*"k".repeat(256), 400),
    ] {
        let fits = check(&doc, &header["schema"], &json!(key), "$").is_ok();
        assert_eq!(fits, status == 202, "{key:?}");
        let addr = server.addr;
        let request = post_request(
            "/v1/messages",
            &[
                &format!("host: {addr}"),
                "content-type: application/json",
                &format!("idempotency-key: {key}"),
            ],
            r#"{"to": "1", "text": "x"}"#,
        );
        let answer = raw(addr, &request).await;
        assert_eq!(answer.status, status, "{key:?}: {}", answer.head);
    }
}

/// The pattern the description gives for `field` of a message.
fn pattern(field: &str) -> regex::Regex {
    let doc = openapi_document();
    let pattern = doc["components"]["schemas"]["MessageRequest"]["properties"][field]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{field} has no pattern"))
        .to_string();
    regex::Regex::new(&pattern).unwrap()
}

proptest! {
    /// Each documented pattern accepts exactly what the parser accepts.
    #[test]
    fn the_documented_patterns_are_the_parsers_rules(
        number in "[+0-9a ]{0,22}",
        sender in "[+0-9A-Za-z ._!é-]{0,13}",
        base64 in "[A-Za-z0-9+/=]{0,9}",
        octets in proptest::collection::vec(any::<u8>(), 0..10),
        key in "[ -~\t é]{0,4}",
    ) {
        let parses = |body: Value| request::parse(&body).is_ok();
        prop_assert_eq!(
            pattern("to").is_match(&number),
            parses(json!({"to": number, "text": "x"})),
            "to {:?}", number
        );
        prop_assert_eq!(
            pattern("from").is_match(&sender),
            parses(json!({"to": "1", "from": sender, "text": "x"})),
            "from {:?}", sender
        );
        prop_assert_eq!(
            pattern("binary").is_match(&base64),
            parses(json!({"to": "1", "binary": base64})),
            "binary {:?}", base64
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(&octets);
        prop_assert_eq!(pattern("binary").is_match(&encoded), !octets.is_empty());
        prop_assert_eq!(
            pattern("idempotency_key").is_match(&key),
            request::idempotency(&key, &json!({}), "k").is_ok(),
            "key {:?}", key
        );
    }
}
