//! [`Pending`]: the client's requests that await the daemon's answer, by [`Token`].

use std::collections::HashMap;

use crate::codec::MessageId;

use super::event::Token;

/// Which response a pending request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Awaiting {
    /// submit_sm_resp.
    Submit,
    /// data_sm_resp.
    Data,
    /// query_sm_resp, echoing the queried message_id.
    Query(MessageId),
}

/// A request awaiting its answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request {
    /// The client's sequence_number, which the response carries back.
    pub(super) sequence_number: u32,
    /// Which response to build.
    pub(super) awaiting: Awaiting,
}

/// Requests handed to the daemon and not yet answered, at most `capacity`. Tokens come from a
/// counter that never repeats within a connection, so a late or doubled answer finds nothing.
#[derive(Debug)]
pub(super) struct Pending {
    capacity: usize,
    next_token: u64,
    requests: HashMap<Token, Request>,
}

impl Pending {
    pub(super) fn new(capacity: usize) -> Self {
        Pending {
            capacity,
            next_token: 0,
            requests: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.requests.len()
    }

    /// A fresh token for any request, bind included.
    pub(super) fn token(&mut self) -> Token {
        let token = Token(self.next_token);
        // 2^64 requests on one connection cannot happen; wrapping keeps the arithmetic total.
        self.next_token = self.next_token.wrapping_add(1);
        token
    }

    /// Takes `request` under a fresh token, or `None` when `capacity` are already pending.
    pub(super) fn insert(&mut self, request: Request) -> Option<Token> {
        if self.requests.len() >= self.capacity {
            return None;
        }
        let token = self.token();
        self.requests.insert(token, request);
        Some(token)
    }

    /// The request under `token`, once, if `wanted` accepts what it awaits: a token of
    /// another kind (a query answered as a submit) stays pending.
    pub(super) fn take_if(
        &mut self,
        token: Token,
        wanted: impl FnOnce(&Awaiting) -> bool,
    ) -> Option<Request> {
        if !wanted(&self.requests.get(&token)?.awaiting) {
            return None;
        }
        self.requests.remove(&token)
    }

    /// Forgets every pending request: their answers can no longer be sent.
    pub(super) fn clear(&mut self) {
        self.requests.clear();
    }
}
