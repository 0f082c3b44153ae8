//! TLS 1.1 through OpenSSL (feature `tls11`) against `openssl s_server -tls1_1`.
//! The `openssl` command is required: CI installs it, and a missing one fails these tests.
#![cfg(feature = "tls11")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::hang_guard::HANG_GUARD;
use crate::support::pki::{Leaf, Pki};
use crate::support::tls_server::*;
use smppd::transport::{TlsMode, TlsVersion, TLS11_CIPHERS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An `openssl s_server` child, killed when dropped.
struct SServer {
    child: Child,
    dir: PathBuf,
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write PEM");
    path
}

/// Starts `openssl s_server` pinned to TLS 1.1 and waits until it accepts.
fn s_server(pki: &Pki, leaf: &Leaf, tag: &str, extra: &[&str]) -> (SServer, u16) {
    let dir = std::env::temp_dir().join(format!("smppd-tls11-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cert = write(&dir, "cert.pem", &leaf.cert_pem);
    let key = write(&dir, "key.pem", &leaf.key_pem);
    let ca = write(&dir, "ca.pem", &pki.ca.cert_pem);
    // A free port for s_server.
    let port = crate::support::ports::closed_port().port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-tls1_1", "-cipher", TLS11_CIPHERS, "-www"])
        .arg("-accept")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .arg("-CAfile")
        .arg(&ca)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "the `openssl` command is required for the TLS 1.1 tests (apt-get install openssl)",
        );
    let stdout = child.stdout.take().expect("stdout");
    let server = SServer { child, dir };
    // s_server prints ACCEPT once it listens.
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("ACCEPT") => break,
            Some(Ok(_)) => continue,
            other => panic!("openssl s_server did not start: {other:?}"),
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, port)
}

#[tokio::test]
async fn single_tls11_against_openssl_s_server() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki, &pki.server, "single", &[]);
    let mut c = connect_host(&single(&pki, TlsVersion::V1_1), "127.0.0.1", port)
        .await
        .expect("TLS 1.1 handshake");
    assert_eq!(c.stream.tls_version(), Some(TlsVersion::V1_1));
    assert_eq!(c.stream.mode(), TlsMode::Single);
    // The SMSC's leaf, for the expiry metrics.
    assert_eq!(c.peer_certificate.as_ref(), Some(&pki.server.cert));
    assert_eq!(www_get(&mut c.stream).await, "HTTP/1.0 200 ok");
}

#[tokio::test]
async fn mutual_tls11_presents_our_certificate() {
    let pki = Pki::new();
    let (_server, port) = s_server(
        &pki,
        &pki.server,
        "mutual",
        &["-Verify", "1", "-verify_return_error"],
    );
    let mut c = connect_host(
        &mutual(&pki, &pki.client, TlsVersion::V1_1),
        "127.0.0.1",
        port,
    )
    .await
    .expect("TLS 1.1 mutual handshake");
    assert_eq!(c.stream.mode(), TlsMode::Mutual);
    assert_eq!(www_get(&mut c.stream).await, "HTTP/1.0 200 ok");
}

/// Asks `s_server -www` for its status page; returns the status line.
async fn www_get(stream: &mut smppd::transport::Stream) -> String {
    stream
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    stream.flush().await.expect("flush");
    let mut page = Vec::new();
    // -www answers and closes, so read to the end.
    let _ = tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut page))
        .await
        .expect("hang guard");
    let page = String::from_utf8_lossy(&page);
    page.lines().next().unwrap_or_default().trim().to_owned()
}

#[tokio::test]
async fn tls11_does_not_trust_a_server_from_another_ca() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki, &pki.foreign_server, "foreign", &[]);
    let err = connect_host(&single(&pki, TlsVersion::V1_1), "127.0.0.1", port)
        .await
        .expect_err("untrusted");
    assert_failure(
        err,
        "server_cert_untrusted",
        "No trusted certificate found (unknown issuer)",
    );
}

#[tokio::test]
async fn tls11_is_refused_by_a_tls12_only_server() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, false), After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_1), addr)
        .await
        .expect_err("no common version");
    assert_failure(err, "tls_version_unsupported", "does not accept TLS 1.1");
}

#[tokio::test]
async fn tls12_is_refused_by_a_tls11_only_server() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki, &pki.server, "v12", &[]);
    let err = connect_host(&single(&pki, TlsVersion::V1_2), "127.0.0.1", port)
        .await
        .expect_err("no common version");
    assert_failure(err, "tls_version_unsupported", "does not accept TLS 1.2");
}

#[tokio::test]
async fn tls11_honours_the_server_name_override_and_trust_all() {
    let pki = Pki::new();
    let (_named, port) = s_server(&pki, &pki.named_server, "named", &[]);
    let mut settings = single(&pki, TlsVersion::V1_1);
    if let smppd::transport::TlsSettings::Single { options, .. } = &mut settings {
        options.server_name = Some("smsc.example".into());
    }
    let mut c = connect_host(&settings, "127.0.0.1", port)
        .await
        .expect("verified via the override");
    assert_eq!(www_get(&mut c.stream).await, "HTTP/1.0 200 ok");

    let (_foreign, port) = s_server(&pki, &pki.foreign_server, "trustall", &[]);
    let mut settings = single(&pki, TlsVersion::V1_1);
    if let smppd::transport::TlsSettings::Single { options, .. } = &mut settings {
        options.trust_all = true;
    }
    let c = connect_host(&settings, "127.0.0.1", port)
        .await
        .expect("trust_all connects");
    assert_eq!(c.warning, Some(smppd::transport::TRUST_ALL_WARNING));
}

#[tokio::test]
async fn tls11_wrong_host_name_is_not_trusted() {
    let pki = Pki::new();
    let (_server, port) = s_server(&pki, &pki.named_server, "wrongname", &[]);
    let err = connect_host(&single(&pki, TlsVersion::V1_1), "127.0.0.1", port)
        .await
        .expect_err("wrong name");
    assert_failure(err, "server_cert_untrusted", "wrong host name");
}

#[tokio::test]
async fn tls11_rejection_of_our_certificate() {
    let pki = Pki::new();
    let (_server, port) = s_server(
        &pki,
        &pki.server,
        "reject",
        &["-Verify", "1", "-verify_return_error"],
    );
    let err = connect_host(
        &mutual(&pki, &pki.foreign_client, TlsVersion::V1_1),
        "127.0.0.1",
        port,
    )
    .await
    .expect_err("rejected");
    assert_failure(
        err,
        "client_cert_rejected",
        smppd::supervisor::CERT_REJECTED_TEXT,
    );
}
