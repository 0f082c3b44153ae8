//! TLS behaviour of the simulator: versions, client-certificate requirement, and the
//! close-after-handshake fault, observed from a client over loopback.

use crate::support::hang_guard::HANG_GUARD;
use crate::support::simulator::pki::{server_name, PemFiles};
use smppd::simulator::{Account, Faults, Simulator, SimulatorConfig, TlsVersions};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

fn config(pki: &PemFiles, mutual: bool, versions: TlsVersions) -> SimulatorConfig {
    let mut c = SimulatorConfig::loopback(vec![Account::new("esme", "pw")]);
    c.tls = Some(pki.server(mutual, versions));
    c
}

#[tokio::test]
async fn the_offered_tls_version_is_the_one_negotiated() {
    let pki = PemFiles::new();
    for (versions, expected) in [
        (TlsVersions::Tls12, rustls::ProtocolVersion::TLSv1_2),
        (TlsVersions::Tls13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let sim = Simulator::start(config(&pki, false, versions))
            .await
            .unwrap();
        let tcp = TcpStream::connect(sim.local_addr()).await.unwrap();
        let tls = timeout(HANG_GUARD, pki.connector(false).connect(server_name(), tcp))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(expected));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let pki = PemFiles::new();
    let sim = Simulator::start(config(&pki, true, TlsVersions::Both))
        .await
        .unwrap();

    // With a certificate the session stays up (the server waits for a PDU).
    let tcp = TcpStream::connect(sim.local_addr()).await.unwrap();
    let ok = timeout(HANG_GUARD, pki.connector(true).connect(server_name(), tcp)).await;
    assert!(ok.unwrap().is_ok());

    // Without one, TLS 1.3 lets the client finish its side of the handshake; the server's
    // refusal then arrives as an alert on the first read.
    let tcp = TcpStream::connect(sim.local_addr()).await.unwrap();
    let refused = match timeout(HANG_GUARD, pki.connector(false).connect(server_name(), tcp))
        .await
        .unwrap()
    {
        Err(_) => true,
        Ok(mut tls) => {
            let mut buf = [0u8; 16];
            matches!(
                timeout(HANG_GUARD, tls.read(&mut buf)).await.unwrap(),
                Err(_) | Ok(0)
            )
        }
    };
    assert!(refused, "a client without a certificate got a session");
    sim.shutdown().await;
}

#[tokio::test]
async fn close_after_handshake_completes_tls_then_hangs_up() {
    let pki = PemFiles::new();
    let mut c = config(&pki, false, TlsVersions::Both);
    c.faults = Faults {
        close_after_handshake: true,
        ..Faults::default()
    };
    let sim = Simulator::start(c).await.unwrap();
    let tcp = TcpStream::connect(sim.local_addr()).await.unwrap();
    let mut tls = timeout(HANG_GUARD, pki.connector(false).connect(server_name(), tcp))
        .await
        .unwrap()
        .expect("the handshake itself succeeds");
    let mut buf = [0u8; 16];
    let n = timeout(HANG_GUARD, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the simulator should close without sending anything");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_pem_file_is_a_start_error_naming_it() {
    let pki = PemFiles::new();
    let mut c = config(&pki, false, TlsVersions::Both);
    if let Some(tls) = c.tls.as_mut() {
        tls.private_key = pki.dir.join("missing.key");
    }
    let err = Simulator::start(c).await.unwrap_err().to_string();
    assert!(err.contains("missing.key"), "{err}");
}
