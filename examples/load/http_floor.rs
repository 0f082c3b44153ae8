//! `load http-floor`: what one `POST /v1/messages` costs before smppd does anything with the
//! message. A server process built from smppd's own HTTP pieces — the API's connection
//! handling ([`smppd::daemon::api::serve_with`]), axum, the request parser
//! ([`smppd::daemon::api::request::parse`]) and the 202 answer's body — answers every
//! request at once: no bearer check, no routing, no segmenting, no store, no SMSC. It runs
//! on the system allocator where smppd runs on mimalloc; either way the figures were the
//! same (10.1–11.7 µs per request on the 2-core VM of docs/performance.md). The same client as
//! `load http` (the same connections, body and counting) drives it, so the server's CPU per
//! request is the floor under `load http`'s daemon figure, and the client's own CPU per
//! request is the share of the machine that the client takes in both.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clap::Args;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use smppd::daemon::api::{request, AcceptedBody};

use crate::http::{post_all, HttpClient, Mode};
use crate::stats::{cpu_ticks, cpu_ticks_of, median, peak_rss_kib, percentile, TICKS_PER_SECOND};

/// Flags of `load http-floor`.
#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Requests per run.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) count: u64,
    /// Concurrent requests (each on its own keep-alive connection).
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Runs; the table shows each and their medians.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
}

/// A request body may not be larger than this (the daemon's `max-body-bytes` defaults to
/// 4 MiB; the load tool's body is 63 bytes).
const MAX_BODY: usize = 64 * 1024;

/// `load http-floor`: starts the floor server as a child process and drives it.
pub fn run(args: FloorArgs) {
    let server = FloorServer::start();
    let addr = server.addr.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "\n### The HTTP floor: `POST /v1/messages` answered 202 at once (no store, no SMSC)\n"
    );
    println!("| run | requests | concurrency | requests/s | request p50 / p99 ms | server CPU µs/request | client CPU µs/request | server peak RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rates = Vec::new();
    let mut server_cpu = Vec::new();
    let mut client_cpu = Vec::new();
    for run in 1..=args.repeat {
        let (s0, c0) = (server.cpu_ticks(), cpu_ticks());
        let posted = rt.block_on(async {
            let client: HttpClient = Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(args.concurrency)
                .build_http();
            post_all(
                &client,
                std::slice::from_ref(&addr),
                Mode::Single,
                args.count,
                args.concurrency,
            )
            .await
        });
        let (s1, c1) = (server.cpu_ticks(), cpu_ticks());
        assert_eq!(
            posted.accepted, args.count,
            "the floor server refused requests"
        );
        let per = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / posted.accepted as f64;
        let mut latencies = posted.latencies_us;
        latencies.sort_unstable();
        let ms = |p: f64| f64::from(percentile(&latencies, p)) / 1000.0;
        let rate = posted.accepted as f64 / posted.api_seconds;
        println!(
            "| {run} | {} | {} | {rate:.0} | {:.2} / {:.2} | {:.1} | {:.1} | {:.1} |",
            posted.accepted,
            args.concurrency,
            ms(50.0),
            ms(99.0),
            per(s1 - s0),
            per(c1 - c0),
            peak_rss_kib(server.child.id()) as f64 / 1024.0,
        );
        rates.push(rate);
        server_cpu.push(per(s1 - s0));
        client_cpu.push(per(c1 - c0));
    }
    println!(
        "| median | | | {:.0} | | {:.1} | {:.1} | |",
        median(rates),
        median(server_cpu),
        median(client_cpu)
    );
    drop(server);
    println!(
        "\nReproduce: `cargo build --release --bin smppd --example load && target/release/examples/load http-floor --count {} --concurrency {} --repeat {}`",
        args.count, args.concurrency, args.repeat
    );
}

/// This program as `load http-floor-server`; killed when dropped, also when a run fails.
struct FloorServer {
    child: Child,
    /// Where it listens, as it printed it.
    addr: String,
}

impl FloorServer {
    /// Starts the server and waits for the address it listens on.
    fn start() -> FloorServer {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("http-floor-server")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the floor server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("the floor server's address");
        let addr = line.trim().to_owned();
        let server = FloorServer { child, addr };
        assert!(
            !server.addr.is_empty(),
            "the floor server printed no address"
        );
        server
    }

    fn cpu_ticks(&self) -> u64 {
        cpu_ticks_of(self.child.id())
    }
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `load http-floor-server`: serves `POST /v1/messages` on a free loopback port, printing
/// the address first, until killed. The runtime is built as `smppd run` builds its own.
pub fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .route("/v1/messages", axum::routing::post(accept))
            .with_state(Arc::new(AtomicU64::new(0)));
        smppd::daemon::api::serve_with(
            listener,
            app,
            std::future::pending(),
            smppd::daemon::api::HEADER_TIMEOUT,
        )
        .await
        .expect("serve");
    });
}

/// Reads and checks the body as the daemon does, then answers 202 with the daemon's body.
async fn accept(State(next): State<Arc<AtomicU64>>, body: axum::body::Body) -> Response {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let Ok(bytes) = limited.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if request::parse(&value).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let id = next.fetch_add(1, Ordering::Relaxed);
    let body = AcceptedBody {
        id: format!("{id:032x}"),
        segments: 1,
        channel: "load".to_owned(),
        encoding: "gsm7".to_owned(),
        data_coding: 0,
    };
    (StatusCode::ACCEPTED, Json(body)).into_response()
}
