"""The asyncio client: httpx.AsyncClient for calls, `websockets` for subscriptions."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from ._core import INLINE_BLOB_MAX, _Core, _RunItems, blob_ref_of, ends_run, is_terminal, run_id_of
from ._generated import models as m
from ._generated.methods import SUBSCRIPTIONS, AsyncMethods
from .errors import LightspeedError, UnauthorizedError, error_from

_SESSION = SUBSCRIPTIONS["session/notification"]

#: What a subscription yields: a committed event or a live delta of the running turn.
Notification = m.SessionNotificationEvent | m.SessionNotificationDelta


class AsyncClient(AsyncMethods, _Core):
    """Asyncio twin of `Client`, plus `subscribe` and `stream_run` over WebSocket.

        async with AsyncClient() as client:
            async with client.subscribe("demo") as sub:
                async for notification in sub: ...
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        strict: bool = False,
        headers: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        _Core.__init__(self, base_url, api_key, timeout=timeout, strict=strict, headers=headers)
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def call(self, method: str, params: Any = None, /, **fields: Any) -> Any:
        """Calls `method`; returns its result parsed into the generated result model."""
        body = self._envelope(method, params, fields)
        wait_ms = body["params"].get("waitMs") if isinstance(body.get("params"), dict) else None
        response = await self._http.post(self.rpc_url, json=body, headers=self._headers,
                                         timeout=self.timeout + (wait_ms or 0) / 1000)
        return self._decode(method, response.status_code, response.content)

    # -- subscriptions ----------------------------------------------------------------

    def subscribe(
        self,
        session_id: str,
        cursor: int = 0,
        deltas: bool = True,
        *,
        reconnect_attempts_max: int = 10,
        backoff_min_s: float = 0.25,
        backoff_max_s: float = 5.0,
    ) -> Subscription:
        """A `session/subscribe` subscription: committed events after `cursor`, then
        live, with deltas of the running turn when `deltas`. Use as
        `async with client.subscribe(...) as sub: async for n in sub:`."""
        return Subscription(self, session_id, cursor, deltas,
                            reconnect_attempts_max=reconnect_attempts_max,
                            backoff_min_s=backoff_min_s, backoff_max_s=backoff_max_s)

    # -- helpers ----------------------------------------------------------------------

    async def start_run(self, session_id: str, input: Any, submission_id: str | None = None,
                        overrides: Any = None) -> m.RunStartResult:
        """`run/start` with `input` as a str (one text item) or a list of input items."""
        return await self.run_start(self._run_start_params(session_id, input, submission_id, overrides))

    async def await_run(self, session_id: str, run_id: str, timeout_s: float = 300.0,
                  *, poll_wait_ms: int = 10_000) -> m.RunView:
        """Waits until run `run_id` finishes (its `lightspeed.core.run.finished` event,
        read with `session/events/read` long polls); returns its final RunView with
        `items` filled from the run's committed events (the server's views leave them
        out). Raises TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        view = await self.session_read(session_id=session_id)
        in_flight = (view.active_run is not None and view.active_run.run_id == run_id) or (
            run_id in view.queued_run_ids)
        # A run in flight ends after the view's cursor; any other run: search the log.
        cursor = view.event_cursor if in_flight and not is_terminal(view.last_run, run_id) else 0
        collected = _RunItems(run_id)
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise TimeoutError(f"run {run_id} of {session_id} did not finish in {timeout_s} s")
            page = await self.session_events_read(session_id=session_id, cursor=cursor, limit=500,
                                            wait_ms=max(1, min(poll_wait_ms, left_ms, 30_000)))
            for event in page.events:
                collected.add(event)
                if ends_run(event, run_id):
                    if not collected.complete:  # started before `cursor`: read its start
                        await self._collect(session_id, collected, event.cursor)
                    run = event.run or view.last_run
                    if run is None:
                        raise RuntimeError(f"run {run_id} finished without a view")
                    return collected.final(run)
            cursor = page.next_cursor

    async def _collect(self, session_id: str, collected: _RunItems, until: int) -> None:
        collected.items, cursor = [], 0
        while cursor < until:
            page = await self.session_events_read(session_id=session_id, cursor=cursor, limit=500)
            for event in page.events:
                if event.cursor <= until:
                    collected.add(event)
            if not page.events:
                break
            cursor = page.next_cursor

    async def stream_run(self, session_id: str, run_id: str, *, cursor: int = 0,
                         deltas: bool = True, timeout_s: float | None = 300.0
                         ) -> AsyncIterator[Notification]:
        """Run `run_id`'s notifications: live deltas and committed events, ending with
        its `lightspeed.core.run.finished` event. Events after `cursor` are replayed
        first (0: the whole log, so nothing of the run is missed; pass the session's
        `eventCursor` read before `start_run` to skip older history)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        async with self.subscribe(session_id, cursor=cursor, deltas=deltas) as sub:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"run {run_id} of {session_id} did not finish in {timeout_s} s")
                try:
                    notification = await asyncio.wait_for(sub.__anext__(), left)
                except StopAsyncIteration:
                    return
                if isinstance(notification, m.SessionNotificationDelta):
                    if notification.delta.run_id == run_id:
                        yield notification
                    continue
                if run_id_of(notification.event) != run_id:
                    continue
                yield notification
                if ends_run(notification.event, run_id):
                    return

    async def upload_blob(self, data: bytes, *, inline_max: int = INLINE_BLOB_MAX) -> str:
        """Stores `data`; returns its ref (inline up to `inline_max`, else PUT /blobs)."""
        if len(data) <= inline_max:
            return (await self.blob_put(data_base64=base64.b64encode(data).decode())).blob_ref
        ref = blob_ref_of(data)
        headers = {k: v for k, v in self._headers.items() if k != "content-type"}
        headers["content-type"] = "application/octet-stream"
        response = await self._http.put(self._blob_url(ref), content=data, headers=headers)
        if response.status_code != 200:
            raise self._blob_error(response.status_code, response.content, "PUT /blobs")
        return m.BlobPutResult.model_validate(response.json()).blob_ref

    async def download_blob(self, ref: str, *, inline: bool = False) -> bytes:
        """The bytes of blob `ref` (`GET /blobs/{ref}`, or `blob/get` when `inline`)."""
        if inline:
            return base64.b64decode((await self.blob_get(blob_ref=ref)).data_base64)
        headers = {k: v for k, v in self._headers.items() if k != "content-type"}
        response = await self._http.get(self._blob_url(ref), headers=headers)
        if response.status_code != 200:
            raise self._blob_error(response.status_code, response.content, "GET /blobs")
        return response.content


class _Dropped(Exception):
    """The socket went away (or the server ended the subscription to be retried)."""


class Subscription:
    """One session subscription that survives dropped sockets.

    Yields `SessionNotificationEvent` and `SessionNotificationDelta`. After a drop it
    reconnects with exponential backoff and resubscribes after the cursor of the last
    committed event it yielded, so every committed event arrives exactly once (events
    at or before that cursor are skipped should a server repeat them). Deltas sent
    while disconnected are lost; the committed event that follows has the final item.
    """

    def __init__(self, client: AsyncClient, session_id: str, cursor: int, deltas: bool, *,
                 reconnect_attempts_max: int, backoff_min_s: float, backoff_max_s: float) -> None:
        self._client = client
        self.session_id = session_id
        #: Cursor of the last committed event yielded (the resume point).
        self.cursor = cursor
        self.deltas = deltas
        self.reconnect_attempts_max = reconnect_attempts_max
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        #: How many times the subscription was reopened after a drop.
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._subscription_id: Any = None
        self._pending: list[dict[str, Any]] = []
        self._closed = False
        self._opened = False

    async def __aenter__(self) -> Subscription:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription:
        return self

    async def aclose(self) -> None:
        """Unsubscribes (best effort) and closes the socket."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            if self._subscription_id is not None:
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": _SESSION.unsubscribe,
                                          "params": [self._subscription_id]}))
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        await ws.close()

    def drop_connection(self) -> None:
        """Aborts the socket without a close handshake, as a network failure would
        (for tests). Messages it had buffered are discarded; the next read
        reconnects and resumes after `cursor`."""
        ws, self._ws = self._ws, None
        self._pending = []
        if ws is not None:
            transport = getattr(ws, "transport", None)
            if transport is not None:
                transport.abort()

    async def _open(self) -> None:
        """Connects and subscribes after `self.cursor`; retries with backoff."""
        attempt = 0
        while True:
            try:
                await self._subscribe_once()
                return
            except (LightspeedError, _Dropped, OSError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException) as err:
                if not _retryable(err):
                    raise
                attempt += 1
                if attempt > self.reconnect_attempts_max:
                    raise ConnectionError(
                        f"subscription to {self.session_id}: gave up after {attempt - 1} "
                        f"reconnects: {err}") from err
                delay = min(self.backoff_max_s, self.backoff_min_s * 2 ** (attempt - 1))
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))

    async def _subscribe_once(self) -> None:
        client = self._client
        headers = {"Authorization": f"Bearer {client.api_key}"} if client.api_key else {}
        try:
            ws = await connect(client.ws_url, additional_headers=headers, max_size=64 * 1024 * 1024,
                               open_timeout=client.timeout)
        except websockets.exceptions.InvalidStatus as err:
            status = err.response.status_code
            if status == 401:
                raise UnauthorizedError(-32000, "the gateway refused the API key") from err
            raise
        params = {"sessionId": self.session_id, "cursor": self.cursor, "deltas": self.deltas}
        request_id = client._request_id()
        try:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id,
                                      "method": _SESSION.subscribe, "params": params}))
            pending: list[dict[str, Any]] = []
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), client.timeout))
                if message.get("id") == request_id:
                    break
                pending.append(message)
        except BaseException:
            await ws.close()
            raise
        if message.get("error") is not None:
            await ws.close()
            raise error_from(message["error"], method=_SESSION.subscribe)
        client.answered_methods.add(_SESSION.subscribe)
        self._ws = ws
        self._subscription_id = message.get("result")
        self._pending = pending
        self._opened = True

    async def __anext__(self) -> Notification:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._ws is None:
                if self._opened:
                    self.reconnects += 1
                await self._open()
            try:
                notification = await self._next_notification()
            except _Dropped:
                ws, self._ws = self._ws, None
                if ws is not None and getattr(ws, "transport", None) is not None:
                    ws.transport.abort()
                continue
            if notification is None:
                continue
            return notification

    async def _next_notification(self) -> Notification | None:
        assert self._ws is not None
        if self._pending:
            message = self._pending.pop(0)
        else:
            try:
                message = json.loads(await self._ws.recv())
            except websockets.exceptions.ConnectionClosed as err:
                raise _Dropped(str(err)) from err
            except OSError as err:
                raise _Dropped(str(err)) from err
        if message.get("method") != _SESSION.notification:
            return None  # e.g. the answer to an unsubscribe
        params = message.get("params") or {}
        if params.get("subscription") != self._subscription_id:
            return None
        if "error" in params:
            error = error_from(params["error"], method=_SESSION.notification)
            if error.kind == "overloaded":  # subscriberTooSlow: resubscribe from the cursor
                raise _Dropped(str(error))
            if error.reason == "subscriptionEnded":
                self._closed = True
                raise StopAsyncIteration
            raise error
        item = _SESSION.item.model_validate(params.get("result")).root
        if isinstance(item, m.SessionNotificationEvent):
            if item.event.cursor <= self.cursor:
                return None  # already yielded before a reconnect
            self.cursor = item.event.cursor
        return item


def _retryable(err: BaseException) -> bool:
    if isinstance(err, LightspeedError):
        return err.kind in ("overloaded", "internal")
    if isinstance(err, websockets.exceptions.InvalidStatus):
        return err.response.status_code >= 500 or err.response.status_code == 429
    return True
