//! The JSON-RPC middleware every call passes: the auth gate (with `auth/hello` on
//! WebSockets opened without a key, `ws_auth`), the transport check, the
//! per-connection in-flight bound, the outbound byte bound of WebSockets, and the
//! call log.
//!
//! jsonrpsee builds one middleware instance per WebSocket connection and one per HTTP
//! request (see `jsonrpsee_server::TowerServiceNoHttp::call`), so a counter created in
//! [`GatewayRpcLayer::layer`] counts exactly one connection's calls. Batches are
//! unrolled here, call by call, because jsonrpsee's own batch handling would skip
//! this middleware for the calls inside a batch.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use api::{ApiError, ErrorKind};
use jsonrpsee::server::middleware::rpc::{Batch, BatchEntry, Notification, Request, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, Extensions, MethodResponse, ResponsePayload};
use jsonrpsee::types::error::{
    OVERSIZED_RESPONSE_CODE, TOO_BIG_BATCH_RESPONSE_CODE, TOO_MANY_SUBSCRIPTIONS_CODE,
};
use jsonrpsee::types::{ErrorObjectOwned, Id};

use crate::auth::{AuthOutcome, Denial};
use crate::connections::UniverseWork;
use crate::envelope::INVALID_REQUEST;
use crate::outbox::Outbox;
use crate::rpc::error_object;
use crate::traced::{self, RemoteParent};
use crate::ws_auth::{AUTH_HELLO, Gate, WsAuth};
use telemetry::traces::FutureExt as _;

/// Which transport a call came over; set by the `/rpc` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    WebSocket,
}

/// Builds a [`GatewayRpc`] per connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatewayRpcLayer {
    pub(crate) in_flight_max: u32,
    pub(crate) response_bytes_max: u32,
    /// Largest params of one call. jsonrpsee's `ws::connect` bounds WebSocket
    /// messages by the response size, not the request size, so the request bound is
    /// applied here, to every call.
    pub(crate) request_bytes_max: u32,
}

impl<S> tower::Layer<S> for GatewayRpcLayer {
    type Service = GatewayRpc<S>;

    fn layer(&self, inner: S) -> GatewayRpc<S> {
        GatewayRpc {
            inner,
            in_flight: Arc::new(InFlight {
                count: AtomicU32::new(0),
                max: self.in_flight_max,
            }),
            response_bytes_max: self.response_bytes_max,
            request_bytes_max: self.request_bytes_max,
        }
    }
}

/// One connection's middleware.
#[derive(Debug, Clone)]
pub(crate) struct GatewayRpc<S> {
    inner: S,
    in_flight: Arc<InFlight>,
    response_bytes_max: u32,
    request_bytes_max: u32,
}

#[derive(Debug)]
struct InFlight {
    count: AtomicU32,
    max: u32,
}

/// One call's place in its connection's in-flight count; released on drop, so a
/// call abandoned by a closed connection frees its place too.
struct Slot(Arc<InFlight>);

impl Slot {
    fn try_acquire(in_flight: &Arc<InFlight>) -> Option<Self> {
        in_flight
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < in_flight.max).then_some(count + 1)
            })
            .ok()
            .map(|_| Self(Arc::clone(in_flight)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A call the middleware lets through.
struct Admitted {
    key_id: String,
    universe_id: String,
    /// `None` for unsubscribe calls, which are never refused.
    _slot: Option<Slot>,
}

/// Where a call goes.
enum Route {
    /// To the backend once admitted, or answered with the refusal.
    Backend(Result<Admitted, ErrorObjectOwned>),
    /// The `auth/hello` of a WebSocket opened without a key: answered here.
    Hello(Arc<WsAuth>),
}

/// Counts an answer the socket will write toward its outbound byte bound.
/// Notification responses are never written.
fn count_answer(extensions: &Extensions, response: &MethodResponse) {
    if let Some(outbox) = extensions.get::<Arc<Outbox>>()
        && !response.is_notification()
    {
        outbox.answer_queued(response.as_json().get().len());
    }
}

/// A message that is no call (a notification or a batch) on a WebSocket opened
/// without a key is not its `auth/hello` either: the socket is refused.
fn not_a_hello(extensions: &Extensions) {
    if let Some(auth) = extensions.get::<Arc<WsAuth>>() {
        let _ = auth.gate(false);
    }
}

/// Longest method name logged: names come from clients, logs should stay bounded.
const LOGGED_METHOD_CHARS_MAX: usize = 128;

fn loggable(method: &str) -> String {
    method.chars().take(LOGGED_METHOD_CHARS_MAX).collect()
}

/// `method` as a metric label: a contract method (or the gateway's own
/// `auth/hello`), else `unknown`, so callers cannot grow the label set.
fn metric_method(method: &str) -> &str {
    let known = api::METHODS.iter().any(|spec| spec.name == method)
        || method == crate::ws_auth::AUTH_HELLO
        || api::SUBSCRIPTIONS
            .iter()
            .any(|sub| sub.subscribe == method || sub.unsubscribe == method);
    if known { method } else { "unknown" }
}

fn is_subscribe(method: &str) -> bool {
    api::SUBSCRIPTIONS.iter().any(|sub| sub.subscribe == method)
}

fn is_unsubscribe(method: &str) -> bool {
    api::SUBSCRIPTIONS
        .iter()
        .any(|sub| sub.unsubscribe == method)
}

/// jsonrpsee answers some limits with its own codes, outside the contract (and
/// without typed `data`); those are mapped to the contract here. Codes jsonrpsee
/// shares with the contract (-32000, -32001, -32009, -32010) are not touched: the
/// gateway refuses those cases itself before jsonrpsee would.
fn contract_response(id: Id<'static>, response: MethodResponse) -> MethodResponse {
    let refusal = match response.as_error_code() {
        Some(TOO_MANY_SUBSCRIPTIONS_CODE) => ApiError::new(
            ErrorKind::Overloaded,
            "too many subscriptions on this connection",
        )
        .with_reason("connectionSubscriptions"),
        Some(OVERSIZED_RESPONSE_CODE | TOO_BIG_BATCH_RESPONSE_CODE) => {
            ApiError::rejected("the answer is larger than the gateway's response limit")
                .with_reason("responseTooLarge")
        }
        _ => return response,
    };
    MethodResponse::error(id, error_object(refusal))
}

impl<S> GatewayRpc<S> {
    /// On a WebSocket opened without a key the caller comes from its `auth/hello`
    /// and is put in the call's extensions here; every other connection's came with
    /// its request.
    fn route(&self, request: &mut Request<'_>) -> Route {
        let is_hello = request.method_name() == AUTH_HELLO;
        if let Some(auth) = request.extensions().get::<Arc<WsAuth>>().cloned() {
            match auth.gate(is_hello) {
                Gate::Hello => return Route::Hello(auth),
                Gate::Refused(err) => return Route::Backend(Err(error_object(err))),
                Gate::Caller(caller, work) => {
                    let extensions = request.extensions_mut();
                    extensions.insert(AuthOutcome::Caller(caller));
                    if let Some(work) = work {
                        extensions.insert(work);
                    }
                }
            }
        }
        if is_hello {
            return Route::Backend(Err(error_object(
                ApiError::rejected(
                    "auth/hello is only the first message of a WebSocket opened without a key",
                )
                .with_reason("unexpectedHello"),
            )));
        }
        Route::Backend(self.admit(request))
    }

    fn admit(&self, request: &Request<'_>) -> Result<Admitted, ErrorObjectOwned> {
        let method = request.method_name();
        let caller = match request.extensions().get::<AuthOutcome>() {
            Some(AuthOutcome::Caller(caller)) => caller,
            Some(AuthOutcome::Denied(denial)) => return Err(error_object(denial.to_api_error())),
            // Every `/rpc` request gets an outcome; without one, fail closed.
            None => return Err(error_object(Denial::MissingKey.to_api_error())),
        };
        if let Some(outbox) = request.extensions().get::<Arc<Outbox>>() {
            outbox.touch();
        }
        let params_bytes = request.params().as_str().map_or(0, str::len);
        if params_bytes > self.request_bytes_max as usize {
            return Err(ErrorObjectOwned::owned(
                INVALID_REQUEST,
                format!(
                    "the request is larger than {} bytes",
                    self.request_bytes_max
                ),
                Some(serde_json::json!({"kind": "invalidRequest", "reason": "requestTooLarge"})),
            ));
        }
        let transport = request.extensions().get::<Transport>().copied();
        if is_subscribe(method) && transport != Some(Transport::WebSocket) {
            return Err(error_object(
                ApiError::rejected(format!("{method} needs a WebSocket connection"))
                    .with_reason("webSocketRequired"),
            ));
        }
        let slot = if is_unsubscribe(method) {
            None
        } else {
            let Some(slot) = Slot::try_acquire(&self.in_flight) else {
                return Err(error_object(
                    ApiError::new(
                        ErrorKind::Overloaded,
                        format!(
                            "more than {} calls in flight on this connection; retry later",
                            self.in_flight.max
                        ),
                    )
                    .with_reason("connectionInFlight"),
                ));
            };
            Some(slot)
        };
        Ok(Admitted {
            key_id: caller.key_id.clone(),
            universe_id: caller.universe_id.clone(),
            _slot: slot,
        })
    }
}

impl<S> RpcServiceT for GatewayRpc<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        mut request: Request<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        let started = Instant::now();
        let route = self.route(&mut request);
        let inner = self.inner.clone();
        let response_bytes_max = self.response_bytes_max as usize;
        async move {
            let method = loggable(request.method_name());
            let extensions = request.extensions().clone();
            let outbox = extensions.get::<Arc<Outbox>>().cloned();
            let id = request.id.clone().into_owned();
            let (response, admitted) = match route {
                Route::Hello(auth) => {
                    let answer = match auth.hello(request.params().as_str()).await {
                        Ok(value) => MethodResponse::response(
                            id,
                            ResponsePayload::success(value),
                            response_bytes_max,
                        ),
                        Err(err) => MethodResponse::error(id, error_object(err)),
                    };
                    (answer, None)
                }
                Route::Backend(Ok(admitted)) => {
                    // A call whose answer could not be written yet is not served yet.
                    let room = match &outbox {
                        Some(outbox) => outbox.room_for_answer().await,
                        None => true,
                    };
                    // Over WebSocket the call is served within its universe's request
                    // budget (over HTTP the whole body was, before it got here).
                    // Unsubscribing is never held up.
                    let work = match extensions.get::<UniverseWork>() {
                        Some(work) if room && !is_unsubscribe(request.method_name()) => {
                            let bytes = request.params().as_str().map_or(0, str::len);
                            work.enter(bytes).await
                        }
                        _ => None,
                    };
                    let response = if room {
                        let trace = telemetry::traces::enabled().then(|| {
                            traced::start(
                                metric_method(&method),
                                &admitted.universe_id,
                                request.params().as_str(),
                                extensions.get::<RemoteParent>(),
                            )
                        });
                        let call = inner.call(request);
                        let response = match &trace {
                            // The host's calls (a Temporal update, say) become children.
                            Some(trace) => call.with_context(trace.clone()).await,
                            None => call.await,
                        };
                        let response = contract_response(id, response);
                        if let Some(trace) = &trace {
                            traced::finish(trace, &response);
                        }
                        drop(work);
                        response
                    } else {
                        MethodResponse::error(
                            id,
                            error_object(
                                ApiError::new(
                                    ErrorKind::Overloaded,
                                    "this socket's answers are not read; it is closing",
                                )
                                .with_reason("outboundQueueFull"),
                            ),
                        )
                    };
                    (response, Some(admitted))
                }
                Route::Backend(Err(refusal)) => (MethodResponse::error(id, refusal), None),
            };
            count_answer(&extensions, &response);
            if let Some(auth) = extensions.get::<Arc<WsAuth>>() {
                auth.answered();
            }
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let code = response.as_error_code().unwrap_or(0);
            telemetry::metrics().rpc_call(metric_method(&method), code, started.elapsed());
            // Never the key: only its public id.
            match &admitted {
                Some(admitted) => tracing::info!(
                    method = %method,
                    duration_ms,
                    code,
                    ok = code == 0,
                    key_id = %admitted.key_id,
                    universe_id = %admitted.universe_id,
                    "rpc call"
                ),
                None => tracing::info!(
                    method = %method,
                    duration_ms,
                    code,
                    ok = code == 0,
                    "rpc call without a caller"
                ),
            }
            // Releases the call's in-flight place now that its answer exists.
            drop(admitted);
            response
        }
    }

    fn batch<'a>(&self, mut batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        let over_websocket = batch.extensions().get::<Transport>() == Some(&Transport::WebSocket);
        async move {
            // A batch's answer carries no delivery notice in jsonrpsee 0.26, so the
            // socket's outbox could not bound it: over WebSocket, calls are pipelined
            // one by one instead (each answer is watched).
            if over_websocket {
                not_a_hello(batch.extensions());
                let refusal = MethodResponse::error(
                    Id::Null,
                    ErrorObjectOwned::owned(
                        INVALID_REQUEST,
                        "batches are served over HTTP; over WebSocket send the calls one by one",
                        Some(
                            serde_json::json!({"kind": "invalidRequest", "reason": "batchOverWebSocket"}),
                        ),
                    ),
                );
                count_answer(batch.extensions(), &refusal);
                return refusal;
            }
            let mut responses =
                BatchResponseBuilder::new_with_limit(this.response_bytes_max as usize);
            let mut got_notification = false;
            for entry in batch {
                let response = match entry {
                    Ok(BatchEntry::Call(request)) => this.call(request).await,
                    Ok(BatchEntry::Notification(notification)) => {
                        got_notification = true;
                        this.inner.notification(notification).await;
                        continue;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        MethodResponse::error(id, err)
                    }
                };
                if let Err(too_large) = responses.append(response) {
                    return too_large;
                }
            }
            if responses.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(responses.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        notification: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        // jsonrpsee reads a message whose `id` is an object or an array as a
        // notification (its `Notification` ignores unknown fields), so silence here
        // would hide an envelope violation. Every method of the contract is a call, so
        // a notification is answered `-32600` with `id: null` (a deliberate deviation
        // from JSON-RPC's "no answer to notifications"). It never reaches the backend.
        not_a_hello(notification.extensions());
        let refusal = MethodResponse::error(
            Id::Null,
            ErrorObjectOwned::owned(
                INVALID_REQUEST,
                "every method is a call: send a string or number `id`",
                Some(serde_json::json!({"kind": "invalidRequest", "reason": "invalidId"})),
            ),
        );
        count_answer(notification.extensions(), &refusal);
        std::future::ready(refusal)
    }
}
