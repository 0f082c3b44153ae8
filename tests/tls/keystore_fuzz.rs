//! Keystore files are hostile input: arbitrary bytes, and damaged real files, must give an
//! error, never a panic or a hang.

use std::path::Path;

use proptest::prelude::*;
use smppd::secret::Secret;
use smppd::transport::keystore::{inspect, Keystore};

const LEGACY: &[u8] = include_bytes!("../../certs/dev/client-legacy.p12");
const MODERN: &[u8] = include_bytes!("../../certs/dev/client.p12");

fn try_load(data: &[u8]) -> bool {
    let pw = Secret::new("changeit");
    Keystore::from_pkcs12_der(data, Path::new("fuzz.p12"), &pw, &pw).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_an_error(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(!try_load(&data));
    }

    #[test]
    fn der_shaped_bytes_are_an_error(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        // A SEQUENCE header in front gets the bytes past the first check.
        let mut data = vec![0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8];
        data.extend(body);
        prop_assert!(!try_load(&data));
    }

    #[test]
    fn damaged_real_files_never_panic(
        which in any::<bool>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let original = if which { LEGACY } else { MODERN };
        let mut data = original.to_vec();
        let i = at.index(data.len());
        data[i] = byte;
        let _ = try_load(&data);
        data.truncate(cut.index(data.len()));
        let _ = try_load(&data);
    }
}

#[test]
fn inspect_survives_junk_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.p12");
    std::fs::write(&path, [0x30, 0x03, 0x02, 0x01, 0x03]).unwrap();
    let pw = Secret::new("x");
    let report = inspect(&path, Some(&pw), Some(&pw), std::time::SystemTime::now());
    assert_eq!(
        report.error.map(|e| e.reason()),
        Some("keystore_not_pkcs12")
    );
}
