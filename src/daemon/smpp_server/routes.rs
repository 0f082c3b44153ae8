//! Which channel sends an SMPP user's messages: the first channel of the user's `channels`
//! list that can transmit now, the next one when it cannot (failover in the listed order).
//!
//! A user's messages wait in the user's own queue ([`crate::daemon::store::user_queue`]);
//! each channel's feeder asks [`UserRoutes::queues_for`] which users' queues it claims from
//! before every claim. A channel counts as able to transmit while one of its session slots on
//! this node is bound with a bind that can submit: its feeders say so through
//! [`UserRoutes::sending`]. When no listed channel can transmit, the messages wait for the
//! first one that binds. On several nodes each node decides from the slots it holds, so a
//! user whose first channel is bound on another node only is served there and, from this
//! node, by the next listed channel bound here.
//!
//! The other way, an inbound message goes to the user whose `address-ranges` match its
//! destination best ([`UserRoutes::user_for_destination`]); the channels' sinks ask.

use crate::config::{user_for_address, SmppUserConfig};
use crate::daemon::store::user_queue;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// The users' channel lists and address ranges, and which channels can transmit now.
#[derive(Debug, Default)]
pub struct UserRoutes {
    /// Per user, its queue and its channels in order of preference.
    users: RwLock<Vec<(String, Vec<String>)>>,
    /// The users as configured, for their address ranges (kept whole so that the ranking
    /// rules stay those of [`user_for_address`]).
    ranges: RwLock<Vec<SmppUserConfig>>,
    /// Per channel, how many of its session slots can transmit now.
    sending: RwLock<HashMap<String, usize>>,
}

impl UserRoutes {
    /// No users.
    pub fn new() -> Arc<UserRoutes> {
        Arc::new(UserRoutes::default())
    }

    /// Sets the users: their channel lists and address ranges (at start and at every
    /// reload).
    pub fn set_users(&self, users: &[SmppUserConfig]) {
        let queues = users
            .iter()
            .map(|user| (user_queue(&user.name), user.channels.clone()))
            .collect();
        *self.users.write().unwrap_or_else(PoisonError::into_inner) = queues;
        // Only users with ranges can win a match: the others need not be searched.
        let ranged = users
            .iter()
            .filter(|user| !user.address_ranges.is_empty())
            .cloned()
            .collect();
        *self.ranges.write().unwrap_or_else(PoisonError::into_inner) = ranged;
    }

    /// The name of the user an inbound message to `address` goes to (the longest match of
    /// the users' `address-ranges`, an exact range before a prefix); `None`: the webhook.
    pub fn user_for_destination(&self, address: &str) -> Option<String> {
        let users = self.ranges.read().unwrap_or_else(PoisonError::into_inner);
        user_for_address(&users, address).map(|user| user.name.clone())
    }

    /// The users' queues `channel` claims from now: those of the users that list it and
    /// none of whose earlier channels can transmit.
    pub fn queues_for(&self, channel: &str) -> Vec<String> {
        let users = self.users.read().unwrap_or_else(PoisonError::into_inner);
        if users.is_empty() {
            return Vec::new();
        }
        let sending = self.sending.read().unwrap_or_else(PoisonError::into_inner);
        let can_send = |c: &str| sending.get(c).is_some_and(|n| *n > 0);
        users
            .iter()
            .filter(|(_, channels)| {
                channels
                    .iter()
                    .find(|c| c.as_str() == channel || can_send(c))
                    .is_some_and(|first| first == channel)
            })
            .map(|(queue, _)| queue.clone())
            .collect()
    }

    /// A session slot of `channel` that can transmit; it counts until the returned guard
    /// is dropped.
    pub fn sending(self: &Arc<Self>, channel: &str) -> Sending {
        *self
            .sending
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(channel.to_string())
            .or_default() += 1;
        Sending {
            routes: self.clone(),
            channel: channel.to_string(),
        }
    }
}

/// One session slot able to transmit, counted while this lives.
#[derive(Debug)]
pub struct Sending {
    routes: Arc<UserRoutes>,
    channel: String,
}

impl Drop for Sending {
    fn drop(&mut self) {
        let mut sending = self
            .routes
            .sending
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = sending.get_mut(&self.channel) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                sending.remove(&self.channel);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A user section as the configuration would validate it.
    pub(crate) fn user(name: &str, channels: &[&str], ranges: &[&str]) -> SmppUserConfig {
        SmppUserConfig {
            name: name.into(),
            system_id: name.into(),
            password_hash: crate::password::PasswordHash::parse(
                "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg",
            )
            .unwrap(),
            allowed_ips: Vec::new(),
            max_binds: 4,
            throughput: 100,
            credits: None,
            channels: channels.iter().map(|c| c.to_string()).collect(),
            address_ranges: ranges.iter().map(|r| r.parse().unwrap()).collect(),
        }
    }

    fn routes() -> Arc<UserRoutes> {
        let r = UserRoutes::new();
        r.set_users(&[user("acme", &["a", "b"], &[]), user("beta", &["b"], &[])]);
        r
    }

    #[test]
    fn the_first_listed_channel_serves_a_user_while_it_can_send() {
        let r = routes();
        let a = r.sending("a");
        let _b = r.sending("b");
        assert_eq!(r.queues_for("a"), vec!["@acme"]);
        assert_eq!(r.queues_for("b"), vec!["@beta"]);
        // `a` down: `b` takes its users over, until `a` is back.
        drop(a);
        // `a`'s own feeders claim only while bound: for them it stays first.
        assert_eq!(r.queues_for("a"), vec!["@acme"]);
        assert_eq!(r.queues_for("b"), vec!["@acme", "@beta"]);
        let _a = r.sending("a");
        assert_eq!(r.queues_for("b"), vec!["@beta"]);
        assert!(r.queues_for("c").is_empty());
    }

    #[test]
    fn a_channel_counts_as_sending_while_any_of_its_slots_does() {
        let r = routes();
        let _b = r.sending("b");
        let one = r.sending("a");
        let two = r.sending("a");
        drop(one);
        assert_eq!(r.queues_for("b"), vec!["@beta"]);
        drop(two);
        assert_eq!(r.queues_for("b"), vec!["@acme", "@beta"]);
    }

    #[test]
    fn inbound_messages_go_to_the_best_range() {
        let r = UserRoutes::new();
        assert_eq!(r.user_for_destination("3169988"), None);
        r.set_users(&[
            user("wide", &["a"], &["3169*"]),
            user("narrow", &["a"], &["316998*"]),
            user("exact", &["a"], &["+3169988"]),
            user("none", &["a"], &[]),
        ]);
        assert_eq!(
            r.user_for_destination("31699887").as_deref(),
            Some("narrow")
        );
        assert_eq!(r.user_for_destination("3169988").as_deref(), Some("exact"));
        assert_eq!(r.user_for_destination("3169100").as_deref(), Some("wide"));
        assert_eq!(r.user_for_destination("4470000"), None);
        // A reload without ranges takes them away.
        r.set_users(&[user("wide", &["a"], &[])]);
        assert_eq!(r.user_for_destination("3169100"), None);
    }
}
