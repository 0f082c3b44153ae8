//! The gateway over real channel slots: a slot whose set-up fails (deterministic, no
//! network), a slot bound to the built-in simulator, and channels with no slot here.

use super::*;
use crate::config::{Config, KeystoreSource};
use crate::daemon::api::Metrics;
use crate::daemon::channels::{self, Plumbing, Slot};
use crate::daemon::smpp_server::UserRoutes;
use crate::daemon::store::shared_tests;
use crate::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use crate::secret::Secret;
use crate::simulator::{Account, Simulator, SimulatorConfig};
use crate::supervisor::{
    DRIVER_INIT_FAILED, EXCEPTION_PROCESSED, OPEN_AND_BIND_FAILED, SSL_CONTEXT_FAILED,
};
use crate::transport::TlsMode;
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};

/// Only a hung test waits this long.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Channel `a` (transceiver, two sessions, a window of 5) to `port`, and channel `r`
/// (receiver only).
fn configs(port: u16) -> Vec<Arc<ChannelConfig>> {
    let text = format!(
        "[channel-a]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {port}\n\
         x-smpp-system-id = \"a\"\npassword = \"pw-a\"\nx-smpp-sessions = 2\n\
         x-smpp-submit-window-size = 5\n\
         [channel-r]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {port}\n\
         x-smpp-system-id = \"r\"\npassword = \"pw-r\"\nx-smpp-bind-mode = \"receiver\"\n"
    );
    Config::parse(&text, std::path::Path::new("/tmp/g.toml"), &|_| None)
        .unwrap()
        .config
        .channels
        .into_iter()
        .map(Arc::new)
        .collect()
}

/// `config` with a keystore that is not there: its slots fail set-up (43010, 42403) and
/// stay `Failed` without a task.
fn unloadable(config: &ChannelConfig) -> Arc<ChannelConfig> {
    let mut config = config.clone();
    config.tls.mode = TlsMode::Single;
    config.tls.keystore = KeystoreSource::Pkcs12 {
        path: "/nonexistent/smppd-gateway-test.p12".into(),
        file_password: Secret::new("changeit"),
        key_password: Secret::new("changeit"),
    };
    Arc::new(config)
}

/// What the slots of one node share: a SQLite store in a temporary directory.
struct Node {
    plumbing: Plumbing,
    /// Bumped to wake the feeders; kept so that their wake signal stays open.
    wake: watch::Sender<u64>,
    _dir: tempfile::TempDir,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = SqliteStore::open(SqliteOptions::new(dir.path().join("g.db"))).unwrap();
        let (wake, wake_rx) = watch::channel(0);
        Node {
            plumbing: Plumbing {
                store: Arc::new(store),
                metrics: Arc::new(Metrics::default()),
                wake: wake_rx,
                webhook: false,
                outbox: Arc::new(Notify::new()),
                resends: Arc::default(),
                routes: UserRoutes::new(),
            },
            wake,
            _dir: dir,
        }
    }

    /// Starts slot `slot` of `config`'s channel.
    fn start(&self, config: Arc<ChannelConfig>, slot: u16) -> Channel {
        let name = config.name.clone();
        channels::start(config, Slot::local(&name, slot), &self.plumbing)
    }
}

fn slots(gateway: &Gateway, channel: &str) -> Vec<u16> {
    gateway.running(channel).iter().map(|f| f.slot).collect()
}

#[test]
fn a_channel_with_no_slot_here_is_standby_with_what_its_bind_mode_allows() {
    let gateway = Gateway::new(configs(9));
    let all = gateway.channels();
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "r"]);
    for c in &all {
        assert_eq!(c.state, ChannelPhase::Standby, "{c:?}");
        assert!(!c.bound && !c.can_send(), "{c:?}");
        assert_eq!(
            c.counters,
            ChannelCounters::default(),
            "no window here: {c:?}"
        );
        assert_eq!(c.last_error, None);
        assert_eq!(c.seconds_since_bind, None);
        assert_eq!(
            c.failures,
            [
                (OPEN_AND_BIND_FAILED, 0),
                (SSL_CONTEXT_FAILED, 0),
                (EXCEPTION_PROCESSED, 0),
                (DRIVER_INIT_FAILED, 0),
            ],
            "every code listed, zeros included"
        );
    }
    assert!(all[0].can_transmit && all[0].can_receive);
    assert!(!all[1].can_transmit && all[1].can_receive);
    assert_eq!(gateway.summary(), "0 of 2 channels bound");
}

#[tokio::test]
async fn a_slot_that_failed_set_up_shows_its_error_and_counts_as_failed() {
    let node = Node::new();
    let configs = configs(9);
    let gateway = Gateway::new(configs.clone());
    assert!(gateway
        .insert(node.start(unloadable(&configs[0]), 0))
        .is_none());
    let a = &gateway.channels()[0];
    assert_eq!(a.state, ChannelPhase::Local(ChannelState::Failed));
    assert!(!a.bound);
    let error = a.last_error.as_ref().expect("the set-up failure");
    assert_eq!(error.code, SSL_CONTEXT_FAILED);
    assert!(
        error.reason.contains("smppd-gateway-test.p12"),
        "{}",
        error.reason
    );
    let count = |code| a.failures.iter().find(|(c, _)| *c == code).unwrap().1;
    assert_eq!(count(SSL_CONTEXT_FAILED), 1);
    assert_eq!(count(DRIVER_INIT_FAILED), 1);
    assert_eq!(count(OPEN_AND_BIND_FAILED), 0);
    assert_eq!(a.counters.window_size, 5, "a running slot has its window");
    assert_eq!(
        gateway.summary(),
        "0 of 2 channels bound, 1 failed (see logs: 43010)"
    );
}

#[tokio::test]
async fn slots_are_kept_in_order_by_channel_across_a_reconfiguration() {
    let node = Node::new();
    let configs = configs(9);
    let (a, r) = (unloadable(&configs[0]), unloadable(&configs[1]));
    let gateway = Gateway::new(configs.clone());
    assert!(gateway.insert(node.start(a.clone(), 1)).is_none());
    assert!(gateway.insert(node.start(a.clone(), 0)).is_none());
    assert!(gateway.insert(node.start(r.clone(), 0)).is_none());
    assert_eq!(slots(&gateway, "a"), [0, 1]);
    // A slot of a channel that is not configured is handed back.
    let mut other = (*a).clone();
    other.name = "x".into();
    let back = gateway.insert(node.start(Arc::new(other), 0));
    assert_eq!(back.map(|c| c.config.name.clone()).as_deref(), Some("x"));
    // The same slot again replaces the one there.
    assert!(gateway.insert(node.start(a.clone(), 1)).is_none());
    assert_eq!(slots(&gateway, "a"), [0, 1]);

    assert!(gateway.take_slot("a", 7).is_none());
    assert!(gateway.take_slot("x", 0).is_none());
    let taken = gateway.take_slot("a", 1).expect("slot 1 runs here");
    assert_eq!(
        (taken.config.name.as_str(), taken.slot.fence.slot),
        ("a", 1)
    );
    assert_eq!(slots(&gateway, "a"), [0]);

    // Reordered: the slots stay with their channel.
    gateway.configure(vec![configs[1].clone(), configs[0].clone()]);
    let order: Vec<String> = gateway.configs().iter().map(|c| c.name.clone()).collect();
    assert_eq!(order, ["r", "a"]);
    assert_eq!(slots(&gateway, "a"), [0]);
    assert_eq!(slots(&gateway, "r"), [0]);
    let first = gateway
        .channel_config(None)
        .expect("a channel is configured");
    assert_eq!(first.name, "r");
    assert_eq!(gateway.channel_config(Some("a")).unwrap().name, "a");
    assert!(gateway.channel_config(Some("x")).is_none());

    let named = gateway.take_named(&["a".to_string()]);
    assert_eq!(named.len(), 1);
    assert!(slots(&gateway, "a").is_empty());
    assert_eq!(
        gateway.channels()[1].state,
        ChannelPhase::Standby,
        "a has no slot here now"
    );
    let rest = gateway.take_channels();
    assert_eq!(rest.len(), 1);
    assert!(slots(&gateway, "r").is_empty());
    assert_eq!(
        gateway.configs().len(),
        2,
        "taking slots leaves the channels configured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_is_bound_when_any_slot_is_and_its_slots_add_up() {
    let sim = Simulator::start(SimulatorConfig::loopback(vec![Account::new("a", "pw-a")]))
        .await
        .unwrap();
    let node = Node::new();
    let configs = configs(sim.local_addr().port());
    let gateway = Gateway::new(configs.clone());
    // Slot 0 failed set-up; slot 1 binds to the simulator.
    assert!(gateway
        .insert(node.start(unloadable(&configs[0]), 0))
        .is_none());
    let bound = node.start(configs[0].clone(), 1);
    let mut status = bound.status.clone();
    assert!(gateway.insert(bound).is_none());
    tokio::time::timeout(
        HANG_GUARD,
        status.wait_for(|s| s.state == ChannelState::Bound),
    )
    .await
    .expect("slot 1 binds")
    .unwrap();

    // One message through slot 1: its counters show in the channel's.
    node.plumbing
        .store
        .accept(vec![shared_tests::message("a", true, 1)], SystemTime::now())
        .await
        .unwrap();
    node.wake.send_modify(|n| *n += 1);
    let a = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let a = gateway.channels().remove(0);
            if a.counters.acknowledged == 1 {
                break a;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the message is acknowledged");

    assert_eq!(
        a.state,
        ChannelPhase::Local(ChannelState::Bound),
        "the bound slot's state, though slot 0 comes first"
    );
    assert!(a.bound && a.can_send());
    assert_eq!(a.counters.submitted, 1);
    assert_eq!(a.counters.failed, 0);
    assert_eq!(a.counters.window_size, 10, "both slots' windows");
    assert!(a.seconds_since_bind.is_some(), "slot 1 has bound");
    assert_eq!(
        a.last_error.as_ref().map(|e| e.code),
        Some(SSL_CONTEXT_FAILED),
        "slot 0's error"
    );
    let count = |code| a.failures.iter().find(|(c, _)| *c == code).unwrap().1;
    assert_eq!(count(SSL_CONTEXT_FAILED), 1);
    assert_eq!(count(DRIVER_INIT_FAILED), 1);
    // A channel with a bound slot and a failed one counts in both.
    assert_eq!(
        gateway.summary(),
        "1 of 2 channels bound, 1 failed (see logs: 43010)"
    );

    for channel in gateway.take_channels() {
        channel.stop().await;
    }
    assert_eq!(gateway.channels()[0].state, ChannelPhase::Standby);
    sim.shutdown().await;
}
