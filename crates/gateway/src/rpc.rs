//! The JSON-RPC module: every method and subscription of the `api` table, registered
//! by name, each handing its params to `api::dispatch` / `api::subscribe` untouched.

use std::sync::Arc;

use api::{ApiError, Caller, ErrorKind, LightspeedApi};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use jsonrpsee::core::SubscriptionError;
use jsonrpsee::server::{
    Extensions, PendingSubscriptionSink, RegisterMethodError, ResponsePayload, RpcModule,
    SubscriptionCloseResponse, SubscriptionMessage, SubscriptionSink, TrySendError,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde_json::Value;

use crate::auth::{AuthOutcome, Denial};
use crate::operator::{self, KeyAdmin};
use crate::outbox::Outbox;

/// The wire form of an API error: its stable code, message and typed `data`.
///
/// A server fault's message is the backend's own text, which can hold paths, SQL or
/// other internals: it is logged here and replaced on the wire; the typed `data`
/// (kind and reason) stays.
pub(crate) fn error_object(err: ApiError) -> ErrorObjectOwned {
    if err.kind() == ErrorKind::Internal {
        tracing::error!(message = %err.message, data = ?err.data, "server fault");
        return ErrorObjectOwned::owned(err.code(), INTERNAL_MESSAGE, Some(err.data));
    }
    ErrorObjectOwned::owned(err.code(), err.message, Some(err.data))
}

/// What a client reads for any server fault.
const INTERNAL_MESSAGE: &str = "internal server error; see the server log";

/// The caller the middleware admitted. The middleware refuses calls without one, so
/// a missing caller here means the module was mounted without it: fail closed.
fn caller_of(extensions: &Extensions) -> Result<Caller, ApiError> {
    match extensions.get::<AuthOutcome>() {
        Some(AuthOutcome::Caller(caller)) => Ok(caller.clone()),
        Some(AuthOutcome::Denied(denial)) => Err(denial.to_api_error()),
        None => Err(Denial::MissingKey.to_api_error()),
    }
}

/// The params as one JSON value (`null` when absent); the `api` crate decodes them.
fn params_value(params: &Params<'_>) -> Result<Value, ApiError> {
    params
        .parse::<Value>()
        .map_err(|err| ApiError::invalid_params(err.message().to_owned()))
}

/// On a WebSocket, hands the answer's delivery to the socket's [`Outbox`], which
/// closes the socket when answers pile up unread; jsonrpsee itself would park them
/// without bound (one task per message, each holding its whole answer).
fn watched(
    payload: ResponsePayload<'static, Value>,
    extensions: &Extensions,
) -> ResponsePayload<'static, Value> {
    let Some(outbox) = extensions.get::<Arc<Outbox>>() else {
        return payload;
    };
    let (payload, delivered) = payload.notify_on_completion();
    outbox.watch_delivery(delivered);
    payload
}

/// Calls `method`: the operator's methods here (the gateway holds the keys), every
/// other one in the backend. Either way the caller's key must be of the method's kind.
async fn call<A: LightspeedApi>(
    api: &A,
    keys: &dyn KeyAdmin,
    caller: &Caller,
    method: &str,
    params: Value,
) -> Result<Value, ApiError> {
    api::check_role(caller, method)?;
    if method.starts_with(api::OPERATOR_METHOD_PREFIX) {
        operator::serve(api, keys, caller, method, params).await
    } else {
        api::dispatch(api, caller, method, params).await
    }
}

/// Registers every method and subscription of the contract on one module.
pub(crate) fn module<A: LightspeedApi>(
    api: Arc<A>,
    keys: Arc<dyn KeyAdmin>,
) -> Result<RpcModule<A>, RegisterMethodError> {
    let mut module = RpcModule::from_arc(api);
    for spec in api::METHODS {
        let method = spec.name;
        let keys = Arc::clone(&keys);
        module.register_async_method(method, move |params, api, extensions| {
            let keys = Arc::clone(&keys);
            async move {
                let result = match (caller_of(&extensions), params_value(&params)) {
                    (Ok(caller), Ok(params)) => {
                        call(api.as_ref(), keys.as_ref(), &caller, method, params)
                            .await
                            .map_err(error_object)
                    }
                    (Err(err), _) | (_, Err(err)) => Err(error_object(err)),
                };
                let payload = match result {
                    Ok(value) => ResponsePayload::success(value),
                    Err(err) => ResponsePayload::error(err),
                };
                watched(payload, &extensions)
            }
        })?;
    }
    for spec in api::SUBSCRIPTIONS {
        let method = spec.subscribe;
        module.register_subscription(
            spec.subscribe,
            spec.notification,
            spec.unsubscribe,
            move |params, pending, api, extensions| async move {
                open_subscription(api.as_ref(), method, params, pending, extensions).await
            },
        )?;
    }
    Ok(module)
}

async fn open_subscription<A: LightspeedApi>(
    api: &A,
    method: &'static str,
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    extensions: Extensions,
) -> SubscriptionCloseResponse {
    let opened = match (caller_of(&extensions), params_value(&params)) {
        (Ok(caller), Ok(params)) => api::subscribe(api, &caller, method, params).await,
        (Err(err), _) | (_, Err(err)) => Err(err),
    };
    let stream = match opened {
        Ok(stream) => stream,
        Err(err) => {
            pending.reject(error_object(err)).await;
            return SubscriptionCloseResponse::None;
        }
    };
    let Ok(sink) = pending.accept().await else {
        // The client went away before the subscription was confirmed.
        return SubscriptionCloseResponse::None;
    };
    let outbox = extensions.get::<Arc<Outbox>>().cloned();
    // An open subscription keeps its socket from counting as idle.
    let _open = outbox.as_ref().map(Outbox::subscription);
    pipe(stream, sink, outbox.as_deref()).await
}

/// How a subscription's pipe ended.
enum PipeEnd {
    /// The client unsubscribed or disconnected: nothing more to send.
    ClientGone,
    /// The backend's stream finished.
    StreamEnded,
    /// The client's buffer was full (in messages or bytes): the subscription is
    /// dropped, not waited for.
    TooSlow,
}

/// Forwards notifications until the stream ends, the client goes away, or the
/// client falls `ws_queued_messages_max` messages or `ws_queued_bytes_max` bytes
/// behind.
async fn pipe(
    mut stream: BoxStream<'static, Value>,
    mut sink: SubscriptionSink,
    outbox: Option<&Outbox>,
) -> SubscriptionCloseResponse {
    let end = loop {
        let item = tokio::select! {
            () = sink.closed() => break PipeEnd::ClientGone,
            item = stream.next() => item,
        };
        let Some(item) = item else {
            break PipeEnd::StreamEnded;
        };
        // A stream that is always ready would keep this runtime thread until the
        // queue is full; other sockets' calls get their turn.
        tokio::task::coop::consume_budget().await;
        let (message, bytes) = match serde_json::value::to_raw_value(&item) {
            Ok(raw) => {
                let bytes = raw.get().len();
                (SubscriptionMessage::from(raw), bytes)
            }
            // A `Value` always encodes; should it not, drop the item, not the stream.
            Err(err) => {
                tracing::error!(error = %err, "encoding a notification failed");
                continue;
            }
        };
        // Counted before it is queued, so its frame can never be written first.
        if outbox.is_some_and(|outbox| !outbox.notification_fits(bytes)) {
            break PipeEnd::TooSlow;
        }
        let end = match sink.try_send(message) {
            Ok(()) => continue,
            Err(TrySendError::Closed(_)) => PipeEnd::ClientGone,
            Err(TrySendError::Full(_)) => PipeEnd::TooSlow,
        };
        if let Some(outbox) = outbox {
            outbox.notification_dropped(bytes);
        }
        break end;
    };
    // Dropping the stream here releases the backend's resources at once.
    drop(stream);
    match end {
        PipeEnd::ClientGone => SubscriptionCloseResponse::None,
        PipeEnd::StreamEnded => close_notification(
            ApiError::not_found("the subscription's stream ended").with_reason("subscriptionEnded"),
        ),
        PipeEnd::TooSlow => {
            telemetry::metrics().subscription_dropped();
            tracing::warn!(
                subscription = ?sink.subscription_id(),
                "dropping a subscriber that fell too far behind"
            );
            close_notification(
                ApiError::new(
                    ErrorKind::Overloaded,
                    "the subscriber fell too far behind; resubscribe from the last cursor",
                )
                .with_reason("subscriberTooSlow"),
            )
        }
    }
}

/// The last message of a subscription: a notification whose `params.error` is a
/// JSON-RPC error object, which jsonrpsee clients treat as the end of the stream.
fn close_notification(err: ApiError) -> SubscriptionCloseResponse {
    match serde_json::value::to_raw_value(&error_object(err)) {
        Ok(raw) => SubscriptionCloseResponse::NotifErr(SubscriptionError::from_json(raw)),
        Err(_) => SubscriptionCloseResponse::None,
    }
}
