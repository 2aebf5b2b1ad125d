"""The synchronous client (httpx)."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._core import INLINE_BLOB_MAX, _Core, _RunItems, blob_ref_of, ends_run, is_terminal
from ._generated import models as m
from ._generated.methods import SyncMethods


class Client(SyncMethods, _Core):
    """JSON-RPC over HTTP: `call(method, params)` and one method per API method.

        with Client("http://127.0.0.1:8080", "lsk_...") as client:
            view = client.session_read(session_id="demo")

    `base_url` and `api_key` default to $LIGHTSPEED_API_URL and $LIGHTSPEED_API_KEY.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        strict: bool = False,
        headers: Mapping[str, str] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        _Core.__init__(self, base_url, api_key, timeout=timeout, strict=strict, headers=headers)
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: Any = None, /, **fields: Any) -> Any:
        """Calls `method`; returns its result parsed into the generated result model.

        Raises LightspeedError (a subclass per kind) for JSON-RPC errors.
        """
        body = self._envelope(method, params, fields)
        response = self._http.post(self.rpc_url, json=body, headers=self._headers,
                                   timeout=self._timeout_for(body))
        return self._decode(method, response.status_code, response.content)

    def _timeout_for(self, body: dict[str, Any]) -> float:
        wait_ms = body["params"].get("waitMs") if isinstance(body.get("params"), dict) else None
        return self.timeout + (wait_ms or 0) / 1000

    # -- helpers ----------------------------------------------------------------------

    def start_run(self, session_id: str, input: Any, submission_id: str | None = None,
                  overrides: Any = None) -> m.RunStartResult:
        """`run/start` with `input` as a str (one text item) or a list of input items;
        a fresh submission id unless one is given (the same id is idempotent)."""
        return self.run_start(self._run_start_params(session_id, input, submission_id, overrides))

    def await_run(self, session_id: str, run_id: str, timeout_s: float = 300.0,
                  *, poll_wait_ms: int = 10_000) -> m.RunView:
        """Waits until run `run_id` finishes (its `lightspeed.core.run.finished` event,
        read with `session/events/read` long polls); returns its final RunView with
        `items` filled from the run's committed events (the server's views leave them
        out). Raises TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        view = self.session_read(session_id=session_id)
        in_flight = (view.active_run is not None and view.active_run.run_id == run_id) or (
            run_id in view.queued_run_ids)
        # A run in flight ends after the view's cursor; any other run: search the log.
        cursor = view.event_cursor if in_flight and not is_terminal(view.last_run, run_id) else 0
        collected = _RunItems(run_id)
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise TimeoutError(f"run {run_id} of {session_id} did not finish in {timeout_s} s")
            page = self.session_events_read(session_id=session_id, cursor=cursor, limit=500,
                                            wait_ms=max(1, min(poll_wait_ms, left_ms, 30_000)))
            for event in page.events:
                collected.add(event)
                if ends_run(event, run_id):
                    if not collected.complete:  # started before `cursor`: read its start
                        self._collect(session_id, collected, event.cursor)
                    run = event.run or view.last_run
                    if run is None:
                        raise RuntimeError(f"run {run_id} finished without a view")
                    return collected.final(run)
            cursor = page.next_cursor

    def _collect(self, session_id: str, collected: _RunItems, until: int) -> None:
        collected.items, cursor = [], 0
        while cursor < until:
            page = self.session_events_read(session_id=session_id, cursor=cursor, limit=500)
            for event in page.events:
                if event.cursor <= until:
                    collected.add(event)
            if not page.events:
                break
            cursor = page.next_cursor

    def upload_blob(self, data: bytes, *, inline_max: int = INLINE_BLOB_MAX) -> str:
        """Stores `data`; returns its ref. Inline `blob/put` up to `inline_max` bytes,
        `PUT /blobs/{ref}` above."""
        if len(data) <= inline_max:
            return self.blob_put(data_base64=base64.b64encode(data).decode()).blob_ref
        ref = blob_ref_of(data)
        headers = {k: v for k, v in self._headers.items() if k != "content-type"}
        headers["content-type"] = "application/octet-stream"
        response = self._http.put(self._blob_url(ref), content=data, headers=headers)
        if response.status_code != 200:
            raise self._blob_error(response.status_code, response.content, "PUT /blobs")
        return m.BlobPutResult.model_validate(response.json()).blob_ref

    def download_blob(self, ref: str, *, inline: bool = False) -> bytes:
        """The bytes of blob `ref` (`GET /blobs/{ref}`, or `blob/get` when `inline`)."""
        if inline:
            return base64.b64decode(self.blob_get(blob_ref=ref).data_base64)
        headers = {k: v for k, v in self._headers.items() if k != "content-type"}
        response = self._http.get(self._blob_url(ref), headers=headers)
        if response.status_code != 200:
            raise self._blob_error(response.status_code, response.content, "GET /blobs")
        return response.content
