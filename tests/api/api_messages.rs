//! The HTTP API end to end: a real server on 127.0.0.1:0 over a fake engine, driven by an
//! HTTP client.

use crate::support::api::{
    call, exchange, get, parse_raw, post, post_request, raw, raw_bytes, start, start_with,
    submitted, FakeEngine, RawAnswer,
};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use smppd::daemon::api::ROUTES;
use smppd::daemon::store::{segment_key, Change, MessageId};
use smppd::daemon::{ReceiptReport, ReceiptState};

const BIG_BODY: &str = "[http]\nmax-body-bytes = 262144\n";

#[tokio::test]
async fn accepted_message_gets_an_id_and_its_segment_count() {
    let server = start(BIG_BODY, FakeEngine::new(true, false)).await;
    let text = "x".repeat(200);
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "+4412345", "text": text}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!(answer.body["segments"], 2);
    assert_eq!(answer.body["channel"], "a");
    assert_eq!(answer.body["encoding"], "gsm7");
    let id = answer.body["id"].as_str().unwrap();
    assert!(MessageId::parse(id).is_some());

    let claimed = server.claim("a").await;
    assert_eq!(claimed.len(), 1, "committed before the 202");
    assert_eq!(claimed[0].id.as_str(), id);
    assert_eq!(claimed[0].to, "+4412345");
    assert_eq!(claimed[0].segments.len(), 2);
    assert!(claimed[0].delivery_report, "the channel's default");

    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "Привет", "delivery_report": false}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.body["encoding"], "ucs2");
    assert_eq!(answer.body["data_coding"], 8);
}

#[tokio::test]
async fn every_bad_request_is_a_400_naming_its_field() {
    let server = start(BIG_BODY, FakeEngine::new(true, true)).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"to": "1", "text": "x", "channel": "zz"}),
            "channel",
            "unknown channel \"zz\"; configured: a, b",
        ),
        (
            json!({"to": "1", "text": "Привет", "encoding": "gsm7"}),
            "text",
            "at position 0 cannot be represented in GSM 7-bit",
        ),
        (
            json!({"to": "1", "text": "ok €ü Ω x", "encoding": "ascii"}),
            "text",
            "'€' (U+20AC) at position 3",
        ),
        (
            json!({"to": "1", "text": "y".repeat(500), "channel": "b"}),
            "text",
            "needs 4 segments",
        ),
        (
            json!({"to": "1", "text": "y".repeat(153 * 255 + 1)}),
            "text",
            "needs 256 segments",
        ),
        (json!({"to": "abc", "text": "x"}), "to", "digits"),
        (
            json!({"to": "1", "from": "!!", "text": "x"}),
            "from",
            "letters",
        ),
        (
            json!({"to": "1", "text": "x", "binary": "AA=="}),
            "binary",
            "not both",
        ),
        (json!({"text": "x"}), "to", "required"),
        (json!({"to": "1", "text": ""}), "text", "must not be empty"),
        (json!({"to": "1"}), "text", "required"),
        (
            json!({"to": "1", "text": "x", "encoding": "utf-8"}),
            "encoding",
            "not one of",
        ),
        (
            json!({"to": "1", "text": "x", "validity": 0}),
            "validity",
            "seconds",
        ),
        (
            json!({"to": "1", "text": "x", "colour": "red"}),
            "colour",
            "unknown field",
        ),
    ];
    for (body, field, reason) in cases {
        let answer = post(server.addr, "/v1/messages", &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["field"], field, "{}", answer.text);
        let error = answer.body["error"].as_str().unwrap();
        assert!(
            error.contains(reason),
            "{field}: {error:?} lacks {reason:?}"
        );
    }

    let answer = call(
        server.addr,
        Method::POST,
        "/v1/messages",
        Some(b"{\"to\":".to_vec()),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));

    let huge = format!("{{\"to\":\"1\",\"text\":\"{}\"}}", "z".repeat(300_000));
    let answer = call(
        server.addr,
        Method::POST,
        "/v1/messages",
        Some(huge.into_bytes()),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.body["error"]
        .as_str()
        .unwrap()
        .contains("max-body-bytes (262144)"));
    assert!(server.claim("a").await.is_empty());
}

#[tokio::test]
async fn messages_are_accepted_while_no_channel_is_bound() {
    let server = start("", FakeEngine::new(false, false)).await;
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!(
        answer.body["channel"], "a",
        "the first channel able to transmit"
    );
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x", "channel": "b"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!(server.services.store.counts().waiting, 2);
    // Not tied to a channel: whichever binds first takes it; the pinned one waits for b.
    assert_eq!(server.claim("a").await.len(), 1);
    assert_eq!(server.claim("b").await.len(), 1);

    // Content errors are the client's to fix whatever the channels do.
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "Ω", "encoding": "latin1"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_full_queue_is_a_503_saying_so() {
    let server = start("[store]\nmax-queued = 1\n", FakeEngine::new(true, true)).await;
    let body = json!({"to": "1", "text": "x"});
    assert_eq!(
        post(server.addr, "/v1/messages", &body).await.status,
        StatusCode::ACCEPTED
    );
    let answer = post(server.addr, "/v1/messages", &body).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    let error = answer.body["error"].as_str().unwrap();
    assert!(
        error.contains("the queue is full") && error.contains("max-queued"),
        "{error}"
    );
    // Room again once the first is sent.
    let claimed = server.claim("a").await;
    server
        .apply("a", vec![submitted(&claimed[0], 0, "1")])
        .await;
    assert_eq!(
        post(server.addr, "/v1/messages", &body).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn an_idempotency_key_repeats_the_first_answer_and_sends_once() {
    let server = start("", FakeEngine::new(true, true)).await;
    let body = json!({"to": "1", "text": "once"});
    let send = |key: &'static str, body: Value| {
        let addr = server.addr;
        async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(hyper_util::client::legacy::connect::HttpConnector::new());
            let request = hyper::Request::builder()
                .method(Method::POST)
                .uri(format!("http://{addr}/v1/messages"))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(http_body_util::Full::new(bytes::Bytes::from(
                    body.to_string(),
                )))
                .unwrap();
            let response = client.request(request).await.unwrap();
            let status = response.status();
            use http_body_util::BodyExt;
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (first, a) = send("order-17", body.clone()).await;
    let (again, b) = send("order-17", body.clone()).await;
    assert_eq!((first, again), (StatusCode::ACCEPTED, StatusCode::OK));
    assert_eq!(a, b);
    let (other, e) = send("order-17", json!({"to": "2", "text": "else"})).await;
    assert_eq!(other, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["field"], "Idempotency-Key");
    let claimed: usize = server.claim("a").await.len() + server.claim("b").await.len();
    assert_eq!(claimed, 1, "one message, whatever the retries");

    // In a batch, per item.
    let item = json!({"to": "3", "text": "batched", "idempotency_key": "b-1"});
    let batch = json!({"messages": [item, item]});
    let answer = post(server.addr, "/v1/messages/batch", &batch).await;
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(
        (results[0]["status"].as_u64(), results[1]["status"].as_u64()),
        (Some(202), Some(200))
    );
    assert_eq!(results[0]["id"], results[1]["id"]);
}

#[tokio::test]
async fn batch_of_1000_gets_one_result_each() {
    let server = start(BIG_BODY, FakeEngine::new(true, true)).await;
    let messages: Vec<Value> = (0..1000)
        .map(|i| match i {
            10 => json!({"to": "x", "text": "bad address"}),
            500 => json!({"to": "1", "text": "Привет", "encoding": "gsm7"}),
            _ => json!({"to": format!("44{i}"), "text": format!("message {i}")}),
        })
        .collect();
    let answer = post(
        server.addr,
        "/v1/messages/batch",
        &json!({ "messages": messages }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.text);
    assert_eq!(answer.body["accepted"], 998);
    assert_eq!(answer.body["rejected"], 2);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(results[10]["status"], 400);
    assert_eq!(results[10]["field"], "messages[10].to");
    assert_eq!(results[500]["field"], "messages[500].text");
    assert_eq!(results[999]["status"], 202);
    assert_eq!(results[999]["segments"], 1);
    // Round-robin among the two bound channels with room.
    assert_ne!(results[0]["channel"], results[1]["channel"]);
    assert_eq!(server.services.store.counts().waiting, 998, "one commit");

    let too_many: Vec<Value> = (0..1001).map(|_| json!({"to": "1", "text": "x"})).collect();
    let answer = post(
        server.addr,
        "/v1/messages/batch",
        &json!({ "messages": too_many }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["field"], "messages");
    let answer = post(server.addr, "/v1/messages/batch", &json!([])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn message_state_follows_the_engine_reports() {
    let server = start("", FakeEngine::new(true, false)).await;
    let text = "z".repeat(170);
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": text}),
    )
    .await;
    let id = MessageId::parse(answer.body["id"].as_str().unwrap()).unwrap();
    let path = format!("/v1/messages/{id}");

    let answer = get(server.addr, &path).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["state"], "queued");
    assert_eq!(answer.body["segments"].as_array().unwrap().len(), 2);

    let claimed = server.claim("a").await;
    server
        .apply(
            "a",
            vec![
                submitted(&claimed[0], 0, "0A1B"),
                submitted(&claimed[0], 1, "0a1c"),
            ],
        )
        .await;
    assert_eq!(get(server.addr, &path).await.body["state"], "submitted");

    // The SMSC writes the receipts' ids in decimal: 0x0A1B = 2587, 0x0A1C = 2588.
    for smsc_id in ["2587", "2588"] {
        let receipt = ReceiptReport {
            smsc_message_id: smsc_id.into(),
            state: ReceiptState::Delivered,
            error_code: Some("000".into()),
        };
        server
            .apply(
                "a",
                vec![Change::Receipt {
                    receipt,
                    event: None,
                }],
            )
            .await;
    }
    let body = get(server.addr, &path).await.body;
    assert_eq!(body["state"], "delivered");
    assert_eq!(body["segments"][0]["smsc_message_id"], "0A1B");
    assert_eq!(body["segments"][1]["smsc_message_id"], "0a1c");
    assert_eq!(body["segments"][1]["receipt"], "delivered");
    for state in ["queued", "submitted", "delivered"] {
        let at = body["timestamps"][state].as_str().unwrap();
        assert!(at.ends_with('Z') && at.len() == 24, "{state}: {at}");
    }
    assert_eq!(body["failure"], Value::Null);

    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x"}),
    )
    .await;
    let id = MessageId::parse(answer.body["id"].as_str().unwrap()).unwrap();
    let claimed = server.claim("a").await;
    let change = Change::Failed {
        key: segment_key(claimed[0].seq, 0),
        status: Some(0x45),
        reason: "rejected: ESME_RSUBMITFAIL".into(),
    };
    server.apply("a", vec![change]).await;
    let body = get(server.addr, &format!("/v1/messages/{id}")).await.body;
    assert_eq!(body["state"], "failed");
    assert_eq!(body["failure"]["status"], 0x45);
    assert_eq!(body["failure"]["status_hex"], "0x00000045");

    assert_eq!(
        get(server.addr, "/v1/messages/nope").await.body["field"],
        "id"
    );
    let unknown = format!("/v1/messages/{}", MessageId::generate());
    assert_eq!(
        get(server.addr, &unknown).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn channels_and_health() {
    let server = start("", FakeEngine::new(true, false)).await;
    let answer = get(server.addr, "/v1/channels").await;
    assert_eq!(answer.status, StatusCode::OK);
    let channels = answer.body["channels"].as_array().unwrap();
    assert_eq!(channels[0]["name"], "a");
    assert_eq!(channels[0]["bound"], true);
    assert_eq!(channels[0]["counters"]["acknowledged"], 2);
    assert_eq!(channels[1]["state"], "backing off");
    assert_eq!(channels[1]["last_error"]["code"], 43010);

    let answer = get(server.addr, "/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["bound"], json!(["a"]));
    server.engine.set_bound("a", false);
    let answer = get(server.addr, "/health").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["reason"], "none of the 2 channels is bound");
    assert_eq!(answer.body["down"][0]["last_error"]["code"], 43010);
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let server = start("", FakeEngine::new(true, false)).await;
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    // A channel's sink records each response as it applies it.
    server
        .services
        .metrics
        .record_response("a", Some(0), std::time::Duration::from_millis(5));
    let answer = get(server.addr, "/metrics").await;
    assert_eq!(answer.status, StatusCode::OK);
    let mut typed = std::collections::HashSet::new();
    let mut samples = std::collections::HashMap::new();
    for line in answer.text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_string());
        } else if !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').expect(line);
            let value: f64 = value.parse().expect(line);
            let name = series.split('{').next().unwrap();
            let family = name
                .strip_suffix("_bucket")
                .or_else(|| name.strip_suffix("_sum"))
                .or_else(|| name.strip_suffix("_count"))
                .filter(|f| typed.contains(*f))
                .unwrap_or(name);
            assert!(typed.contains(family), "no TYPE before {line}");
            samples.insert(series.to_string(), value);
        }
    }
    assert_eq!(samples["smppd_channel_up{channel=\"a\"}"], 1.0);
    assert_eq!(samples["smppd_channel_up{channel=\"b\"}"], 0.0);
    assert_eq!(
        samples["smppd_submit_responses_total{channel=\"a\",status=\"0x00000000\"}"],
        1.0
    );
    assert_eq!(
        samples["smppd_submit_latency_seconds_bucket{channel=\"a\",le=\"+Inf\"}"],
        1.0
    );
    assert_eq!(samples["smppd_messages_tracked"], 1.0, "waiting on disk");
    assert_eq!(samples["smppd_resends"], 0.0);
    assert!(samples["smppd_store_commits_total"] >= 1.0);
}

#[tokio::test]
async fn openapi_lists_every_route_and_every_route_answers() {
    let server = start("", FakeEngine::new(true, true)).await;
    let doc = get(server.addr, "/openapi.json").await.body;
    assert_eq!(doc["openapi"], "3.0.3");
    let id = MessageId::generate();
    for (method, path) in ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        let real = path.replace("{id}", id.as_str());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = call(server.addr, method, &real, Some(b"{}".to_vec()), None).await;
        assert_ne!(
            answer.body["error"]
                .as_str()
                .map(|e| e.starts_with("no such route")),
            Some(true),
            "{path} is described but not served"
        );
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    let answer = get(server.addr, "/v2/nothing").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = get(server.addr, "/v1/messages").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.body["error"].as_str().unwrap().contains("method"));
}

#[tokio::test]
async fn bearer_token_guards_the_api_but_not_health() {
    let server = start(
        "[http]\nbearer-token = \"t0ken-t0ken\"\n",
        FakeEngine::new(true, true),
    )
    .await;
    let body = Some(json!({"to": "1", "text": "x"}).to_string().into_bytes());
    let answer = call(
        server.addr,
        Method::POST,
        "/v1/messages",
        body.clone(),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    assert!(answer.body["error"].as_str().unwrap().contains("missing"));
    let answer = call(
        server.addr,
        Method::POST,
        "/v1/messages",
        body.clone(),
        Some("wrong"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"], "invalid bearer token");
    let answer = call(
        server.addr,
        Method::POST,
        "/v1/messages",
        body,
        Some("t0ken-t0ken"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);

    for path in ["/v1/channels", "/metrics"] {
        assert_eq!(
            get(server.addr, path).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        let ok = call(server.addr, Method::GET, path, None, Some("t0ken-t0ken")).await;
        assert_eq!(ok.status, StatusCode::OK, "{path}");
    }
    assert_eq!(get(server.addr, "/health").await.status, StatusCode::OK);
    assert_eq!(
        get(server.addr, "/openapi.json").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn serve_stops_on_shutdown_after_answering() {
    let server = start("", FakeEngine::new(true, true)).await;
    let app = smppd::daemon::api::router(
        &server.services,
        server.engine.clone(),
        server.dispatcher.clone(),
        &crate::support::api::config_in(server.dir.path(), ""),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(smppd::daemon::api::serve(listener, app, async {
        let _ = stopped.await;
    }));
    assert_eq!(get(addr, "/health").await.status, StatusCode::OK);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(std::time::Duration::from_secs(60), server)
        .await
        .expect("serve did not stop");
    assert!(result.unwrap().is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn a_full_disk_is_a_503_with_the_reason_and_nothing_accepted_is_lost() {
    use smppd::daemon::api::{router, serve, Services};
    use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
    use smppd::daemon::store::Store;
    use smppd::daemon::Dispatcher;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::api::config_in(dir.path(), "");
    let engine = FakeEngine::new(true, true);
    *engine.configs.lock().unwrap() = config.channels.clone();
    // A file of at most 48 pages stands for a full disk.
    let mut options = SqliteOptions::new(dir.path().join("full.db"));
    options.max_page_count = Some(48);
    options.finished_retention = std::time::Duration::ZERO;
    let (store, _) = SqliteStore::open(options).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let services = Services {
        store: store.clone(),
        metrics: Default::default(),
        webhook: None,
        resends: Default::default(),
        board: Default::default(),
        leases: None,
        routes: Default::default(),
        smpp: None,
    };
    let dispatcher = Arc::new(Dispatcher::new(
        engine.clone(),
        store.clone(),
        config.store.default_validity,
    ));
    let app = router(&services, engine, dispatcher, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, std::future::pending()));

    let text = "y".repeat(300);
    let send = |addr| {
        let body = json!({"to": "1", "text": text, "delivery_report": false, "channel": "a"});
        async move { post(addr, "/v1/messages", &body).await }
    };
    let now = std::time::SystemTime::now;
    // Some messages are sent and finished before the disk fills up; the retention purge
    // (zero here) is what frees room afterwards.
    for _ in 0..40 {
        assert_eq!(send(addr).await.status, StatusCode::ACCEPTED);
    }
    let claimed = store.claim("a", 10_000, now()).await.unwrap();
    let changes = claimed
        .iter()
        .flat_map(|m| m.segments.iter().map(move |(i, _)| submitted(m, *i, "1")))
        .collect();
    store.apply("a", changes, now()).await.unwrap();

    let mut accepted = Vec::new();
    let refusal = loop {
        let answer = send(addr).await;
        match answer.status {
            StatusCode::ACCEPTED => accepted.push(answer.body["id"].as_str().unwrap().to_string()),
            _ => break answer,
        }
        assert!(accepted.len() < 10_000, "the file never filled up");
    };
    assert_eq!(refusal.status, StatusCode::SERVICE_UNAVAILABLE);
    let error = refusal.body["error"].as_str().unwrap();
    assert!(
        error.starts_with("the store cannot write to disk") && error.contains("full"),
        "{error}"
    );
    assert!(!accepted.is_empty());
    for id in &accepted {
        let answer = get(addr, &format!("/v1/messages/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{id} lost");
        assert_eq!(answer.body["state"], "queued");
    }
    // The purge frees room: the store accepts again, and what was queued is still there.
    let upkeep = store.upkeep(now()).await.unwrap();
    assert!(upkeep.purged >= 40, "{upkeep:?}");
    let answer = send(addr).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    let claimed = store.claim("a", 10_000, now()).await.unwrap();
    assert_eq!(claimed.len(), accepted.len() + 1);
}

const MESSAGE: &str = r#"{"to": "1", "text": "x"}"#;
const JSON: &str = "content-type: application/json";

/// `POST /v1/messages` with exactly `headers`.
async fn post_message_raw(
    addr: std::net::SocketAddr,
    headers: &[&str],
) -> crate::support::api::RawAnswer {
    raw(addr, &post_request("/v1/messages", headers, MESSAGE)).await
}

/// Messages accepted so far, whichever channel they went to.
async fn accepted(server: &crate::support::api::Server) -> usize {
    server.claim("a").await.len() + server.claim("b").await.len()
}

#[tokio::test]
async fn web_pages_cannot_send_messages() {
    let server = start("", FakeEngine::new(true, true)).await;
    let addr = server.addr;
    let local = format!("host: {addr}");
    let send = |headers: Vec<&str>| {
        let request = post_request("/v1/messages", &headers, MESSAGE);
        async move { raw(addr, &request).await }
    };
    // As a browser sends a form of another site, its name rebound to 127.0.0.1.
    let answer = send(vec![
        "host: evil.example",
        "origin: http://evil.example",
        "content-type: text/plain",
    ])
    .await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    assert!(answer.head.contains("content-type: application/json"));
    let error = answer.body["error"].as_str().unwrap();
    assert!(
        error.contains("http://evil.example") && error.contains("allowed-origins"),
        "{error}"
    );
    // Each check on its own.
    let answer = send(vec![&local, "content-type: text/plain"]).await;
    assert_eq!(answer.status, 415, "{}", answer.head);
    assert_eq!(
        answer.body["error"],
        "the body must be sent as Content-Type: application/json, not Content-Type \"text/plain\""
    );
    let answer = send(vec![&local]).await;
    assert_eq!(answer.status, 415, "{}", answer.head);
    assert!(answer.body["error"]
        .as_str()
        .unwrap()
        .ends_with("not no Content-Type"));
    let answer = send(vec!["host: evil.example", JSON]).await;
    assert_eq!(answer.status, 421, "{}", answer.head);
    assert!(answer.body["error"]
        .as_str()
        .unwrap()
        .contains("allowed-hosts"));
    let answer = send(vec![&local, "origin: http://evil.example", JSON]).await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    let batch = post_request(
        "/v1/messages/batch",
        &[&local, "content-type: text/plain"],
        &format!("{{\"messages\": [{MESSAGE}]}}"),
    );
    assert_eq!(raw(addr, &batch).await.status, 415);
    let read = "GET /v1/channels HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n";
    assert_eq!(raw(addr, read).await.status, 421);
    assert_eq!(accepted(&server).await, 0, "nothing was accepted");

    // What local clients send passes.
    for headers in [
        vec![
            local.as_str(),
            "content-type: Application/JSON; charset=utf-8",
        ],
        vec!["host: localhost:1234", JSON],
        vec!["host: [::1]", JSON],
    ] {
        let answer = send(headers.clone()).await;
        assert_eq!(answer.status, 202, "{headers:?}: {}", answer.head);
    }
    assert_eq!(accepted(&server).await, 3);
}

#[tokio::test]
async fn listed_origins_and_hosts_pass_and_a_token_replaces_the_host_check() {
    let server = start(
        "[http]\nallowed-origins = [\"https://ops.example.net\"]\nallowed-hosts = [\"smppd.internal\"]\n",
        FakeEngine::new(true, true),
    )
    .await;
    let addr = server.addr;
    let from_ops = "origin: https://ops.example.net";
    let answer = post_message_raw(addr, &["host: smppd.internal:8080", from_ops, JSON]).await;
    assert_eq!(answer.status, 202, "{}", answer.head);
    let answer = post_message_raw(
        addr,
        &[
            "host: smppd.internal",
            "origin: https://ops.example.org",
            JSON,
        ],
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.head);
    let answer = post_message_raw(addr, &["host: other.internal", from_ops, JSON]).await;
    assert_eq!(answer.status, 421, "{}", answer.head);

    let server = start(
        "[http]\nbearer-token = \"t0ken-t0ken\"\n",
        FakeEngine::new(true, true),
    )
    .await;
    let addr = server.addr;
    let token = "authorization: Bearer t0ken-t0ken";
    let answer = post_message_raw(addr, &["host: smppd.example.net", token, JSON]).await;
    assert_eq!(answer.status, 202, "{}", answer.head);
    let answer = post_message_raw(
        addr,
        &[
            "host: smppd.example.net",
            "origin: http://evil.example",
            token,
            JSON,
        ],
    )
    .await;
    assert_eq!(answer.status, 403, "{}", answer.head);
}

#[tokio::test]
async fn an_oversized_body_is_refused_from_its_length_before_it_is_read() {
    let server = start("", FakeEngine::new(true, true)).await;
    let addr = server.addr;
    // The body never comes: only the declared length can decide.
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {addr}\r\n{JSON}\r\ncontent-length: 10000000\r\nconnection: close\r\n\r\n"
    );
    let started = std::time::Instant::now();
    let answer = raw(addr, &request).await;
    assert_eq!(answer.status, 413, "{}", answer.head);
    assert_eq!(
        answer.body["error"],
        "the body is larger than max-body-bytes (4194304)"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the answer waited for the body"
    );
}

#[tokio::test]
async fn every_error_is_json_even_for_a_path_that_is_not_utf8() {
    let server = start("", FakeEngine::new(true, true)).await;
    let answer = get(server.addr, "/v1/messages/%ff%fe").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.body["field"], "id", "{}", answer.text);
    assert_eq!(
        answer.body["error"],
        "not a message id: ids are 32 hexadecimal digits"
    );
}

#[tokio::test]
async fn empty_text_in_a_batch_item_is_refused() {
    let server = start("", FakeEngine::new(true, true)).await;
    let batch = json!({"messages": [{"to": "1", "text": ""}, {"to": "1", "text": "x"}]});
    let answer = post(server.addr, "/v1/messages/batch", &batch).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.text);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 400);
    assert_eq!(results[0]["field"], "messages[0].text");
    assert_eq!(results[1]["status"], 202);
}

#[tokio::test]
async fn an_item_that_is_no_object_is_named_without_a_trailing_dot() {
    let server = start("", FakeEngine::new(true, true)).await;
    let batch = json!({"messages": [[null, null], "x", {"to": "1", "text": "x"}]});
    let answer = post(server.addr, "/v1/messages/batch", &batch).await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.text);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 400);
    assert_eq!(results[0]["field"], "messages[0]", "{}", answer.text);
    assert_eq!(results[1]["field"], "messages[1]", "{}", answer.text);
    assert_eq!(results[2]["status"], 202);

    // The whole body at fault: no `field` at all, rather than an empty one.
    for (path, body) in [
        ("/v1/messages", json!([1])),
        ("/v1/messages/batch", json!("x")),
    ] {
        let answer = post(server.addr, path, &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            answer.body.get("field").is_none(),
            "{path}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn headers_that_never_finish_get_a_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let timeout = std::time::Duration::from_millis(300);
    let server = start_with("", FakeEngine::new(true, true), timeout).await;
    let addr = server.addr;
    let answer = raw(addr, &format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n")).await;
    assert_eq!(answer.status, 408, "{}", answer.head);
    assert!(answer.head.contains("content-type: application/json"));
    assert!(answer.head.contains("connection: close"));
    assert_eq!(
        answer.body["error"],
        "the request headers did not arrive within 0.3 s"
    );

    // After a complete exchange on a kept-alive connection, the next request's headers
    // have the same time.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(
        rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );

    // A connection that sends nothing is closed without an answer.
    let answer = raw(addr, "").await;
    assert_eq!((answer.status, answer.head.as_str()), (0, ""));
}

/// An answer written outside the router is complete, JSON, says `error`, and closes.
fn assert_closing_json_error(answer: &RawAnswer, status: u16, error: &str) {
    assert_eq!(answer.status, status, "{}", answer.head);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{}",
        answer.head
    );
    assert_eq!(
        answer.header("connection"),
        Some("close"),
        "{}",
        answer.head
    );
    let length: usize = answer.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, answer.body_bytes.len(), "{}", answer.head);
    assert_eq!(answer.body, json!({ "error": error }), "{}", answer.head);
}

#[tokio::test]
async fn request_heads_hyper_cannot_parse_get_the_documented_json_error() {
    let server = start("", FakeEngine::new(true, true)).await;
    let request_line = "the request line is malformed: ";
    let cases: Vec<(&[u8], String)> = vec![
        (
            &b"GET / HTTP/1.1 garbage\r\nhost: x\r\n\r\n"[..],
            format!(
                "{request_line}it must be the method, the target and HTTP/1.1, separated by \
                 single spaces and ended by CRLF"
            ),
        ),
        (
            &b"\x00\x01\x02\x03\xff\r\n\r\n"[..],
            format!("{request_line}the method is not a valid token"),
        ),
        (
            &b"GET /health HTTP/2.0\r\nhost: x\r\n\r\n"[..],
            format!("{request_line}the version must be HTTP/1.1 or HTTP/1.0"),
        ),
        (
            &b"GET /a\x7fb HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            format!("{request_line}the request target has a character not allowed in it"),
        ),
        (
            &b"GET /health HTTP/1.1\r\nhost: x\r\nbad name: 1\r\n\r\n"[..],
            "header line 2 is malformed: its name has a character not allowed in a header name"
                .into(),
        ),
        (
            &b"GET /health HTTP/1.1\r\nhost: x\x01y\r\n\r\n"[..],
            "header line 1 is malformed: its value has a control character".into(),
        ),
        (
            &b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: ten\r\n\r\n"[..],
            "the Content-Length header is not a number, or is given twice with different values"
                .into(),
        ),
        (
            &b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n"[..],
            "the Transfer-Encoding header must end with chunked".into(),
        ),
    ];
    for (request, error) in cases {
        let answer = raw_bytes(server.addr, request).await;
        assert_closing_json_error(&answer, 400, &error);
    }

    // The router's own 400 goes out unchanged, even as a head alone (HEAD has no body).
    let addr = server.addr;
    let head = format!("HEAD /v1/messages/x HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let answer = raw(addr, &head).await;
    assert_eq!(answer.status, 400, "{}", answer.head);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_ne!(answer.header("content-length"), Some("0"));
    assert!(answer.body_bytes.is_empty());
}

#[tokio::test]
async fn request_heads_over_the_limits_get_a_431_naming_the_limit() {
    let server = start("", FakeEngine::new(true, true)).await;
    let addr = server.addr;
    let too_large = "the request's head (request line and headers) exceeds 16 KiB";

    // A 100 KiB request line: hyper refuses it as a head too large before its URI limit.
    let long_line = format!(
        "GET /{} HTTP/1.1\r\nhost: {addr}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    assert_closing_json_error(&raw(addr, &long_line).await, 431, too_large);

    let header = format!("x-filler: {}\r\n", "f".repeat(1024));
    let head_of = |count: usize| {
        format!(
            "GET /health HTTP/1.1\r\nhost: {addr}\r\n{}connection: close\r\n\r\n",
            header.repeat(count)
        )
    };
    assert_closing_json_error(&raw(addr, &head_of(20)).await, 431, too_large);
    // Just under the limit is served.
    let under = head_of(14);
    assert!(under.len() < smppd::daemon::api::MAX_HEAD_BYTES);
    assert_eq!(raw(addr, &under).await.status, 200);

    let many = format!(
        "GET /health HTTP/1.1\r\nhost: {addr}\r\n{}\r\n",
        "x-a: 1\r\n".repeat(100)
    );
    assert_closing_json_error(
        &raw(addr, &many).await,
        431,
        "the request has more than 100 header fields",
    );
}

/// Whether `received` holds a complete answer (with a Content-Length).
fn is_one_answer(received: &[u8]) -> bool {
    let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = parse_raw(&received[..at + 4]);
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    received.len() >= at + 4 + length
}

/// Splits what a kept-alive connection received into its answers (each with a Content-Length).
fn split_answers(mut received: &[u8]) -> Vec<RawAnswer> {
    let mut answers = Vec::new();
    while !received.is_empty() {
        let head_end = received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head")
            + 4;
        let head = parse_raw(&received[..head_end]);
        let length: usize = head.header("content-length").unwrap().parse().unwrap();
        answers.push(parse_raw(&received[..head_end + length]));
        received = &received[head_end + length..];
    }
    answers
}

#[tokio::test]
async fn a_malformed_request_after_good_ones_on_a_kept_alive_connection_gets_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start("", FakeEngine::new(true, true)).await;
    let addr = server.addr;
    let good = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    let bad = "GET /health HTTP/1.1\r\nhost: x\r\nbad name: 1\r\n\r\n";
    let bad_error =
        "header line 2 is malformed: its name has a character not allowed in a header name";

    // One request at a time: the malformed one comes after an answer was read.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(good.as_bytes()).await.unwrap();
    let mut first = Vec::new();
    while !is_one_answer(&first) {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed after the first answer");
        first.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(parse_raw(&first).status, 200);
    stream.write_all(bad.as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert_closing_json_error(&parse_raw(&rest), 400, bad_error);

    // Pipelined: two good requests and the malformed one in one write. The connection keeps
    // only the head it read first, so the error is hyper's alone, without the line number.
    let pipelined = format!("{good}{good}{bad}");
    let received = exchange(addr, pipelined.as_bytes()).await;
    let answers = split_answers(&received);
    assert_eq!(answers.len(), 3, "{}", String::from_utf8_lossy(&received));
    assert_eq!((answers[0].status, answers[1].status), (200, 200));
    assert_closing_json_error(
        &answers[2],
        400,
        "the request line or a header field is malformed (a character not allowed there, \
         or a line not ended by CRLF)",
    );
}
