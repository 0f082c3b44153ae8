//! What the SMSC side saw, read from the record files (`smppd simulate --record-file`) of
//! every simulator process the soak started, incrementally: each call reads only the lines
//! appended since the last one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use serde_json::Value;
use smppd::sms::{self, Coding, ESM_CLASS_UDHI};

/// Which simulator process (its start order) and which of its connections.
pub type Link = (u32, u64);

/// One accepted submit_sm of a segment.
#[derive(Debug, Clone)]
pub struct Copy {
    /// Where it was accepted.
    pub link: Link,
    /// The message id the SMSC gave it.
    pub smsc_id: String,
}

/// One segment of one message, as the SMSC accepted it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every accepted copy, in the order they arrived.
    pub copies: Vec<Copy>,
    /// The decoded text of the first copy (after the UDH).
    pub text: String,
    /// The segment count its UDH names (1 without one).
    pub total: u8,
}

/// The simulators' records, folded.
#[derive(Debug, Default)]
pub struct Ledger {
    files: Vec<(PathBuf, u32, u64)>,
    /// Accepted segments by (message number, 1-based segment number).
    pub segments: HashMap<(u32, u8), Seen>,
    /// The segment each SMSC message id was given to.
    pub by_smsc_id: HashMap<String, (u32, u8)>,
    /// SMSC ids whose receipt was answered ESME_ROK.
    pub receipts_acked: HashSet<String>,
    /// Receipt deliver_sm sent (first sends and re-sends).
    pub receipts_sent: u64,
    /// Receipt deliver_sm answered with an error status.
    pub receipts_refused: u64,
    /// MO deliver_sm sent.
    pub mo_sent: u64,
    /// MO texts answered ESME_ROK.
    pub mo_acked: HashSet<String>,
    /// MO deliver_sm answered with an error status.
    pub mo_refused: u64,
    /// submit_sm by outcome (accepted, throttled, withheld, dropped, rejected).
    pub outcomes: BTreeMap<String, u64>,
    /// Connections by the reason they closed (killed processes write none).
    pub closes: BTreeMap<String, u64>,
    /// Successful binds.
    pub binds: u64,
    /// Accepted copies whose bytes differ from the first copy of the same segment.
    pub differing_copies: u64,
    /// Submits to numbers this run did not send to, or that do not decode.
    pub foreign: u64,
    /// Lines that do not parse (a process killed in the middle of a write).
    pub unreadable: u64,
}

impl Ledger {
    /// Starts following the record file of simulator process `process`.
    pub fn follow(&mut self, path: PathBuf, process: u32) {
        self.files.push((path, process, 0));
    }

    /// Reads every complete line appended since the last call.
    pub fn update(&mut self) {
        let mut files = std::mem::take(&mut self.files);
        for (path, process, offset) in &mut files {
            let Ok(mut file) = std::fs::File::open(&*path) else {
                continue;
            };
            if file.seek(SeekFrom::Start(*offset)).is_err() {
                continue;
            }
            let mut buf = Vec::new();
            if file.read_to_end(&mut buf).is_err() {
                continue;
            }
            // Only complete lines: a partial last one is read again next time.
            let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            for line in buf[..end].split(|&b| b == b'\n') {
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => self.line(*process, &v),
                    Err(_) => self.unreadable += 1,
                }
            }
            *offset += end as u64 + 1;
        }
        self.files = files;
    }

    fn line(&mut self, process: u32, v: &Value) {
        let connection = v["connection"].as_u64().unwrap_or(0);
        match v["event"].as_str().unwrap_or("") {
            "bind" if v["command_status"] == 0 => self.binds += 1,
            "submit" => {
                let outcome = v["outcome"].as_str().unwrap_or("?");
                *self.outcomes.entry(outcome.to_owned()).or_default() += 1;
                if outcome == "accepted" {
                    self.accepted(process, connection, v);
                }
            }
            "deliver_sent" => match v["kind"].as_str() {
                Some("receipt") => self.receipts_sent += 1,
                Some("mo") => self.mo_sent += 1,
                _ => {}
            },
            "deliver_answered" => {
                let ok = v["command_status"] == 0;
                match v["kind"].as_str() {
                    Some("receipt") if ok => {
                        let id = v["message_id"].as_str().unwrap_or("").to_owned();
                        self.receipts_acked.insert(id);
                    }
                    Some("receipt") => self.receipts_refused += 1,
                    Some("mo") if ok => {
                        let octets = unhex(v["short_message"].as_str().unwrap_or(""));
                        self.mo_acked
                            .insert(String::from_utf8_lossy(&octets).into_owned());
                    }
                    Some("mo") => self.mo_refused += 1,
                    _ => {}
                }
            }
            "closed" => {
                let reason = v["reason"].as_str().unwrap_or("?").to_owned();
                *self.closes.entry(reason).or_default() += 1;
            }
            _ => {}
        }
    }

    fn accepted(&mut self, process: u32, connection: u64, v: &Value) {
        let Some(number) = v["destination_addr"]
            .as_str()
            .and_then(super::load::message_number)
        else {
            self.foreign += 1;
            return;
        };
        let octets = unhex(v["short_message"].as_str().unwrap_or(""));
        let esm_class = v["esm_class"].as_u64().unwrap_or(0) as u8;
        let (segment, total, payload) = if esm_class & ESM_CLASS_UDHI != 0 {
            match sms::parse_udh(&octets) {
                Ok((Some(c), payload)) => (c.seqnum, c.total, payload),
                _ => {
                    self.foreign += 1;
                    return;
                }
            }
        } else {
            (1, 1, &octets[..])
        };
        let text = match v["data_coding"].as_u64() {
            Some(0) => sms::decode(payload, Coding::Gsm7),
            Some(8) => sms::decode(payload, Coding::Ucs2),
            _ => Ok(String::from_utf8_lossy(payload).into_owned()),
        }
        .unwrap_or_else(|_| String::from_utf8_lossy(payload).into_owned());
        let smsc_id = v["message_id"].as_str().unwrap_or("").to_owned();
        self.by_smsc_id.insert(smsc_id.clone(), (number, segment));
        let seen = self.segments.entry((number, segment)).or_default();
        if seen.copies.is_empty() {
            seen.text = text;
            seen.total = total;
        } else if seen.text != text || seen.total != total {
            self.differing_copies += 1;
        }
        seen.copies.push(Copy {
            link: (process, connection),
            smsc_id,
        });
    }
}

/// Lower-case or upper-case hex to octets; anything else is dropped.
fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .filter_map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}
