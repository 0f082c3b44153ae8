//! Accepting messages, and the SMPP users' credits they are charged against.

use super::{clamp_i64, stored_id, Sql, Writer};
use crate::daemon::store::body;
use crate::daemon::store::record::{Accepted, AcceptedMessage, NewMessage, Refused};
use crate::daemon::store::sqlite::ms;
use rusqlite::{params, OptionalExtension};
use std::collections::HashSet;
use std::time::SystemTime;

impl Writer<'_> {
    pub(super) fn accept(
        &mut self,
        messages: &[NewMessage],
        now: SystemTime,
    ) -> Sql<Vec<Result<Accepted, Refused>>> {
        let mut results = Vec::with_capacity(messages.len());
        for m in messages {
            if let Some(idem) = &m.idempotency {
                let earlier = self
                    .conn
                    .prepare_cached(
                        "SELECT id, segments, routed, encoding, data_coding, idem_fingerprint
                         FROM messages WHERE idem_key = ?1",
                    )?
                    .query_row([&idem.key], |r| {
                        Ok((
                            AcceptedMessage {
                                id: stored_id(&r.get::<_, String>(0)?)?,
                                segments: r.get::<_, i64>(1)? as usize,
                                channel: r.get(2)?,
                                encoding: r.get(3)?,
                                data_coding: r.get::<_, i64>(4)? as u8,
                            },
                            r.get::<_, Option<String>>(5)?,
                        ))
                    })
                    .optional()?;
                if let Some((first, fingerprint)) = earlier {
                    results.push(if fingerprint.as_deref() == Some(&idem.fingerprint) {
                        Ok(Accepted::Repeat(first))
                    } else {
                        Err(Refused::KeyReused {
                            key: idem.key.clone(),
                        })
                    });
                    continue;
                }
            }
            if self.counts.waiting >= self.options.max_queued {
                results.push(Err(Refused::QueueFull {
                    max: self.options.max_queued,
                }));
                continue;
            }
            let charged = match &m.origin {
                Some(origin) => match self.charge(&origin.user, origin.charge)? {
                    Ok(charged) => charged,
                    Err(refused) => {
                        results.push(Err(refused));
                        continue;
                    }
                },
                None => 0,
            };
            let queue = m.queue();
            self.hot.insert_message.execute(params![
                m.id.as_str(),
                m.channel,
                queue.as_ref(),
                m.to,
                m.from,
                m.delivery_report,
                m.send_validity,
                m.encoding,
                m.data_coding,
                m.segments.len() as i64,
                ms(now),
                ms(m.expires_at),
                m.idempotency.as_ref().map(|i| i.key.as_str()),
                m.idempotency.as_ref().map(|i| i.fingerprint.as_str()),
                body::pack(&m.segments),
                m.origin.as_ref().map(|o| o.user.as_str()),
                m.origin.as_ref().map_or(0, |o| o.receipts.code()),
                i64::from(charged),
            ])?;
            self.counts.queued(&queue);
            results.push(Ok(Accepted::New(AcceptedMessage {
                id: m.id.clone(),
                segments: m.segments.len(),
                channel: m.channel.clone(),
                encoding: m.encoding.to_string(),
                data_coding: m.data_coding,
            })));
        }
        Ok(results)
    }

    /// Charges `user` `charge` credits: what was charged (0 for a user without a balance),
    /// or the refusal when the balance is too low.
    pub(super) fn charge(&mut self, user: &str, charge: u32) -> Sql<Result<u32, Refused>> {
        let balanced = match &self.balanced {
            Some(users) => users,
            None => {
                let users = {
                    let mut s = self.conn.prepare_cached("SELECT user FROM smpp_credits")?;
                    let rows = s.query_map([], |r| r.get(0))?;
                    rows.collect::<Sql<HashSet<String>>>()?
                };
                self.balanced.insert(users)
            }
        };
        if !balanced.contains(user) {
            return Ok(Ok(0));
        }
        let left: Option<i64> = self
            .conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = balance - ?2
                 WHERE user = ?1 AND balance >= ?2 RETURNING balance",
            )?
            .query_row(params![user, charge], |r| r.get(0))
            .optional()?;
        if left.is_some() {
            return Ok(Ok(charge));
        }
        let balance: Option<i64> = self
            .conn
            .prepare_cached("SELECT balance FROM smpp_credits WHERE user = ?1")?
            .query_row([user], |r| r.get(0))
            .optional()?;
        Ok(match balance {
            None => Ok(0),
            Some(left) => Err(Refused::NoCredit {
                user: user.to_string(),
                left: left.max(0) as u64,
                charge,
            }),
        })
    }

    pub(super) fn credits_configure(&mut self, users: &[(String, Option<u64>)]) -> Sql<()> {
        self.balanced = None;
        for (user, first) in users {
            match first {
                Some(first) => self
                    .conn
                    .prepare_cached(
                        "INSERT INTO smpp_credits (user, balance) VALUES (?1, ?2)
                         ON CONFLICT (user) DO NOTHING",
                    )?
                    .execute(params![user, clamp_i64(*first)])?,
                None => self
                    .conn
                    .prepare_cached("DELETE FROM smpp_credits WHERE user = ?1")?
                    .execute([user])?,
            };
        }
        Ok(())
    }

    pub(super) fn credits_add(&mut self, user: &str, add: u64) -> Sql<Option<u64>> {
        self.conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = min(balance + ?2, 9223372036854775807)
                 WHERE user = ?1 RETURNING balance",
            )?
            .query_row(params![user, clamp_i64(add)], |r| r.get::<_, i64>(0))
            .optional()
            .map(|b| b.map(|b| b.max(0) as u64))
    }

    /// Gives `user` back what a message that never reached the SMSC was charged.
    pub(super) fn refund(&mut self, seq: i64) -> Sql<()> {
        self.conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = balance + (
                    SELECT charged FROM messages WHERE seq = ?1)
                 WHERE user = (SELECT origin FROM messages WHERE seq = ?1)",
            )?
            .execute([seq])?;
        self.conn
            .prepare_cached("UPDATE messages SET charged = 0 WHERE seq = ?1")?
            .execute([seq])?;
        Ok(())
    }
}
