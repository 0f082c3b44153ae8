//! Feeds arbitrary bytes to the framer in arbitrary chunks, decodes every frame, and checks
//! that each decoded PDU re-encodes to exactly the octets it came from.
//!
//! The first input octet chooses the chunk size (1..=256) so that partial reads, headers split
//! across reads and many PDUs per read are all exercised.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppd::codec::{Framer, Pdu};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk) + 1;
    // A small limit so that length errors are reached often.
    let framer = Framer::new(4096);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut consumed = 0;
    'feed: for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match framer.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let len = frame.header.command_length as usize;
                    let original = &stream[consumed..consumed + len];
                    consumed += len;
                    let by_ref = Pdu::decode(&frame);
                    assert_eq!(by_ref, frame.clone().into_pdu(), "decode and decode_owned disagree");
                    if let Ok(pdu) = by_ref {
                        let mut out = BytesMut::new();
                        pdu.encode(frame.header.sequence_number, frame.header.command_status, &mut out)
                            .expect("a decoded PDU must encode");
                        assert_eq!(&out[..], original, "re-encoding changed the PDU: {pdu:?}");
                    }
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
        assert_eq!(consumed + buf.len(), fed, "the framer lost or invented octets");
    }
});
