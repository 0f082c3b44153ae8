//! The driver of one client connection: the socket, the clock and the daemon around a
//! [`ServerSession`]. It answers the core's events — binds through the [`Gate`], submits by
//! committing them to the store before their response (the submits of one read in one
//! call), queries from the store — and feeds the user's outbox events (receipts, inbound
//! messages) to a receiver bind, deleting each only once the client acknowledged its
//! deliver_sm.

use super::auth::{Gate, Refusal};
use super::board::SessionEntry;
use super::deliver::deliver_sm;
use super::submit::new_message;
use super::users::User;
use crate::codec::{CommandStatus, MessageState as SmppState, SmppTime};
use crate::daemon::store::{
    Accepted, MessageId, MessageState, NewMessage, OutboxEvent, Refused, Store,
};
use crate::server::{QueryAnswer, ServerEvent, ServerParams, ServerSession, Submitted, Token};
use crate::sms::smpp_absolute_time;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How often a receiver bind looks at its user's outbox when nothing told it to.
const DELIVERY_POLL: Duration = Duration::from_millis(200);
/// How long an event the client refused waits before it is offered again.
const REFUSED_RETRY: Duration = Duration::from_secs(10);
/// Octets read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// What every connection shares.
pub struct Shared {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Who may bind.
    pub gate: Gate,
    /// The core's parameters.
    pub params: ServerParams,
    /// Validity of a message that asks for none.
    pub default_validity: Duration,
    /// Wakes the channels' feeders once messages were committed.
    pub wake: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// What a task spawned for an event brings back.
enum Answer {
    Bind(Token, crate::server::BindMode, Result<Arc<User>, Refusal>),
    /// The submits of one pass, in the order they came.
    Submits(Vec<(Token, Result<String, CommandStatus>)>),
    Query(Token, Result<QueryAnswer, CommandStatus>),
    /// The events due, read under the user's outbox lock (held until they are handed out).
    Events(Vec<OutboxEvent>, tokio::sync::OwnedMutexGuard<()>),
    FetchFailed,
}

/// Runs one connection until it closes.
pub(crate) async fn serve<S>(shared: Arc<Shared>, stream: S, entry: Arc<SessionEntry>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut c = Connection {
        session: ServerSession::new(shared.params.clone(), Instant::now().into_std()),
        shared,
        entry,
        user: None,
        receives: false,
        fetching: false,
        next_fetch: Instant::now(),
        answers: mpsc::unbounded_channel(),
        delivering: Vec::new(),
        submits: Vec::new(),
        delivered: Vec::new(),
        closed: false,
        unbinding: false,
    };
    if let Some(reason) = c.run(stream).await {
        // The socket ended it, not the protocol: say so once, as the core would have.
        if !c.closed {
            c.log_closed(reason);
        }
    }
    c.close();
}

struct Connection {
    session: ServerSession,
    shared: Arc<Shared>,
    entry: Arc<SessionEntry>,
    /// The bound user.
    user: Option<Arc<User>>,
    /// Bound as a receiver or transceiver.
    receives: bool,
    /// An outbox read is in flight.
    fetching: bool,
    /// When to read the outbox next.
    next_fetch: Instant,
    answers: (
        mpsc::UnboundedSender<Answer>,
        mpsc::UnboundedReceiver<Answer>,
    ),
    /// Outbox events handed to the core and not answered yet.
    delivering: Vec<i64>,
    /// Submits of this pass over the core's events, committed together (one store call).
    submits: Vec<(Token, NewMessage)>,
    /// Events the client acknowledged in this pass, deleted together (one store call).
    delivered: Vec<i64>,
    /// The close was logged.
    closed: bool,
    /// The operator (or a reload) asked for an unbind.
    unbinding: bool,
}

impl Connection {
    /// Runs until the connection ends; why, when the socket rather than the core ended it.
    async fn run<S>(&mut self, stream: S) -> Option<&'static str>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        let mut output = BytesMut::new();
        let write_limit = self.shared.params.response_timeout;
        loop {
            while let Some(event) = self.session.poll_event() {
                self.on_event(event);
            }
            self.commit_submits();
            self.forget_delivered();
            self.maybe_fetch();
            if self.session.poll_transmit(&mut output) {
                // A client that does not read for this long is not coming back.
                match tokio::time::timeout(write_limit, wr.write_all(&output)).await {
                    Ok(Ok(())) => output.clear(),
                    Ok(Err(_)) => return Some("the connection failed"),
                    Err(_) => return Some("the client did not read what smppd wrote"),
                }
                continue;
            }
            if self.session.is_closed() {
                let _ = tokio::time::timeout(write_limit, wr.shutdown()).await;
                return None;
            }
            let deadline = self
                .session
                .next_deadline()
                .map(Instant::from_std)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let fetch_at = (self.receives && !self.fetching && self.session.can_deliver())
                .then_some(self.next_fetch);
            input.reserve(READ_CHUNK);
            tokio::select! {
                read = rd.read_buf(&mut input) => match read {
                    // Many clients close at once on an unbind instead of answering it.
                    Ok(0) if self.unbinding => return Some("unbound by the operator"),
                    Ok(0) => return Some("the client closed the connection"),
                    Err(_) => return Some("the connection failed"),
                    Ok(_) => self.session.handle_bytes(&mut input, std::time::Instant::now()),
                },
                Some(answer) = self.answers.1.recv() => {
                    // Everything already back goes out in one write: the answers of one
                    // commit arrive together.
                    self.on_answer(answer);
                    while let Ok(answer) = self.answers.1.try_recv() {
                        self.on_answer(answer);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.session.handle_timeout(std::time::Instant::now());
                }
                _ = self.entry.unbind.notified() => {
                    self.unbinding = true;
                    self.session.unbind(std::time::Instant::now());
                }
                _ = async {
                    match fetch_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => self.fetch(),
            }
        }
    }

    fn on_event(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::BindRequested {
                token,
                mode,
                system_id,
                password,
                ..
            } => {
                let shared = self.shared.clone();
                let tx = self.answers.0.clone();
                let ip = self.entry.remote.ip();
                tokio::spawn(async move {
                    let result = shared.gate.check(ip, &system_id, password).await;
                    if let Err(refusal) = &result {
                        tracing::warn!(
                            event = "smpp_bind_refused",
                            system_id = %system_id,
                            remote = %ip,
                            reason = refusal.as_str(),
                            "SMPP bind refused"
                        );
                    }
                    // A connection gone meanwhile never takes the bind it was counted for.
                    if let Err(unsent) = tx.send(Answer::Bind(token, mode, result)) {
                        if let Answer::Bind(_, _, Ok(user)) = unsent.0 {
                            user.unbound();
                        }
                    }
                });
            }
            ServerEvent::Submit { token, message } => self.submit(token, &message),
            ServerEvent::Query {
                token, message_id, ..
            } => self.query(token, message_id),
            ServerEvent::Delivered { key, status } => {
                let seq = key as i64;
                self.delivering.retain(|s| *s != seq);
                let Some(user) = self.user.clone() else {
                    return;
                };
                if status == CommandStatus::EsmeRok {
                    user.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    self.entry
                        .counters
                        .delivered
                        .fetch_add(1, Ordering::Relaxed);
                    self.delivered.push(seq);
                } else {
                    let store = self.shared.store.clone();
                    tokio::spawn(async move {
                        let due = SystemTime::now() + REFUSED_RETRY;
                        let _ = store.outbox_retry(seq, due).await;
                        release(&user, &[seq]).await;
                    });
                }
                self.next_fetch = Instant::now();
            }
            ServerEvent::Undelivered { keys } => {
                for key in keys {
                    let seq = key as i64;
                    self.delivering.retain(|s| *s != seq);
                    if let Some(user) = &self.user {
                        user.end_delivery(seq);
                    }
                }
            }
            ServerEvent::Unbound => {}
            ServerEvent::Closed { reason } => self.log_closed(&reason.to_string()),
        }
    }

    fn submit(&mut self, token: Token, message: &Submitted) {
        let now_std = std::time::Instant::now();
        let Some(user) = self.user.clone() else {
            self.session
                .answer_submit(token, Err(CommandStatus::EsmeRinvbndsts), now_std);
            return;
        };
        let config = user.config();
        let first = config.channels.first().map(String::as_str).unwrap_or("");
        let message = match new_message(
            message,
            &user.name,
            first,
            self.shared.default_validity,
            SystemTime::now(),
        ) {
            Ok(m) => m,
            Err(status) => {
                user.counters.refused.fetch_add(1, Ordering::Relaxed);
                self.entry.counters.refused.fetch_add(1, Ordering::Relaxed);
                self.session.answer_submit(token, Err(status), now_std);
                return;
            }
        };
        let charge = message.origin.as_ref().map_or(1, |o| o.charge);
        if !user.take(charge) {
            user.counters.throttled.fetch_add(1, Ordering::Relaxed);
            self.entry.counters.refused.fetch_add(1, Ordering::Relaxed);
            self.session
                .answer_submit(token, Err(CommandStatus::EsmeRthrottled), now_std);
            return;
        }
        self.submits.push((token, message));
    }

    /// Commits the submits of this pass in one store call; each is answered once it is
    /// durable (or refused).
    fn commit_submits(&mut self) {
        if self.submits.is_empty() {
            return;
        }
        let (tokens, messages): (Vec<Token>, Vec<NewMessage>) =
            std::mem::take(&mut self.submits).into_iter().unzip();
        let Some(user) = self.user.clone() else {
            // Only a bound session takes submits; answered all the same, never dropped.
            let now = std::time::Instant::now();
            for token in tokens {
                self.session
                    .answer_submit(token, Err(CommandStatus::EsmeRinvbndsts), now);
            }
            return;
        };
        let shared = self.shared.clone();
        let tx = self.answers.0.clone();
        tokio::spawn(async move {
            let count = messages.len();
            let mut results = match shared.store.accept(messages, SystemTime::now()).await {
                Ok(results) => results.into_iter(),
                Err(e) => {
                    tracing::warn!(event = "smpp_submit_store_failed", user = %user.name, messages = count, error = %e, "cannot commit submitted messages");
                    Vec::new().into_iter()
                }
            };
            let mut answers = Vec::with_capacity(count);
            let mut woken = false;
            for token in tokens {
                let answer = match results.next() {
                    Some(Ok(Accepted::New(m) | Accepted::Repeat(m))) => {
                        if !woken {
                            (shared.wake)();
                            woken = true;
                        }
                        user.counters.accepted.fetch_add(1, Ordering::Relaxed);
                        Ok(m.id.as_str().to_string())
                    }
                    Some(Err(Refused::NoCredit { .. })) => {
                        user.counters.no_credit.fetch_add(1, Ordering::Relaxed);
                        Err(NO_CREDIT)
                    }
                    Some(Err(Refused::QueueFull { .. })) => {
                        user.counters.refused.fetch_add(1, Ordering::Relaxed);
                        Err(CommandStatus::EsmeRmsgqful)
                    }
                    // Not committed (the store failed, or answered for fewer messages).
                    Some(Err(Refused::KeyReused { .. })) | None => {
                        user.counters.refused.fetch_add(1, Ordering::Relaxed);
                        Err(CommandStatus::EsmeRsyserr)
                    }
                };
                answers.push((token, answer));
            }
            let _ = tx.send(Answer::Submits(answers));
        });
    }

    /// Deletes the events acknowledged in this pass in one store call, then lets them go.
    fn forget_delivered(&mut self) {
        if self.delivered.is_empty() {
            return;
        }
        let seqs = std::mem::take(&mut self.delivered);
        // Only a bound session delivers; without one the events stay queued for another.
        let Some(user) = self.user.clone() else {
            return;
        };
        let store = self.shared.store.clone();
        tokio::spawn(async move {
            // Gone from the outbox before any session may take them again.
            let _ = store.outbox_delivered(seqs.clone()).await;
            release(&user, &seqs).await;
        });
    }

    fn query(&mut self, token: Token, message_id: String) {
        let shared = self.shared.clone();
        let tx = self.answers.0.clone();
        let user = self.user.as_ref().map(|u| u.name.clone());
        tokio::spawn(async move {
            let answer = match MessageId::parse(&message_id) {
                None => Err(CommandStatus::EsmeRinvmsgid),
                Some(id) => match shared.store.get(&id).await {
                    Ok(Some(record)) if record.origin == user => Ok(query_answer(&record)),
                    Ok(_) => Err(CommandStatus::EsmeRqueryfail),
                    Err(_) => Err(CommandStatus::EsmeRsyserr),
                },
            };
            let _ = tx.send(Answer::Query(token, answer));
        });
    }

    fn on_answer(&mut self, answer: Answer) {
        let now = std::time::Instant::now();
        match answer {
            Answer::Bind(token, mode, Ok(user)) => {
                if self.user.is_some() {
                    // The core lets one bind through at a time; a second success would
                    // count a bind that never happens.
                    user.unbound();
                    self.session
                        .answer_bind(token, Err(CommandStatus::EsmeRalybnd), now);
                    return;
                }
                tracing::info!(
                    event = "smpp_bound",
                    session = self.entry.id,
                    user = %user.name,
                    remote = %self.entry.remote,
                    mode = ?mode,
                    "SMPP client bound"
                );
                self.entry.set_bound(&user.name, mode);
                self.receives = mode.receives();
                self.user = Some(user);
                self.next_fetch = Instant::now();
                self.session.answer_bind(token, Ok(()), now);
            }
            Answer::Bind(token, _, Err(refusal)) => {
                self.session.answer_bind(token, Err(refusal.status()), now);
            }
            Answer::Submits(answers) => {
                for (token, result) in answers {
                    let counter = match result {
                        Ok(_) => &self.entry.counters.submitted,
                        Err(_) => &self.entry.counters.refused,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    self.session.answer_submit(token, result, now);
                }
            }
            Answer::Query(token, result) => self.session.answer_query(token, result, now),
            Answer::Events(events, read) => {
                self.fetching = false;
                self.deliver(events);
                drop(read);
            }
            Answer::FetchFailed => {
                self.fetching = false;
                self.next_fetch = Instant::now() + DELIVERY_POLL;
            }
        }
    }

    /// Starts an outbox read when one is due now (the timer in `run` covers later ones).
    fn maybe_fetch(&mut self) {
        if self.receives
            && !self.fetching
            && self.session.can_deliver()
            && self.next_fetch <= Instant::now()
        {
            self.fetch();
        }
    }

    fn fetch(&mut self) {
        let Some(user) = self.user.clone() else {
            return;
        };
        self.fetching = true;
        let store = self.shared.store.clone();
        let tx = self.answers.0.clone();
        // Enough to fill this window past what the user's other sessions hold.
        let limit = self.shared.params.deliver_window + user.delivering();
        tokio::spawn(async move {
            let read = user.outbox.clone().lock_owned().await;
            let answer = match store
                .outbox_due_for(&user.name, limit, SystemTime::now())
                .await
            {
                Ok(events) => Answer::Events(events, read),
                Err(_) => Answer::FetchFailed,
            };
            let _ = tx.send(answer);
        });
    }

    /// Hands the core the events no other session is delivering, while its window has room.
    fn deliver(&mut self, events: Vec<OutboxEvent>) {
        let Some(user) = self.user.clone() else {
            return;
        };
        let now = SystemTime::now();
        let mut handed = 0;
        for event in events {
            if !self.session.can_deliver() {
                break;
            }
            if event.due > now || !user.start_delivery(event.seq) {
                continue;
            }
            let pdu = match deliver_sm(&event.body) {
                Ok(pdu) => pdu,
                Err(e) => {
                    // Never deliverable: kept, it would stop the user's queue for good.
                    tracing::error!(event = "smpp_event_unreadable", user = %user.name, error = %e, "an outbox event cannot be made into a deliver_sm; dropped");
                    let store = self.shared.store.clone();
                    let (seq, user) = (event.seq, user.clone());
                    tokio::spawn(async move {
                        let _ = store.outbox_delivered(vec![seq]).await;
                        release(&user, &[seq]).await;
                    });
                    continue;
                }
            };
            match self
                .session
                .deliver(event.seq as u64, pdu, std::time::Instant::now())
            {
                Ok(()) => {
                    self.delivering.push(event.seq);
                    handed += 1;
                }
                Err(_) => {
                    user.end_delivery(event.seq);
                    break;
                }
            }
        }
        // More may be waiting when this read filled what it could.
        self.next_fetch = if handed > 0 && self.session.can_deliver() {
            Instant::now()
        } else {
            Instant::now() + DELIVERY_POLL
        };
    }

    fn log_closed(&mut self, reason: &str) {
        self.closed = true;
        tracing::info!(
            event = "smpp_session_closed",
            session = self.entry.id,
            remote = %self.entry.remote,
            user = self.user.as_ref().map(|u| u.name.as_str()).unwrap_or(""),
            reason,
            "SMPP session closed"
        );
    }

    /// After the socket closed: the bind and the deliveries in flight are given back.
    fn close(&mut self) {
        self.answers.1.close();
        while let Ok(answer) = self.answers.1.try_recv() {
            if let Answer::Bind(_, _, Ok(user)) = answer {
                user.unbound();
            }
        }
        if let Some(user) = self.user.take() {
            for seq in self.delivering.drain(..) {
                user.end_delivery(seq);
            }
            user.unbound();
        }
    }
}

/// Unmarks answered events once their store call is done, when no outbox read that might
/// still hold them is being handed out (see [`User::outbox`]).
async fn release(user: &User, seqs: &[i64]) {
    let _reads = user.outbox.lock().await;
    for seq in seqs {
        user.end_delivery(*seq);
    }
}

/// The status of a submit refused for want of credits: submit_sm failed (SMPP 3.4
/// §5.1.3), as documented for operators.
pub(crate) const NO_CREDIT: CommandStatus = CommandStatus::EsmeRsubmitfail;

/// query_sm_resp's view of a stored message.
fn query_answer(record: &crate::daemon::store::MessageRecord) -> QueryAnswer {
    let message_state = match record.state {
        MessageState::Queued | MessageState::Submitted => SmppState::Enroute,
        MessageState::Delivered => SmppState::Delivered,
        MessageState::Expired => SmppState::Expired,
        MessageState::Failed => SmppState::Undeliverable,
    };
    let final_date = record
        .history
        .last()
        .filter(|t| t.state.is_final())
        .and_then(|t| SmppTime::new(smpp_absolute_time(t.at)).ok())
        .unwrap_or_default();
    let error_code = record
        .failure
        .as_ref()
        .and_then(|f| f.status)
        .map_or(0, |s| (s & 0xff) as u8);
    QueryAnswer {
        final_date,
        message_state,
        error_code,
    }
}
