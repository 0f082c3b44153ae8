//! PostgreSQL for tests: the server named by `SMPPD_TEST_POSTGRES_URL`, and a throw-away
//! schema per test so that tests run in parallel on one database.
//!
//! Without the variable a PostgreSQL test prints a loud notice and passes (a developer
//! without a server still runs everything else); with `CI` set it fails instead, so CI
//! cannot skip the PostgreSQL tests unnoticed. `.ci/postgres` sets the variable up.
//!
//! `pg_tls_proxy` puts a TLS-terminating proxy in front of the server (whose own TLS the
//! tests do not rely on); `pg_upstream` is how the proxies reach it.

use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the test server (a URL without a password, trust or peer auth).
pub const URL_VARIABLE: &str = "SMPPD_TEST_POSTGRES_URL";

/// The test server's URL; `None` (after saying so loudly) when it is not set outside CI.
///
/// # Panics
/// When it is not set and `CI` is: CI must run the PostgreSQL tests.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(
                !ci,
                "{test}: {URL_VARIABLE} is not set, and CI is: the PostgreSQL tests must run \
                 (.ci/postgres sets it up)"
            );
            // Once per test, straight to the standard error (the test harness captures
            // `eprintln!` of passing tests, and a skip must not go unseen).
            static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
            let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
            if !said.iter().any(|t| t == test) {
                said.push(test.to_string());
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!(
                        "\n*** SKIPPED {test}: set {URL_VARIABLE} \
                         (e.g. postgres://postgres@127.0.0.1/test) to run the PostgreSQL tests ***\n"
                    )
                    .as_bytes(),
                );
            }
            None
        }
    }
}

/// A schema created for one test and dropped when this is dropped (also when the test
/// panics). [`TestSchema::url`] makes it the connection's `search_path`.
pub struct TestSchema {
    server: String,
    name: String,
}

/// Runs `sql` (several statements allowed) on the server at `url` and returns the first
/// column of the first row, as text. A runtime of its own on a thread of its own: usable from
/// sync code, from a test's runtime and from `Drop` alike.
pub fn query_text(url: &str, sql: &str) -> Option<String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
                let task = tokio::spawn(conn);
                let rows = client
                    .simple_query(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                drop(client);
                let _ = task.await;
                rows.into_iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
            })
        })
        .join()
        .expect("the PostgreSQL helper thread")
    })
}

/// Runs `sql` (several statements allowed) on the server at `url`.
pub fn execute(url: &str, sql: &str) {
    query_text(url, sql);
}

impl TestSchema {
    /// A fresh, empty schema on the test server; `None` when the tests are skipped.
    pub fn create(test: &str) -> Option<TestSchema> {
        static N: AtomicU64 = AtomicU64::new(0);
        let server = server_url(test)?;
        let name = format!(
            "smppd_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        execute(&server, &format!("CREATE SCHEMA {name}"));
        Some(TestSchema { server, name })
    }

    /// The server's URL, as `SMPPD_TEST_POSTGRES_URL` gives it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL with this schema as the search path.
    pub fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.server, self.name
        )
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let server = self.server.clone();
        // Not from a panicking helper: a failed drop leaves a schema behind, nothing worse.
        let _ = std::panic::catch_unwind(|| execute(&server, &sql));
    }
}
