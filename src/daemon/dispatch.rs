//! [`Dispatcher`]: the one entry point for outbound messages.
//!
//! ```text
//!   request --route--> channel config --segment--> NewMessage --commit (group)--> 202
//!                                                                    \--wake--> feeders
//! ```
//!
//! It routes a request, segments it with the chosen channel's configuration, commits it to
//! the store and wakes the channel feeders ([`super::feeder`]), which claim what their
//! channel may send. Nothing is handed to a channel before it is on disk, so there is
//! nothing to take back when something fails.

use super::engine::Engine;
use super::mask::mask_card_numbers;
use super::router::{RouteError, Router};
use super::store::{Accepted, Idempotency, MessageId, NewMessage, Refused, Store, StoreError};
use crate::config::{ChannelConfig, OutboundEncoding};
use crate::sms::{
    segment, segment_binary, Coding, CodingPolicy, Concatenation, MaxSegments, Segment,
    SegmentError, SegmentOptions,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// A text coding a client may force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The cheapest of GSM 7-bit and UCS-2.
    Auto,
    /// GSM 03.38 only.
    Gsm7,
    /// IA5 / ASCII only.
    Ascii,
    /// Latin-1 only.
    Latin1,
    /// UCS-2.
    Ucs2,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text, to be encoded.
    Text(String),
    /// Octets, sent as 8-bit binary (data_coding 4).
    Binary(Vec<u8>),
}

/// One outbound message as a client asked for it, every field checked on its own (the
/// channel-dependent checks, coding and length, come when a channel is chosen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRequest {
    /// `to`.
    pub to: String,
    /// `from`.
    pub from: Option<String>,
    /// `text` or `binary`.
    pub content: Content,
    /// `channel`.
    pub channel: Option<String>,
    /// `encoding`.
    pub encoding: Option<Encoding>,
    /// `delivery_report`.
    pub delivery_report: Option<bool>,
    /// `validity`, in seconds.
    pub validity: Option<Duration>,
    /// The `Idempotency-Key` (header, or `idempotency_key` of a batch item).
    pub idempotency: Option<Idempotency>,
}

/// Why one message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// No channel for it (unknown or receiver-only channel named, none able to transmit).
    #[error(transparent)]
    Route(#[from] RouteError),
    /// The content cannot be sent as the channel is configured (`field` is at fault).
    #[error("{reason}")]
    Content {
        /// `text` or `binary`.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The store refused it (queue full, idempotency key reused).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The store could not commit (disk full or failing): nothing was accepted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The one way into the queue. Shared by every request handler.
pub struct Dispatcher {
    engine: Arc<dyn Engine>,
    store: Arc<dyn Store>,
    router: Router,
    /// The next 8-bit concatenation reference (UDH IEI 0x00).
    udh_reference: AtomicUsize,
    default_validity: Duration,
    /// Bumped after every commit of new messages; channel feeders watch it.
    wake: watch::Sender<u64>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over `engine`'s channels, committing to `store`. Messages with neither a
    /// validity nor a channel validity expire after `default_validity`.
    pub fn new(engine: Arc<dyn Engine>, store: Arc<dyn Store>, default_validity: Duration) -> Self {
        Dispatcher {
            engine,
            store,
            router: Router::new(),
            udh_reference: AtomicUsize::new(0),
            default_validity,
            wake: watch::channel(0).0,
        }
    }

    /// What channel feeders watch for new messages.
    pub fn wake_signal(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    /// Tells the feeders that messages may be waiting (after a restart or a release).
    pub fn wake(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Accepts `requests`: each is routed and segmented, then all that passed are committed
    /// in one store call. One result per request, in order. `Err` when the commit failed:
    /// then none was accepted.
    pub async fn accept(
        &self,
        requests: Vec<MessageRequest>,
    ) -> Result<Vec<Result<Accepted, DispatchError>>, StoreError> {
        let now = SystemTime::now();
        let statuses = self.engine.channels();
        let mut results: Vec<Option<Result<Accepted, DispatchError>>> =
            Vec::with_capacity(requests.len());
        let mut batch = Vec::with_capacity(requests.len());
        let mut slots = Vec::with_capacity(requests.len());
        for request in requests {
            match self.prepare(&statuses, request, now) {
                Ok(message) => {
                    slots.push(results.len());
                    batch.push(message);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        if !batch.is_empty() {
            let committed = self.store.accept(batch, now).await?;
            for (slot, outcome) in slots.into_iter().zip(committed) {
                results[slot] = Some(outcome.map_err(DispatchError::Refused));
            }
            self.wake();
        }
        // Every slot is filled: the store answers once per message it was given.
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(DispatchError::Store(StoreError::Closed))))
            .collect())
    }

    /// Routes and segments one request.
    fn prepare(
        &self,
        statuses: &[super::engine::ChannelSnapshot],
        request: MessageRequest,
        now: SystemTime,
    ) -> Result<NewMessage, DispatchError> {
        let name = self.router.choose(statuses, request.channel.as_deref())?;
        let config = self
            .engine
            .channel_config(Some(&name))
            .ok_or_else(|| RouteError::Unavailable(format!("channel {name} was just removed")))?;
        let (segments, coding) = self.segments(&request, &config)?;
        let (expires_at, send_validity) = match request.validity {
            Some(v) => (now + v, true),
            None => match relative_seconds(&config.validity_period) {
                Some(secs) => (now + Duration::from_secs(secs), true),
                None => (now + self.default_validity, false),
            },
        };
        let id = MessageId::generate();
        if config.debug_mode {
            // x-debug-mode: texts reach the log only at debug level, card numbers masked.
            if let Content::Text(text) = &request.content {
                tracing::debug!(
                    channel = %name,
                    event = "outbound_text",
                    id = %id,
                    text = %mask_card_numbers(text),
                    "outbound message text"
                );
            }
        }
        Ok(NewMessage {
            id,
            pinned: request.channel.is_some(),
            channel: name,
            to: request.to,
            from: request.from,
            delivery_report: request.delivery_report.unwrap_or(config.delivery_report),
            expires_at,
            send_validity,
            encoding: coding_word(coding),
            data_coding: coding.data_coding(),
            segments,
            idempotency: request.idempotency,
            origin: None,
        })
    }

    /// Encodes and splits the content as `channel` sends it.
    fn segments(
        &self,
        request: &MessageRequest,
        channel: &ChannelConfig,
    ) -> Result<(Vec<Segment>, Coding), DispatchError> {
        let concatenation = if channel.use_message_payload {
            Concatenation::MessagePayload
        } else {
            let reference = self.udh_reference.fetch_add(1, Ordering::Relaxed) as u8;
            Concatenation::Udh8 { reference }
        };
        let options = SegmentOptions {
            policy: policy(request.encoding, channel),
            concatenation,
            max_segments: MaxSegments::try_new(usize::from(channel.max_segments))
                .unwrap_or_default(),
            ..SegmentOptions::new(concatenation)
        };
        let (result, coding, field) = match &request.content {
            Content::Text(text) => {
                // An empty text is sent as the channel's x-smpp-empty-message, as configured.
                let text = if text.is_empty() {
                    channel.empty_message.as_str()
                } else {
                    text
                };
                let coding = options.policy.choose(text);
                (segment(text, &options), coding, "text")
            }
            Content::Binary(data) => (segment_binary(data, &options), Coding::Binary, "binary"),
        };
        let explain = |e: SegmentError| match e {
            SegmentError::TooManySegments { .. } => {
                format!("{e} (channel {}'s x-smpp-sar-max-segments)", channel.name)
            }
            other => other.to_string(),
        };
        result
            .map(|segments| (segments, coding))
            .map_err(|e| DispatchError::Content {
                field,
                reason: explain(e),
            })
    }
}

/// The word the API uses for a coding.
pub(crate) fn coding_word(coding: Coding) -> &'static str {
    match coding {
        Coding::Gsm7 => "gsm7",
        Coding::Ia5 => "ascii",
        Coding::Latin1 => "latin1",
        Coding::Binary => "binary",
        Coding::Ucs2 => "ucs2",
    }
}

fn policy(encoding: Option<Encoding>, channel: &ChannelConfig) -> CodingPolicy {
    let forced = match encoding {
        Some(Encoding::Auto) => return CodingPolicy::Auto,
        Some(Encoding::Gsm7) => Coding::Gsm7,
        Some(Encoding::Ascii) => Coding::Ia5,
        Some(Encoding::Latin1) => Coding::Latin1,
        Some(Encoding::Ucs2) => Coding::Ucs2,
        None => match channel.outbound_encoding {
            OutboundEncoding::Auto => return CodingPolicy::Auto,
            OutboundEncoding::Gsm7 => Coding::Gsm7,
            OutboundEncoding::Ascii => Coding::Ia5,
            OutboundEncoding::Latin1 => Coding::Latin1,
            OutboundEncoding::Ucs2 => Coding::Ucs2,
        },
    };
    CodingPolicy::Forced(forced)
}

/// The length of an SMPP relative time (`YYMMDDhhmmss000R`) in seconds, counting a year as
/// 365 days and a month as 30; `None` for an absolute time or an empty string.
pub(crate) fn relative_seconds(time: &str) -> Option<u64> {
    let b = time.as_bytes();
    if b.len() != 16 || b[15] != b'R' || !b[..12].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |i: usize| u64::from(b[i] - b'0') * 10 + u64::from(b[i + 1] - b'0');
    Some(n(0) * 365 * 86_400 + n(2) * 30 * 86_400 + n(4) * 86_400 + n(6) * 3600 + n(8) * 60 + n(10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::gateway::Gateway;
    use crate::daemon::store::sqlite::{SqliteOptions, SqliteStore};
    use crate::daemon::store::ClaimedMessage;

    /// Channels `a` (transceiver), `v` (a validity period of 10 minutes, at most 2
    /// segments) and `r` (receiver only), none bound: messages wait on disk.
    fn channels() -> Arc<Gateway> {
        let text = "[channel-a]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"a\"\n\
                    [channel-v]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"v\"\n\
                    x-smpp-validity-period = 600\nx-smpp-sar-max-segments = 2\n\
                    [channel-r]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"r\"\n\
                    x-smpp-bind-mode = \"receiver\"\n";
        let config =
            crate::config::Config::parse(text, std::path::Path::new("/tmp/d.toml"), &|_| None)
                .unwrap()
                .config;
        Gateway::new(config.channels.into_iter().map(Arc::new).collect())
    }

    /// A dispatcher over [`channels`] and a fresh SQLite store, an hour's default validity.
    fn dispatcher() -> (Dispatcher, Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SqliteStore::open(SqliteOptions::new(dir.path().join("d.db"))).unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let dispatcher = Dispatcher::new(channels(), store.clone(), Duration::from_secs(3600));
        (dispatcher, store, dir)
    }

    fn text(text: &str, channel: Option<&str>) -> MessageRequest {
        MessageRequest {
            to: "447700900123".into(),
            from: None,
            content: Content::Text(text.into()),
            channel: channel.map(str::to_string),
            encoding: None,
            delivery_report: None,
            validity: None,
            idempotency: None,
        }
    }

    async fn claim(store: &Arc<dyn Store>, channel: &str) -> Vec<ClaimedMessage> {
        store.claim(channel, 10, SystemTime::now()).await.unwrap()
    }

    #[tokio::test]
    async fn each_request_is_answered_in_order_and_only_those_that_pass_are_committed() {
        let (dispatcher, store, _dir) = dispatcher();
        let wake = dispatcher.wake_signal();
        let results = dispatcher
            .accept(vec![
                text("first", None),
                text("to a receiver", Some("r")),
                text("to nowhere", Some("zz")),
                text(&"x".repeat(161 * 2), Some("v")),
                MessageRequest {
                    content: Content::Binary(vec![1, 2, 3]),
                    ..text("", Some("v"))
                },
            ])
            .await
            .unwrap();
        assert_eq!(results.len(), 5);
        let Ok(Accepted::New(first)) = &results[0] else {
            panic!("{:?}", results[0]);
        };
        assert_eq!((first.channel.as_str(), first.segments), ("a", 1));
        assert_eq!(
            results[1],
            Err(DispatchError::Route(RouteError::ReceiverOnly("r".into())))
        );
        assert!(
            matches!(&results[2], Err(DispatchError::Route(RouteError::UnknownChannel { name, .. })) if name == "zz"),
            "{:?}",
            results[2]
        );
        match &results[3] {
            Err(DispatchError::Content { field, reason }) => {
                assert_eq!(*field, "text");
                assert!(
                    reason.contains("channel v's x-smpp-sar-max-segments"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        let Ok(Accepted::New(binary)) = &results[4] else {
            panic!("{:?}", results[4]);
        };
        assert_eq!(
            (binary.channel.as_str(), binary.encoding.as_str()),
            ("v", "binary")
        );
        assert!(
            wake.has_changed().unwrap(),
            "the feeders are woken after the commit"
        );
        assert_eq!(claim(&store, "a").await.len(), 1);
        assert_eq!(claim(&store, "v").await.len(), 1);
    }

    #[tokio::test]
    async fn a_batch_refused_whole_commits_nothing_and_wakes_no_feeder() {
        let (dispatcher, store, _dir) = dispatcher();
        let wake = dispatcher.wake_signal();
        let results = dispatcher
            .accept(vec![text("to nowhere", Some("zz"))])
            .await
            .unwrap();
        assert!(
            matches!(results[..], [Err(DispatchError::Route(_))]),
            "{results:?}"
        );
        assert!(!wake.has_changed().unwrap());
        assert!(claim(&store, "a").await.is_empty());
    }

    #[tokio::test]
    async fn the_validity_is_the_requests_else_the_channels_else_the_default() {
        let (dispatcher, store, _dir) = dispatcher();
        let before = SystemTime::now();
        let asked = MessageRequest {
            validity: Some(Duration::from_secs(60)),
            ..text("asked", Some("a"))
        };
        let results = dispatcher
            .accept(vec![
                asked,
                text("channel's", Some("v")),
                text("default", Some("a")),
            ])
            .await
            .unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let after = SystemTime::now();
        // The store keeps times to the millisecond.
        let within = |m: &ClaimedMessage, secs: u64| {
            let d = Duration::from_secs(secs);
            let ms = Duration::from_millis(1);
            m.expires_at + ms >= before + d && m.expires_at <= after + d
        };
        let on_a = claim(&store, "a").await;
        let asked = on_a
            .iter()
            .find(|m| within(m, 60))
            .expect("the asked validity");
        assert!(asked.send_validity, "a validity asked for is sent");
        let default = on_a.iter().find(|m| within(m, 3600)).expect("the default");
        assert!(!default.send_validity, "the default is the SMSC's business");
        let on_v = claim(&store, "v").await;
        assert_eq!(on_v.len(), 1);
        assert!(within(&on_v[0], 600), "the channel's validity period");
        assert!(on_v[0].send_validity);
    }

    #[tokio::test]
    async fn an_empty_text_is_sent_as_the_channels_empty_message() {
        let (dispatcher, store, _dir) = dispatcher();
        let results = dispatcher.accept(vec![text("", Some("a"))]).await.unwrap();
        assert!(matches!(results[..], [Ok(Accepted::New(_))]), "{results:?}");
        let claimed = claim(&store, "a").await;
        assert_eq!(claimed[0].segments.len(), 1);
        assert_eq!(
            claimed[0].segments[0].1.bytes, b" ",
            "x-smpp-empty-message's default"
        );
    }

    #[test]
    fn relative_times_read_as_seconds() {
        assert_eq!(
            relative_seconds("000001020304000R"),
            Some(86_400 + 7200 + 180 + 4)
        );
        assert_eq!(
            relative_seconds("010100000000000R"),
            Some((365 + 30) * 86_400)
        );
        assert_eq!(relative_seconds("261129120000000+"), None);
        assert_eq!(relative_seconds(""), None);
        assert_eq!(
            relative_seconds(&crate::config::relative_time(172_800)),
            Some(172_800)
        );
    }
}
