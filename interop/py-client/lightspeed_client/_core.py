"""What the sync and async clients share: URLs, params encoding, result decoding."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, RootModel

from ._generated import models as m
from ._generated.methods import METHODS
from .errors import SchemaDriftError, TransportError, error_from

#: Kind of the committed event that ends a run (its `run` is the final RunView).
RUN_FINISHED = "lightspeed.core.run.finished"
#: Kind of the committed event that starts a run (its items: the run's input).
RUN_STARTED = "lightspeed.core.run.started"
#: Run statuses after which a run does nothing more.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
#: Blobs up to this size go inline through `blob/put`; larger ones `PUT /blobs/{ref}`.
INLINE_BLOB_MAX = 64 * 1024


def blob_ref_of(data: bytes) -> str:
    """The content address the server gives `data`: `sha256:` + 64 lowercase hex."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Core:
    """Configuration and pure helpers; no I/O."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        strict: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("LIGHTSPEED_API_URL")
        if not base_url:
            raise ValueError("no base_url given and LIGHTSPEED_API_URL is unset")
        api_key = api_key if api_key is not None else os.environ.get("LIGHTSPEED_API_KEY")
        base = base_url.rstrip("/")
        if base.endswith("/rpc"):
            base = base[: -len("/rpc")]
        self.base_url = base
        self.rpc_url = base + "/rpc"
        self.ws_url = ("wss://" + base[len("https://"):] if base.startswith("https://")
                       else "ws://" + base[len("http://"):] if base.startswith("http://")
                       else base) + "/rpc"
        self.api_key = api_key
        self.timeout = timeout
        #: When true, a result with fields the generated models lack raises SchemaDriftError.
        self.strict = strict
        self._headers = {"content-type": "application/json", **(headers or {})}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._next_id = 0
        #: Methods this client called that the server answered (success or typed error).
        self.answered_methods: set[str] = set()

    # -- encoding ---------------------------------------------------------------------

    def _request_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _encode_params(self, method: str, params: Any, fields: Mapping[str, Any]) -> Any:
        """Params as JSON: validated against the method's params model when known.

        `params` may be the params model, a mapping (camelCase or snake_case keys) or
        None; keyword `fields` are merged into a mapping. Only fields that were set
        are sent (`exclude_unset`), so server-side defaults apply to the rest.
        """
        spec = METHODS.get(method)
        if isinstance(params, BaseModel):
            if fields:
                raise TypeError("pass either a params model or keyword fields, not both")
            model: BaseModel | None = params
            if spec is not None and not isinstance(params, spec.params):
                model = spec.params.model_validate(params.model_dump(by_alias=True, exclude_unset=True))
        else:
            merged = {**(params or {}), **fields}
            if spec is None:
                return merged
            model = spec.params.model_validate(merged)
        return model.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def _envelope(self, method: str, params: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": self._request_id(), "method": method,
                "params": self._encode_params(method, params, fields)}

    # -- decoding ---------------------------------------------------------------------

    def _decode(self, method: str, status: int, body: bytes) -> Any:
        try:
            import json

            message = json.loads(body)
        except ValueError:
            raise TransportError(status, body.decode("utf-8", "replace")) from None
        if not isinstance(message, dict):
            raise TransportError(status, body.decode("utf-8", "replace"))
        if message.get("error") is not None:
            self.answered_methods.add(method)
            raise error_from(message["error"], method=method)
        if "result" not in message:
            raise TransportError(status, body.decode("utf-8", "replace"))
        self.answered_methods.add(method)
        return self._parse_result(method, message["result"])

    def _parse_result(self, method: str, raw: Any) -> Any:
        spec = METHODS.get(method)
        if spec is None:
            return raw
        result = spec.result.model_validate(raw)
        if self.strict:
            drift = unknown_fields(result, raw)
            if drift:
                raise SchemaDriftError(method, drift)
        return result

    # -- helpers' pure parts ----------------------------------------------------------

    @staticmethod
    def _input_items(input: Any) -> list[Any]:
        """`input` as RunStartParams.input: a str becomes one text item."""
        if isinstance(input, str):
            return [{"type": "text", "text": input}]
        if isinstance(input, (BaseModel, Mapping)):
            return [input]
        return list(input)

    def _run_start_params(self, session_id: str, input: Any, submission_id: str | None,
                          overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "sessionId": session_id,
            "submissionId": submission_id or f"py-{uuid.uuid4().hex}",
            "input": self._input_items(input),
        }
        if overrides is not None:
            params["overrides"] = overrides
        return params

    def _blob_url(self, ref: str) -> str:
        return f"{self.base_url}/blobs/{ref}"

    def _blob_error(self, status: int, body: bytes, method: str) -> Exception:
        import json

        try:
            obj = json.loads(body)
        except ValueError:
            return TransportError(status, body.decode("utf-8", "replace"))
        if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
            return error_from(obj["error"], method=method)
        return TransportError(status, body.decode("utf-8", "replace"))


def run_id_of(event: m.EventView) -> str | None:
    """The run an event belongs to, if any."""
    if event.run_id:
        return event.run_id
    return event.run.run_id if event.run is not None else None


def ends_run(event: m.EventView, run_id: str) -> bool:
    """Whether `event` is the committed end of run `run_id`."""
    return event.kind == RUN_FINISHED and run_id_of(event) == run_id


class _RunItems:
    """Collects a run's items from the events read while waiting for it."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.items: list[m.ItemView] = []
        self.complete = False  # saw the run's start, so no item came before

    def add(self, event: m.EventView) -> None:
        if run_id_of(event) != self.run_id:
            return
        if event.kind == RUN_STARTED:
            self.complete = True
            self.items = []
        self.items.extend(event.items or ())

    def final(self, run: m.RunView) -> m.RunView:
        if run.items:
            return run
        return run.model_copy(update={"items": list(self.items)})


def is_terminal(run: m.RunView | None, run_id: str) -> bool:
    return run is not None and run.run_id == run_id and str(_value(run.status)) in TERMINAL_STATUSES


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def assistant_text(items: Iterable[Any] | None) -> str:
    """The text of the assistant messages among `items` (ItemView or its variants)."""
    out = []
    for item in items or ():
        item = item.root if isinstance(item, RootModel) else item
        if getattr(item, "type", None) == "assistantMessage":
            out.append(item.text)
    return "".join(out)


def unknown_fields(model: Any, raw: Any, path: str = "$") -> list[str]:
    """Paths of keys in `raw` that `model` (a parsed result) has no field for."""
    found: list[str] = []
    if isinstance(model, RootModel):
        return unknown_fields(model.root, raw, path)
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        known: dict[str, str] = {}
        for name, info in type(model).model_fields.items():
            known[info.alias or name] = name
        for key, value in raw.items():
            if key not in known:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(getattr(model, known[key]), value, f"{path}.{key}")
    elif isinstance(model, list) and isinstance(raw, list):
        for i, (sub, value) in enumerate(zip(model, raw)):
            found += unknown_fields(sub, value, f"{path}[{i}]")
    elif isinstance(model, dict) and isinstance(raw, dict):
        for key, value in raw.items():
            if key in model:
                found += unknown_fields(model[key], value, f"{path}.{key}")
    return found
