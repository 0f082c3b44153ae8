//! The record as a file: every [`Event`] appended as one JSON line, for runs that outlive
//! the process (`smppd simulate --record-file`). A soak test that kills and restarts the
//! simulator reads what each process received from these files, not from memory.
//!
//! A line is written before the answer it records leaves the simulator (a submit_sm's line
//! before its submit_sm_resp, a deliver_sm's before the PDU), with one `write` call and no
//! buffering in the process: once a client has seen an answer, its line is in the kernel's
//! page cache and survives the simulator being killed.
//!
//! Line format (fields in this order; octet strings as lower-case hex):
//!
//! ```text
//! {"event":"connected","at_ms":..,"connection":1,"peer":"127.0.0.1:40000"}
//! {"event":"bind","at_ms":..,"connection":1,"system_id":"esme","mode":"transceiver","command_status":0}
//! {"event":"submit","at_ms":..,"connection":1,"sequence_number":2,"system_id":"esme",
//!  "source_addr":"1000","destination_addr":"2000","esm_class":64,"data_coding":0,
//!  "registered_delivery":1,"short_message":"050003..","outcome":"accepted","message_id":"10000000"}
//! {"event":"deliver_sent","at_ms":..,"connection":1,"sequence_number":1,"kind":"receipt",
//!  "message_id":"10000000","short_message":"69643a.."}
//! {"event":"deliver_answered", ... same fields ..., "command_status":0}
//! {"event":"closed","at_ms":..,"connection":1,"reason":"client_closed"}
//! ```
//!
//! `outcome` is `accepted`, `throttled`, `withheld`, `dropped` or `rejected` (then with
//! `command_status`); `kind` is `receipt` (with the receipted `message_id`) or `mo`.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::record::{BindMode, DeliverKind, DeliverRecord, Event, SubmitOutcome};

/// An open record file.
#[derive(Debug)]
pub(crate) struct Journal {
    file: Mutex<File>,
    /// Set after the first failed write, so that a full disk logs one warning, not one per
    /// event.
    failed: std::sync::atomic::AtomicBool,
}

impl Journal {
    /// Opens `path` for appending, creating it if needed.
    pub(crate) fn open(path: &Path) -> std::io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file: Mutex::new(file),
            failed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Appends `event` as one line.
    pub(crate) fn append(&self, event: &Event) {
        let mut line = match serde_json::to_string(&Line::of(event, SystemTime::now())) {
            Ok(l) => l,
            // Only strings and numbers go in; serialising them cannot fail.
            Err(_) => return,
        };
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(line.as_bytes()) {
            if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    event = "simulator_record_file_failed",
                    error = %e,
                    "simulator cannot append to its record file; the file is incomplete"
                );
            }
        }
    }
}

/// One line of the file.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line<'a> {
    Connected {
        at_ms: u64,
        connection: u64,
        peer: String,
    },
    Bind {
        at_ms: u64,
        connection: u64,
        system_id: &'a str,
        mode: &'static str,
        command_status: u32,
    },
    Submit {
        at_ms: u64,
        connection: u64,
        sequence_number: u32,
        system_id: &'a str,
        source_addr: &'a str,
        destination_addr: &'a str,
        esm_class: u8,
        data_coding: u8,
        registered_delivery: u8,
        short_message: String,
        outcome: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        command_status: Option<u32>,
    },
    DeliverSent(Deliver<'a>),
    DeliverAnswered(Deliver<'a>),
    Closed {
        at_ms: u64,
        connection: u64,
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a str>,
    },
}

#[derive(Debug, Serialize)]
struct Deliver<'a> {
    at_ms: u64,
    connection: u64,
    sequence_number: u32,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    short_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_status: Option<u32>,
}

impl<'a> Deliver<'a> {
    fn of(d: &'a DeliverRecord, at_ms: u64) -> Deliver<'a> {
        let (kind, message_id) = match &d.kind {
            DeliverKind::Receipt { message_id } => ("receipt", Some(message_id.as_str())),
            DeliverKind::MobileOriginated => ("mo", None),
        };
        Deliver {
            at_ms,
            connection: d.connection,
            sequence_number: d.sequence_number,
            kind,
            message_id,
            short_message: hex(&d.short_message),
            command_status: d.response_status.map(|s| s.value()),
        }
    }
}

impl<'a> Line<'a> {
    fn of(event: &'a Event, now: SystemTime) -> Line<'a> {
        let at_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        match event {
            Event::Connected(connection, peer) => Line::Connected {
                at_ms,
                connection: *connection,
                peer: peer.to_string(),
            },
            Event::Bind(b) => Line::Bind {
                at_ms,
                connection: b.connection,
                system_id: &b.system_id,
                mode: match b.mode {
                    BindMode::Transmitter => "transmitter",
                    BindMode::Receiver => "receiver",
                    BindMode::Transceiver => "transceiver",
                },
                command_status: b.command_status.value(),
            },
            Event::Submit(s) => {
                let (outcome, message_id, command_status) = match &s.outcome {
                    SubmitOutcome::Accepted { message_id } => {
                        ("accepted", Some(message_id.as_str()), None)
                    }
                    SubmitOutcome::Throttled => ("throttled", None, None),
                    SubmitOutcome::Withheld => ("withheld", None, None),
                    SubmitOutcome::Dropped => ("dropped", None, None),
                    SubmitOutcome::Rejected { command_status } => {
                        ("rejected", None, Some(command_status.value()))
                    }
                };
                Line::Submit {
                    at_ms,
                    connection: s.connection,
                    sequence_number: s.sequence_number,
                    system_id: &s.system_id,
                    source_addr: &s.source_addr,
                    destination_addr: &s.destination_addr,
                    esm_class: s.esm_class,
                    data_coding: s.data_coding,
                    registered_delivery: s.registered_delivery,
                    short_message: hex(&s.short_message),
                    outcome,
                    message_id,
                    command_status,
                }
            }
            Event::DeliverSent(d) => Line::DeliverSent(Deliver::of(d, at_ms)),
            Event::DeliverAnswered(d) => Line::DeliverAnswered(Deliver::of(d, at_ms)),
            Event::Closed(connection, reason) => Line::Closed {
                at_ms,
                connection: *connection,
                reason: reason.as_str(),
                detail: reason.detail(),
            },
        }
    }
}

fn hex(octets: &[u8]) -> String {
    let mut s = String::with_capacity(octets.len() * 2);
    for b in octets {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CommandStatus;
    use crate::simulator::record::{CloseReason, SubmitRecord};

    #[test]
    fn every_event_is_one_json_line_with_octets_in_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.jsonl");
        let journal = Journal::open(&path).unwrap();
        journal.append(&Event::Submit(SubmitRecord {
            connection: 3,
            system_id: "esme".into(),
            sequence_number: 7,
            source_addr: "1000".into(),
            destination_addr: "2000".into(),
            esm_class: 0x40,
            data_coding: 8,
            short_message: vec![0x05, 0x00, 0x03, 0xab, 0x02, 0x01, b'h'],
            user_message_reference: None,
            registered_delivery: 1,
            outcome: SubmitOutcome::Accepted {
                message_id: "1000002a".into(),
            },
        }));
        journal.append(&Event::DeliverAnswered(DeliverRecord {
            connection: 3,
            system_id: "esme".into(),
            sequence_number: 1,
            kind: DeliverKind::MobileOriginated,
            short_message: b"mo".to_vec(),
            response_status: Some(CommandStatus::EsmeRxTAppn),
        }));
        journal.append(&Event::Closed(3, CloseReason::ReadFailed("reset".into())));
        // A second writer on the same file (a restarted process) appends after the first.
        drop(journal);
        Journal::open(&path)
            .unwrap()
            .append(&Event::Closed(4, CloseReason::DropFault));

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["event"], "submit");
        assert_eq!(lines[0]["connection"], 3);
        assert_eq!(lines[0]["destination_addr"], "2000");
        assert_eq!(lines[0]["esm_class"], 64);
        assert_eq!(lines[0]["data_coding"], 8);
        assert_eq!(lines[0]["short_message"], "050003ab020168");
        assert_eq!(lines[0]["outcome"], "accepted");
        assert_eq!(lines[0]["message_id"], "1000002a");
        assert!(lines[0].get("command_status").is_none());
        assert!(lines[0]["at_ms"].as_u64().unwrap() > 0);
        assert_eq!(lines[1]["event"], "deliver_answered");
        assert_eq!(lines[1]["kind"], "mo");
        assert_eq!(lines[1]["short_message"], "6d6f");
        assert_eq!(lines[1]["command_status"], 0x64);
        assert_eq!(lines[2]["reason"], "read_failed");
        assert_eq!(lines[2]["detail"], "reset");
        assert_eq!(lines[3]["connection"], 4);
        assert_eq!(lines[3]["reason"], "drop_fault");
    }
}
