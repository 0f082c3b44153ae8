//! `/openapi.json` against the real answers: every response body the API sends is checked
//! against the schema the description gives for it — types, required fields, and no field
//! the description does not name — so the two cannot drift apart.

mod api_support;

use api_support::{get, post, post_request, raw, start, submitted, FakeEngine};
use hyper::StatusCode;
use serde_json::{json, Value};

/// Checks `value` against `schema` (the subset of OpenAPI 3.0 the description uses),
/// resolving `$ref` in `doc`. Returns the first disagreement, with its JSON path.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: unresolved {reference}"));
        }
        return check(doc, target, value, at);
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
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap_or("");
            if !object.contains_key(key) {
                return Err(format!("{at}: required field {key} missing"));
            }
        }
        for (key, v) in object {
            let Some(property) = properties.get(key) else {
                return Err(format!("{at}: field {key} is not described"));
            };
            check(doc, property, v, &format!("{at}.{key}"))?;
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"))?;
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
