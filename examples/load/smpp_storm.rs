//! `load smpp-storm`: a reconnect storm against smppd's SMPP server. One smpp34 transceiver
//! streams submits at `window` (registered_delivery 1, as in `load smpp-server`) while
//! `clients` other clients connect and bind at once, `rounds` times; each bind is checked
//! against an Argon2id hash with the default parameters, on the daemon's blocking pool, two
//! at a time. Reported: how long each storm takes (binds/s), the streaming client's
//! throughput and submit latency before, during and after the storms (a stalled runtime
//! shows as a gap: fewer responses and a p99 or maximum of the stall's length), the daemon's
//! CPU per bind, and one `PasswordHash::verify` timed in this process, stated as messages.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use smpp34::client::BIND_TYPE;
use smppd::password::PasswordHash;
use smppd::secret::Secret;

use crate::smpp_server::{
    bind, loadavg, stream, thread_split, thread_ticks, ServerDaemon, Tracker,
};
use crate::stats::{cpu_ticks_of, median, percentile, TICKS_PER_SECOND};
use crate::{SimProcess, PASSWORD};

/// Flags of `load smpp-storm`.
#[derive(Debug, Args)]
pub struct StormArgs {
    /// Clients binding at once in each round.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Storm rounds (all clients unbind between rounds).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The streaming client's window.
    #[arg(long, default_value_t = 100)]
    window: usize,
    /// Seconds of streaming measured before the first storm and after the last.
    #[arg(long, default_value_t = 3)]
    quiet_seconds: u64,
}

/// Users the storm binds as: `max-binds` is at most 64 per user.
const BINDS_PER_USER: usize = 50;
/// Verifications timed in process.
const VERIFIES: usize = 20;

pub fn run(args: StormArgs) {
    let (verify_us, verify_cpu_us) = verify_cost();
    let sim = SimProcess::start(false);
    let storm_users = args.clients.div_ceil(BINDS_PER_USER);
    let mut users = vec![("stream".to_string(), 4)];
    users.extend((0..storm_users).map(|u| (format!("storm{u}"), 64)));
    let daemon = ServerDaemon::start(&sim, &users);
    let load0 = loadavg();
    let pid = daemon.pid();
    let addr = daemon.smpp;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let quiet = Duration::from_secs(args.quiet_seconds);
    let (streamed, rounds, before, threads, start) = rt.block_on(async {
        let tracker = Arc::new(Tracker::default());
        let (smsc, mut client) = bind(
            addr,
            "stream",
            BIND_TYPE::TRX,
            args.window,
            tracker.clone(),
            Duration::from_secs(30),
        )
        .await
        .expect("the streaming client binds");
        let stop = Arc::new(AtomicBool::new(false));
        let streaming = tokio::spawn(stream(
            smsc.clone(),
            args.window,
            Arc::new(AtomicU64::new(u64::MAX)),
            stop.clone(),
            tracker.clone(),
        ));
        // One second to reach a steady state, then the quiet interval before the storms.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        let ticks0 = cpu_ticks_of(pid);
        tokio::time::sleep(quiet).await;
        let before = (Instant::now(), cpu_ticks_of(pid) - ticks0);
        let threads0 = thread_ticks(pid);
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let ticks = cpu_ticks_of(pid);
            let t0 = Instant::now();
            let binds: Vec<_> = (0..args.clients)
                .map(|i| {
                    let tracker = Arc::new(Tracker::default());
                    let system_id = format!("storm{}", i / BINDS_PER_USER);
                    tokio::spawn(async move {
                        let bound = bind(
                            addr,
                            &system_id,
                            BIND_TYPE::TX,
                            1,
                            tracker,
                            Duration::from_secs(120),
                        )
                        .await;
                        (bound, Instant::now())
                    })
                })
                .collect();
            let mut clients = Vec::new();
            let mut last = t0;
            let mut failed = 0;
            for b in binds {
                match b.await.expect("bind task") {
                    (Some(c), at) => {
                        last = last.max(at);
                        clients.push(c);
                    }
                    (None, _) => failed += 1,
                }
            }
            let cpu = cpu_ticks_of(pid) - ticks;
            eprintln!(
                "round {}: {} bound, {failed} failed in {:.2} s",
                round + 1,
                clients.len(),
                (last - t0).as_secs_f64()
            );
            rounds.push(Round {
                from: t0,
                to: last,
                bound: clients.len(),
                failed,
                cpu_ticks: cpu,
            });
            for (smsc, mut client) in clients {
                let _ = tokio::time::timeout(Duration::from_secs(2), smsc.send_unbind()).await;
                client.stop().await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let threads = thread_split(&threads0, &thread_ticks(pid));
        tokio::time::sleep(quiet).await;
        stop.store(true, Ordering::Relaxed);
        let streamed = streaming.await.expect("stream");
        let _ = tokio::time::timeout(Duration::from_secs(2), smsc.send_unbind()).await;
        client.stop().await;
        (streamed, rounds, before, threads, start)
    });
    let load1 = loadavg();

    // The stream's responses by phase: before the first storm, during a storm, after the last.
    let (before_end, before_ticks) = before;
    let storm_end = rounds.last().map_or(before_end, |r| r.to) + Duration::from_secs(2);
    let phase = |from: Instant, to: Instant| -> Phase {
        let mut lat: Vec<u32> = streamed
            .responses
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, us)| *us)
            .collect();
        lat.sort_unstable();
        Phase {
            seconds: (to - from).as_secs_f64(),
            latencies: lat,
        }
    };
    let quiet_before = phase(start, before_end);
    let during: Phase =
        rounds
            .iter()
            .map(|r| phase(r.from, r.to))
            .fold(Phase::default(), |mut a, p| {
                a.seconds += p.seconds;
                a.latencies.extend(p.latencies);
                a
            });
    let mut during = during;
    during.latencies.sort_unstable();
    let last_response = streamed.responses.iter().map(|(at, _)| *at).max();
    let quiet_after = phase(storm_end, last_response.unwrap_or(storm_end));
    // The largest gap between two responses of the stream in each phase: a stall shows here.
    let mut arrivals: Vec<Instant> = streamed.responses.iter().map(|(at, _)| *at).collect();
    arrivals.sort_unstable();
    let gap = |from: Instant, to: Instant| -> f64 {
        arrivals
            .windows(2)
            .filter(|w| w[0] >= from && w[1] < to)
            .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
            .fold(0.0, f64::max)
    };
    let gap_during = rounds.iter().map(|r| gap(r.from, r.to)).fold(0.0, f64::max);

    let before_us_per_msg =
        before_ticks as f64 / TICKS_PER_SECOND * 1e6 / quiet_before.latencies.len().max(1) as f64;
    println!(
        "\n### SMPP server: a reconnect storm of {} binds ({} rounds) while one client streams at window {} (load average {} → {})\n",
        args.clients, args.rounds, args.window, load0, load1
    );
    println!("| round | bound | failed | storm s | binds/s | daemon CPU s | daemon CPU ms per bind (stream's share taken off) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (i, r) in rounds.iter().enumerate() {
        let seconds = (r.to - r.from).as_secs_f64();
        let cpu_s = r.cpu_ticks as f64 / TICKS_PER_SECOND;
        let stream_msgs = phase(r.from, r.to).latencies.len() as f64;
        let stream_s = stream_msgs * before_us_per_msg / 1e6;
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.1} |",
            i + 1,
            r.bound,
            r.failed,
            seconds,
            r.bound as f64 / seconds,
            cpu_s,
            (cpu_s - stream_s).max(0.0) * 1000.0 / r.bound.max(1) as f64
        );
    }
    println!(
        "\nThe streaming client (window {}), submit_sm_resp:\n",
        args.window
    );
    println!("| phase | seconds | responses/s | p50 µs | p99 µs | max µs | longest gap between responses ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, p, g) in [
        ("before the storms", &quiet_before, gap(start, before_end)),
        ("during the storms", &during, gap_during),
        (
            "after the storms",
            &quiet_after,
            gap(storm_end, last_response.unwrap_or(storm_end)),
        ),
    ] {
        println!(
            "| {name} | {:.2} | {:.0} | {} | {} | {} | {:.1} |",
            p.seconds,
            p.latencies.len() as f64 / p.seconds.max(1e-9),
            percentile(&p.latencies, 50.0),
            percentile(&p.latencies, 99.0),
            p.latencies.last().copied().unwrap_or(0),
            g
        );
    }
    println!(
        "\nStream: {} errors, {} throttled. Daemon CPU by thread over the storms:\n",
        streamed.errors, streamed.throttled
    );
    let total: u64 = threads.iter().map(|(_, t)| t).sum();
    println!("| thread | CPU s | share |");
    println!("|---|---:|---:|");
    for (name, t) in &threads {
        println!(
            "| {name} | {:.2} | {:.0} % |",
            *t as f64 / TICKS_PER_SECOND,
            *t as f64 * 100.0 / total.max(1) as f64
        );
    }
    let binds: usize = rounds.iter().map(|r| r.bound).sum();
    let pool_ticks: u64 = threads
        .iter()
        .filter(|(name, _)| name.ends_with("(started since)"))
        .map(|(_, t)| t)
        .sum();
    let pool_us = pool_ticks as f64 / TICKS_PER_SECOND * 1e6 / binds.max(1) as f64;
    println!(
        "\nOne `PasswordHash::verify` (default parameters, m=19456 KiB t=2 p=1), in process, {VERIFIES} times: \
         median {:.1} ms wall, {:.1} ms CPU on average. In the daemon, the threads started during the storms \
         (the blocking pool) used {:.1} ms of CPU per bind. \
         The daemon's CPU per streamed message before the storms: {before_us_per_msg:.1} µs. \
         One bind costs as much CPU as {:.0} messages (by the in-process CPU time; {:.0} by the blocking pool's).",
        verify_us / 1000.0,
        verify_cpu_us / 1000.0,
        pool_us / 1000.0,
        verify_cpu_us / before_us_per_msg,
        pool_us / before_us_per_msg
    );
    println!(
        "\nReproduce: `cargo build --release --bin smppd --example load && target/release/examples/load smpp-storm --clients {} --rounds {} --window {} --quiet-seconds {}`",
        args.clients, args.rounds, args.window, args.quiet_seconds
    );
}

struct Round {
    from: Instant,
    to: Instant,
    bound: usize,
    failed: usize,
    cpu_ticks: u64,
}

#[derive(Default)]
struct Phase {
    seconds: f64,
    latencies: Vec<u32>,
}

/// [`VERIFIES`] password checks with the parameters users' hashes have: the median wall
/// time and the mean CPU time of this thread, µs.
fn verify_cost() -> (f64, f64) {
    let password = Secret::new(PASSWORD);
    let hash = PasswordHash::parse(&PasswordHash::hash(&password).expect("hash")).expect("parse");
    let cpu0 = thread_cpu_ticks();
    let times: Vec<f64> = (0..VERIFIES)
        .map(|_| {
            let t = Instant::now();
            assert!(hash.verify(&password));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let cpu = (thread_cpu_ticks() - cpu0) as f64 / TICKS_PER_SECOND * 1e6 / VERIFIES as f64;
    (median(times), cpu)
}

/// This thread's CPU time in clock ticks.
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}
