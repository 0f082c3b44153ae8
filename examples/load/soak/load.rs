//! The load of `load soak`: a steady rate of `POST /v1/messages`, each message to its own
//! number (`44` and a 10-digit message number) so that the SMSC's record names the message
//! every segment belongs to; mostly short GSM texts, some long ones, some UCS-2.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::rng::Rng;
use super::HttpClient;

/// `to` numbers are this prefix and a 10-digit message number.
const TO_PREFIX: &str = "44";
/// Requests in flight at most (the HTTP client keeps about as many connections).
pub const IN_FLIGHT: usize = 64;

/// The message number a `to` address stands for.
pub fn message_number(to: &str) -> Option<u32> {
    to.strip_prefix(TO_PREFIX)
        .filter(|n| n.len() == 10)
        .and_then(|n| n.parse().ok())
}

/// A message the API accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The API's message id.
    pub id: String,
    /// Segments the API said it needs.
    pub segments: u8,
    /// The text sent.
    pub text: String,
}

/// What the load sent and how the API answered.
#[derive(Debug, Default)]
pub struct Sent {
    /// By message number (the index); `None` when not answered 202.
    pub accepted: Vec<Option<Accepted>>,
    /// Non-202 answers by status.
    pub refused: BTreeMap<u16, u64>,
    /// Requests without an answer (connection error, or none in 30 s).
    pub unanswered: u64,
    /// Messages by kind of text.
    pub kinds: BTreeMap<&'static str, u64>,
}

/// A few words to build texts from; `€` and `[` cost two septets in GSM 7-bit.
const WORDS: &[&str] = &[
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "price €5",
    "[ok]",
    "ü",
    "@home",
    "100%",
];
const CYRILLIC: &[&str] = &["привет", "мир", "сообщение", "тест", "длинное", "да", "нет"];

/// The text of message `n` and its kind.
fn text(n: u32, rng: &mut Rng) -> (&'static str, String) {
    let (kind, len, words): (&'static str, u64, &[&str]) = match rng.below(100) {
        0..=74 => ("short GSM 7-bit", rng.range(20, 150), WORDS),
        75..=89 => ("long GSM 7-bit (2-4 segments)", rng.range(200, 600), WORDS),
        90..=94 => ("short UCS-2", rng.range(20, 60), CYRILLIC),
        _ => ("long UCS-2 (2-3 segments)", rng.range(90, 190), CYRILLIC),
    };
    let mut t = format!("soak {n}");
    while (t.chars().count() as u64) < len {
        t.push(' ');
        t.push_str(words[rng.below(words.len() as u64) as usize]);
    }
    (kind, t)
}

/// The load: `rate` messages per second until `stop`, pausing while the clock is before
/// `pause_until` (ms since `t0`).
pub struct Load {
    pub client: HttpClient,
    pub api: String,
    pub rate: u64,
    pub sent: Arc<Mutex<Sent>>,
    pub stop: Arc<AtomicBool>,
    pub pause_until: Arc<AtomicU64>,
    pub t0: Instant,
}

impl Load {
    /// Runs until stopped, then waits for the requests in flight.
    pub async fn run(self, mut rng: Rng) {
        let permits = Arc::new(Semaphore::new(IN_FLIGHT));
        let uri = format!("http://{}/v1/messages", self.api);
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut offered: u64 = 0;
        let mut paused = Duration::ZERO;
        let mut last = Instant::now();
        let started = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            tick.tick().await;
            let now = Instant::now();
            if (self.t0.elapsed().as_millis() as u64) < self.pause_until.load(Ordering::SeqCst) {
                paused += now - last;
                last = now;
                continue;
            }
            last = now;
            let due = ((now - started - paused).as_secs_f64() * self.rate as f64) as u64;
            while offered < due && !self.stop.load(Ordering::SeqCst) {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                offered += 1;
                let n = {
                    let mut s = self.sent.lock().expect("sent");
                    s.accepted.push(None);
                    (s.accepted.len() - 1) as u32
                };
                let (kind, text) = text(n, &mut rng);
                *self
                    .sent
                    .lock()
                    .expect("sent")
                    .kinds
                    .entry(kind)
                    .or_default() += 1;
                let body = serde_json::json!({
                    "to": format!("{TO_PREFIX}{n:010}"),
                    "from": "soak",
                    "text": text,
                });
                let (client, uri, sent) = (self.client.clone(), uri.clone(), self.sent.clone());
                tokio::spawn(async move {
                    let answer = tokio::time::timeout(
                        Duration::from_secs(30),
                        post(&client, &uri, body.to_string()),
                    )
                    .await;
                    let mut s = sent.lock().expect("sent");
                    match answer {
                        Ok(Some((202, v))) => {
                            s.accepted[n as usize] = Some(Accepted {
                                id: v["id"].as_str().unwrap_or("").to_owned(),
                                segments: v["segments"].as_u64().unwrap_or(0) as u8,
                                text,
                            })
                        }
                        Ok(Some((status, _))) => *s.refused.entry(status).or_default() += 1,
                        _ => s.unanswered += 1,
                    }
                    drop(permit);
                });
            }
        }
        let _ = permits.acquire_many(IN_FLIGHT as u32).await;
    }
}

async fn post(client: &HttpClient, uri: &str, body: String) -> Option<(u16, Value)> {
    let request = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}
