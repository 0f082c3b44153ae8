//! Accepting messages, and the SMPP users' credits they are charged against.

use super::{stored_id, Rows, Tx};
use crate::daemon::store::postgres::error::Pg;
use crate::daemon::store::record::{Accepted, AcceptedMessage, NewMessage, Refused};
use std::collections::HashMap;
use std::time::SystemTime;

impl Tx<'_> {
    pub(super) async fn accept(
        &mut self,
        messages: &[(&NewMessage, SystemTime)],
    ) -> Pg<Vec<Result<Accepted, Refused>>> {
        let keys: Vec<&str> = messages
            .iter()
            .filter_map(|(m, _)| m.idempotency.as_ref().map(|i| i.key.as_str()))
            .collect();
        let mut earlier: HashMap<String, (AcceptedMessage, Option<String>)> = HashMap::new();
        if !keys.is_empty() {
            let rows = self
                .query(
                    "SELECT idem_key, id, segments, routed, encoding, data_coding,
                        idem_fingerprint
                     FROM messages WHERE idem_key = ANY($1)",
                    &[&keys],
                )
                .await?;
            for r in rows {
                let first = AcceptedMessage {
                    id: stored_id(r.try_get(1)?)?,
                    segments: r.try_get::<_, i64>(2)?.max(0) as usize,
                    channel: r.try_get(3)?,
                    encoding: r.try_get(4)?,
                    data_coding: r.try_get::<_, i64>(5)? as u8,
                };
                earlier.insert(r.try_get(0)?, (first, r.try_get(6)?));
            }
        }
        let mut results = Vec::with_capacity(messages.len());
        let mut rows = Rows::default();
        for (m, now) in messages {
            if let Some(idem) = &m.idempotency {
                if let Some((first, fingerprint)) = earlier.get(&idem.key) {
                    results.push(if fingerprint.as_deref() == Some(&idem.fingerprint) {
                        Ok(Accepted::Repeat(first.clone()))
                    } else {
                        Err(Refused::KeyReused {
                            key: idem.key.clone(),
                        })
                    });
                    continue;
                }
            }
            if self.counts.waiting >= i64::try_from(self.options.max_queued).unwrap_or(i64::MAX) {
                results.push(Err(Refused::QueueFull {
                    max: self.options.max_queued,
                }));
                continue;
            }
            let charged = match &m.origin {
                Some(origin) => match self.charge(&origin.user, origin.charge).await? {
                    Ok(charged) => charged,
                    Err(refused) => {
                        results.push(Err(refused));
                        continue;
                    }
                },
                None => 0,
            };
            rows.push(m, *now, charged);
            self.counts.waiting += 1;
            let accepted = AcceptedMessage {
                id: m.id.clone(),
                segments: m.segments.len(),
                channel: m.channel.clone(),
                encoding: m.encoding.to_string(),
                data_coding: m.data_coding,
            };
            if let Some(idem) = &m.idempotency {
                // A later message of the same group with this key repeats this one.
                earlier.insert(
                    idem.key.clone(),
                    (accepted.clone(), Some(idem.fingerprint.clone())),
                );
            }
            results.push(Ok(Accepted::New(accepted)));
        }
        if !rows.id.is_empty() {
            // WITH ORDINALITY and ORDER BY: keys are given in acceptance order, which is
            // the order the queue is sent in.
            self.execute(
                "INSERT INTO messages (id, channel, routed, queue, state, dest, src,
                    delivery_report, send_validity, encoding, data_coding, segments,
                    accepted_at, expires_at, idem_key, idem_fingerprint, body, origin,
                    origin_receipts, charged)
                 SELECT id, ch, ch, q, 0, d, s, dr, sv, enc, dc, n, acc, exp, ik, ifp, b, o,
                    orc, chg
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::bool[], $7::bool[], $8::text[], $9::int8[], $10::int8[], $11::int8[],
                    $12::int8[], $13::text[], $14::text[], $15::bytea[], $16::text[],
                    $17::int8[], $18::int8[])
                    WITH ORDINALITY AS u(id, ch, q, d, s, dr, sv, enc, dc, n, acc, exp, ik,
                        ifp, b, o, orc, chg, ord)
                 ORDER BY ord",
                &[
                    &rows.id,
                    &rows.channel,
                    &rows.queue,
                    &rows.to,
                    &rows.from,
                    &rows.delivery_report,
                    &rows.send_validity,
                    &rows.encoding,
                    &rows.data_coding,
                    &rows.segments,
                    &rows.accepted_at,
                    &rows.expires_at,
                    &rows.idem_key,
                    &rows.idem_fingerprint,
                    &rows.body,
                    &rows.origin,
                    &rows.origin_receipts,
                    &rows.charged,
                ],
            )
            .await?;
        }
        Ok(results)
    }

    /// Charges `user` `charge` credits: what was charged (0 for a user without a balance),
    /// or the refusal when the balance is too low.
    pub(super) async fn charge(&mut self, user: &str, charge: u32) -> Pg<Result<u32, Refused>> {
        let amount = i64::from(charge);
        let taken = self
            .query_opt(
                "UPDATE smpp_credits SET balance = balance - $2
                 WHERE \"user\" = $1 AND balance >= $2 RETURNING balance",
                &[&user, &amount],
            )
            .await?;
        if taken.is_some() {
            return Ok(Ok(charge));
        }
        let balance = self
            .query_opt(
                "SELECT balance FROM smpp_credits WHERE \"user\" = $1",
                &[&user],
            )
            .await?;
        Ok(match balance {
            None => Ok(0),
            Some(r) => Err(Refused::NoCredit {
                user: user.to_string(),
                left: r.try_get::<_, i64>(0)?.max(0) as u64,
                charge,
            }),
        })
    }

    /// Gives a message's user back what it was charged.
    pub(super) async fn refund(&mut self, seq: i64) -> Pg<()> {
        self.execute(
            "WITH m AS (
                SELECT origin, charged FROM messages WHERE seq = $1
             ), refunded AS (
                UPDATE smpp_credits c SET balance = c.balance + m.charged
                FROM m WHERE c.\"user\" = m.origin
             )
             UPDATE messages SET charged = 0 WHERE seq = $1",
            &[&seq],
        )
        .await?;
        Ok(())
    }
}
