"""Python client for the Lightspeed JSON-RPC API (interop/contract)."""

from ._core import INLINE_BLOB_MAX, RUN_FINISHED, TERMINAL_STATUSES, assistant_text, blob_ref_of
from ._generated import models
from ._generated.methods import ERROR_CODES, ERROR_KINDS, METHODS, PROTOCOL_VERSION, MethodSpec
from .async_client import AsyncClient, Notification, Subscription
from .client import Client
from .errors import (
    ConflictError,
    InternalError,
    InvalidParamsError,
    InvalidRequestError,
    LightspeedError,
    NotFoundError,
    OverloadedError,
    ParseError,
    RejectedError,
    SchemaDriftError,
    TransportError,
    UnauthorizedError,
)

__all__ = [
    "AsyncClient", "Client", "Subscription", "Notification", "models",
    "METHODS", "MethodSpec", "ERROR_CODES", "ERROR_KINDS", "PROTOCOL_VERSION",
    "RUN_FINISHED", "TERMINAL_STATUSES", "INLINE_BLOB_MAX", "assistant_text", "blob_ref_of",
    "LightspeedError", "InvalidParamsError", "NotFoundError", "ConflictError", "RejectedError",
    "OverloadedError", "UnauthorizedError", "InternalError", "InvalidRequestError", "ParseError",
    "TransportError", "SchemaDriftError",
]
__version__ = "0.1.0"
