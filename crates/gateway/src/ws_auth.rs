//! First-message authentication of WebSockets opened without a key.
//!
//! Browsers cannot set `Authorization` on a WebSocket upgrade. So an upgrade without
//! that header (and with first-message authentication on) is accepted into a
//! pre-auth state: the socket holds one place of a small pool of its own
//! (`ws_preauth_connections_max`, apart from every universe's, since whose socket it
//! is is not known yet) and must authenticate within `ws_auth_timeout_ms` with its
//! first message:
//!
//! ```json
//! {"jsonrpc": "2.0", "id": 1, "method": "auth/hello", "params": {"apiKey": "lsk_..."}}
//! ```
//!
//! answered `{"universeId": ..., "keyId": ...}`. The socket then takes a place of its
//! universe (like an upgrade with the header) and gives the pre-auth place back;
//! every later call acts as that caller. A wrong key, bad params, any other first
//! message, or no `auth/hello` in time get a typed error (`-32000`, `-32602`, or
//! `-32001` without a place) and a Close frame (`outbox::CloseReason`). A client
//! sends nothing else until the answer arrives: jsonrpsee serves a socket's messages
//! concurrently, so "first" is the first one the gateway sees.
//!
//! Why a JSON-RPC call rather than a `Sec-WebSocket-Protocol` token: the key would
//! travel in a header that proxies and servers log as ordinary metadata, and
//! jsonrpsee's handshake does not negotiate subprotocols. A message body is never
//! logged. `auth/hello` is the gateway's, not the contract's (no backend serves it),
//! so it is not in `api::METHODS`; it is documented here and in the README.

use std::sync::{Arc, Mutex, PoisonError};

use api::{ApiError, Caller, ErrorKind};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use crate::auth::{AuthOutcome, Denial, ResolveKey, SocketKey};
use crate::connections::{Connections, Place, UniverseWork};
use crate::keys::hash_key;
use crate::outbox::{CloseReason, Outbox};

/// The method that authenticates a WebSocket opened without a key.
pub(crate) const AUTH_HELLO: &str = "auth/hello";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HelloParams {
    api_key: String,
}

/// Where a socket opened without a key stands.
#[derive(Debug)]
enum State {
    /// Waiting for `auth/hello`, on a pre-auth place.
    Waiting(OwnedSemaphorePermit),
    /// `auth/hello` arrived and is being checked.
    Checking(OwnedSemaphorePermit),
    /// The key's caller, on a place of its universe.
    Authenticated { caller: Caller, place: Place },
    /// Refused and closing; the pre-auth place is held until the socket is gone, so
    /// refused sockets cannot outnumber the pool.
    Refused {
        _preauth: OwnedSemaphorePermit,
        /// Why the socket closes, until the answer that refused it has been counted
        /// into the outbox ([`WsAuth::answered`]): closing first would race the
        /// typed error that explains the close.
        close_due: Option<CloseReason>,
    },
    /// The socket is gone.
    Released,
}

/// What a call on a socket opened without a key may do.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Act as this caller, within its universe's request budget.
    Caller(Caller, Option<UniverseWork>),
    /// This is the socket's `auth/hello`: [`WsAuth::hello`] answers it.
    Hello,
    /// Refused; the socket is closing.
    Refused(ApiError),
}

/// The authentication state of one WebSocket opened without a key; travels in the
/// connection's extensions, so its middleware sees it on every call.
pub(crate) struct WsAuth {
    state: Mutex<State>,
    keys: Arc<dyn ResolveKey>,
    connections: Arc<Connections>,
    outbox: Arc<Outbox>,
    /// Set by a successful `auth/hello`, so the socket's key is looked up again.
    key: Arc<SocketKey>,
}

impl std::fmt::Debug for WsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsAuth")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn auth_required() -> ApiError {
    ApiError::new(
        ErrorKind::Unauthorized,
        "this WebSocket was opened without a key: its first message must be auth/hello",
    )
    .with_reason("authRequired")
}

impl WsAuth {
    pub(crate) fn new(
        preauth: OwnedSemaphorePermit,
        keys: Arc<dyn ResolveKey>,
        connections: Arc<Connections>,
        outbox: Arc<Outbox>,
        key: Arc<SocketKey>,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::Waiting(preauth)),
            keys,
            connections,
            outbox,
            key,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every transition is one assignment: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses the socket: from `Waiting` or `Checking` to `Refused`. It closes once
    /// the refusing answer is on its way ([`Self::answered`]).
    fn refuse(&self, state: &mut State, reason: CloseReason) {
        match std::mem::replace(state, State::Released) {
            State::Waiting(permit) | State::Checking(permit) => {
                *state = State::Refused {
                    _preauth: permit,
                    close_due: Some(reason),
                };
            }
            other => *state = other,
        }
    }

    /// The answer to a message of this socket was counted into its outbox: a close
    /// that waited for it (the answer explains it) may start now, and lets it out
    /// first.
    pub(crate) fn answered(&self) {
        let due = match &mut *self.lock() {
            State::Refused { close_due, .. } => close_due.take(),
            _ => None,
        };
        if let Some(reason) = due {
            self.outbox.close(reason);
        }
    }

    /// Decides a message on this socket: `is_hello` for `auth/hello`.
    pub(crate) fn gate(&self, is_hello: bool) -> Gate {
        let mut state = self.lock();
        match &*state {
            State::Authenticated { caller, place } => Gate::Caller(caller.clone(), place.work()),
            State::Waiting(_) if is_hello => {
                if let State::Waiting(permit) = std::mem::replace(&mut *state, State::Released) {
                    *state = State::Checking(permit);
                }
                Gate::Hello
            }
            State::Waiting(_) | State::Checking(_) => {
                self.refuse(&mut state, CloseReason::AuthRequired);
                Gate::Refused(auth_required())
            }
            State::Refused { .. } | State::Released => Gate::Refused(auth_required()),
        }
    }

    /// Answers the socket's `auth/hello` (after [`Self::gate`] said [`Gate::Hello`]).
    pub(crate) async fn hello(&self, params: Option<&str>) -> Result<Value, ApiError> {
        // The message names no field or value: either could be (part of) a key.
        let Ok(params) = serde_json::from_str::<HelloParams>(params.unwrap_or("null")) else {
            self.refuse(&mut self.lock(), CloseReason::AuthFailed);
            return Err(ApiError::invalid_params(
                "auth/hello takes {\"apiKey\": \"<key>\"}",
            ));
        };
        let outcome = self.keys.resolve(&params.api_key).await;
        let mut state = self.lock();
        if !matches!(&*state, State::Checking(_)) {
            // The deadline passed while the key store answered: the socket is closing.
            return Err(auth_required());
        }
        let caller = match outcome {
            AuthOutcome::Caller(caller) => caller,
            AuthOutcome::Denied(
                denial @ (Denial::MissingKey | Denial::UnknownKey | Denial::Revoked),
            ) => {
                self.refuse(&mut state, CloseReason::AuthFailed);
                return Err(denial.to_api_error());
            }
            AuthOutcome::Denied(denial @ Denial::StoreFailed) => {
                self.refuse(&mut state, CloseReason::KeyStoreFailed);
                return Err(denial.to_api_error());
            }
        };
        let place = match self.connections.acquire(Some(&caller.universe_id)) {
            Ok(place) => place,
            Err(no_place) => {
                self.refuse(&mut state, CloseReason::NoPlace);
                return Err(no_place.to_api_error());
            }
        };
        // Never the key: only its public id.
        tracing::info!(
            key_id = %caller.key_id,
            universe_id = %caller.universe_id,
            "websocket authenticated by auth/hello"
        );
        self.key.set(hash_key(&params.api_key));
        let answer = json!({"universeId": caller.universe_id, "keyId": caller.key_id});
        // Replacing `Checking` gives the pre-auth place back.
        *state = State::Authenticated { caller, place };
        Ok(answer)
    }

    /// The authentication deadline passed: a socket not authenticated by now closes.
    pub(crate) fn expire(&self) {
        let mut state = self.lock();
        if matches!(&*state, State::Waiting(_) | State::Checking(_)) {
            self.refuse(&mut state, CloseReason::AuthTimeout);
        }
        drop(state);
        // No answer explains a deadline: close now.
        self.answered();
    }

    /// The socket is gone: every place it held is given back.
    pub(crate) fn release(&self) {
        *self.lock() = State::Released;
    }
}
