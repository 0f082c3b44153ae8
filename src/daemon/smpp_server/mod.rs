//! The SMPP server for downstream clients ("users"): smppd as an SMSC towards them and an
//! ESME towards the operators. A user's submits are committed to the store (charged, in the
//! user's own queue) before they are answered, sent through the user's channels in order of
//! preference, and their receipts, like the inbound messages routed to the user by address
//! range, wait in the outbox under the user's name until one of its receiver binds
//! acknowledges them.
//!
//! ```text
//!   client --bind--> listener --> connection (server::ServerSession) --check--> auth (Argon2id)
//!          --submit_sm--> connection --commit (charged)--> store --claim--> channel feeders
//!   client <--deliver_sm-- connection <--outbox_due_for(user)-- store <-- sinks (receipts, MO)
//! ```

mod auth;
mod board;
mod connection;
mod deliver;
mod guard;
mod listener;
mod routes;
mod submit;
mod users;

// What the rest of the daemon uses.
pub(crate) use board::{SessionBoard, SessionEntry};
pub(crate) use listener::{ListenError, Listener};
pub(crate) use routes::{Sending, UserRoutes};
pub(crate) use users::{User, Users};

// A user as the tests of other modules configure one.
#[cfg(test)]
pub(crate) use routes::tests::user;

use crate::config::Config;
use crate::daemon::store::Store;
use crate::server::ServerParams;
use connection::Shared;
use std::sync::Arc;

/// How long a stop waits for the clients to answer their unbind.
const STOP_BOUND: std::time::Duration = std::time::Duration::from_secs(3);

impl std::fmt::Debug for SmppServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmppServer")
            .field("listener", &self.listener)
            .field("users", &self.users.all().len())
            .finish()
    }
}

/// The server as the daemon runs it: its users, its connections and its listener.
pub struct SmppServer {
    /// The users.
    pub users: Arc<Users>,
    /// The connections.
    pub board: Arc<SessionBoard>,
    /// The listener.
    pub listener: Listener,
    store: Arc<dyn Store>,
}

impl SmppServer {
    /// Starts listening as `[smpp-server]` says, for the configured users; `None` without
    /// the section. `wake` is called after each committed submit (it wakes the feeders).
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        routes: &UserRoutes,
        wake: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Option<SmppServer>, ListenError> {
        let Some(server) = &config.smpp_server else {
            return Ok(None);
        };
        let users = Users::new();
        users.load(&config.smpp_users);
        let params = ServerParams {
            bind_timeout: server.bind_timeout,
            idle_timeout: server.idle_timeout,
            deliver_window: server.deliver_window,
            ..ServerParams::default()
        };
        let shared = Arc::new(Shared {
            store: store.clone(),
            gate: auth::Gate::new(users.clone()),
            params,
            default_validity: config.store.default_validity,
            wake,
        });
        let board = SessionBoard::new();
        let listener = Listener::start(server, shared, board.clone()).await?;
        tracing::info!(event = "smpp_server_listening", address = %listener.local_addr, tls = ?server.tls.mode(), users = config.smpp_users.len(), "SMPP server listening");
        let this = SmppServer {
            users,
            board,
            listener,
            store,
        };
        this.configure(config, routes).await;
        Ok(Some(this))
    }

    /// Takes a reloaded configuration's users: sessions of removed users, and of users
    /// whose credentials or allowed addresses changed, are unbound; the others stay.
    pub async fn reload(&self, config: &Config, routes: &UserRoutes) {
        let ended = self.users.load(&config.smpp_users);
        for user in &ended {
            self.board.unbind_user(user);
        }
        tracing::info!(
            event = "smpp_users_reloaded",
            users = config.smpp_users.len(),
            unbound = ?ended,
            "SMPP users reloaded"
        );
        self.configure(config, routes).await;
    }

    /// Stops accepting, asks every session to unbind and waits (a few seconds at most)
    /// for them to close.
    pub async fn stop(&self) {
        self.listener.stop().await;
        for entry in self.board.all() {
            entry.unbind.notify_one();
        }
        let deadline = tokio::time::Instant::now() + STOP_BOUND;
        while !self.board.all().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn configure(&self, config: &Config, routes: &UserRoutes) {
        routes.set_users(&config.smpp_users);
        let credits = config
            .smpp_users
            .iter()
            .map(|u| (u.name.clone(), u.credits))
            .collect();
        if let Err(e) = self.store.credits_configure(credits).await {
            tracing::error!(event = "smpp_credits_failed", error = %e, "cannot record the SMPP users' credits");
        }
    }
}
