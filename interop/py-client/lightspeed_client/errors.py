"""Typed errors: every JSON-RPC error the API returns becomes a `LightspeedError`."""

from __future__ import annotations

from typing import Any

from ._generated.methods import ERROR_KINDS
from ._generated.models import ErrorData


class LightspeedError(Exception):
    """A JSON-RPC error from the gateway.

    `code` is the JSON-RPC code, `kind` the stable `data.kind` (`notFound`,
    `conflict`, ...; from the code when the server sent no data), `reason` the
    machine-readable `data.reason` (e.g. `revisionConflict`) when there is one,
    `data` the raw `data` object, `message` the human-readable message.
    """

    def __init__(self, code: int, message: str, data: Any = None, *, method: str | None = None):
        self.code = code
        self.message = message
        self.data = data if isinstance(data, dict) else ({} if data is None else {"value": data})
        self.kind: str | None = self.data.get("kind") or ERROR_KINDS.get(code)
        self.reason: str | None = self.data.get("reason")
        self.method = method
        super().__init__(str(self))

    @property
    def quota(self) -> str | None:
        """For `quotaExceeded`: which quota."""
        return self.data.get("quota")

    @property
    def current_revision(self) -> int | None:
        """For revision conflicts: the current revision."""
        return self.data.get("currentRevision")

    @property
    def error_data(self) -> ErrorData | None:
        """`data` parsed as the contract's ErrorData, when it is one."""
        try:
            return ErrorData.model_validate(self.data)
        except Exception:  # noqa: BLE001 - data from an older or newer server
            return None

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        why = f"/{self.reason}" if self.reason else ""
        return f"{where}{self.kind or 'error'}{why} ({self.code}): {self.message}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code}, kind={self.kind!r}, "
                f"reason={self.reason!r}, message={self.message!r})")


class InvalidParamsError(LightspeedError):
    """-32602 `invalidParams`."""


class NotFoundError(LightspeedError):
    """-32004 `notFound`."""


class ConflictError(LightspeedError):
    """-32009 `conflict`."""


class RejectedError(LightspeedError):
    """-32010 `rejected` (quotas among others)."""


class OverloadedError(LightspeedError):
    """-32001 `overloaded`: try again later."""


class UnauthorizedError(LightspeedError):
    """-32000 `unauthorized`: a missing or wrong API key."""


class InternalError(LightspeedError):
    """-32603 `internal`."""


class InvalidRequestError(LightspeedError):
    """-32600 `invalidRequest`: the envelope was refused before any method ran."""


class ParseError(LightspeedError):
    """-32700 `parseError`: the body was not JSON."""


class TransportError(Exception):
    """The gateway answered with something that is not JSON-RPC (status, body)."""

    def __init__(self, status: int, body: str):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body[:300]}")


class SchemaDriftError(Exception):
    """In strict mode: the server sent fields the generated models do not know."""

    def __init__(self, method: str, paths: list[str]):
        self.method = method
        self.paths = paths
        super().__init__(f"{method}: fields not in api.schema.json: {', '.join(paths[:20])}")


_BY_KIND: dict[str, type[LightspeedError]] = {
    "invalidParams": InvalidParamsError,
    "notFound": NotFoundError,
    "conflict": ConflictError,
    "rejected": RejectedError,
    "overloaded": OverloadedError,
    "unauthorized": UnauthorizedError,
    "internal": InternalError,
    "invalidRequest": InvalidRequestError,
    "parseError": ParseError,
}


def error_from(obj: Any, *, method: str | None = None) -> LightspeedError:
    """A `LightspeedError` (of the subclass for its kind) from a JSON-RPC error object."""
    if not isinstance(obj, dict):
        return LightspeedError(-32603, f"malformed error: {obj!r}", method=method)
    code = obj.get("code")
    code = code if isinstance(code, int) else -32603
    data = obj.get("data")
    kind = (data.get("kind") if isinstance(data, dict) else None) or ERROR_KINDS.get(code)
    cls = _BY_KIND.get(kind or "", LightspeedError)
    return cls(code, str(obj.get("message", "")), data, method=method)
