"""Live-server fixtures. Tests need LIGHTSPEED_API_URL and LIGHTSPEED_API_KEY (set by
interop/scripts/with-live-server.sh); without a URL they skip, or fail when CI=true."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from lightspeed_client import AsyncClient, Client

#: Every method the live tests got an answer for (success or typed error), and how.
ANSWERED: dict[str, str] = {}


def _live() -> tuple[str, str]:
    url = os.environ.get("LIGHTSPEED_API_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("LIGHTSPEED_API_URL is unset (CI=true): run under "
                        "interop/scripts/with-live-server.sh", pytrace=False)
        pytest.skip("LIGHTSPEED_API_URL is unset: no live server")
    return url, os.environ.get("LIGHTSPEED_API_KEY", "")


@pytest.fixture(scope="session")
def live() -> tuple[str, str]:
    return _live()


@pytest.fixture(scope="session")
def model_route() -> dict:
    raw = os.environ.get("LIGHTSPEED_TEST_MODEL")
    if not raw:
        pytest.fail("LIGHTSPEED_TEST_MODEL is unset", pytrace=False)
    return json.loads(raw)


@pytest.fixture
def client(live) -> Client:
    url, key = live
    with Client(url, key, strict=True) as c:
        yield c


@pytest.fixture
async def aclient(live) -> AsyncClient:
    url, key = live
    async with AsyncClient(url, key, strict=True) as c:
        yield c


@pytest.fixture
def new_id():
    def make(prefix: str) -> str:
        return f"py-{prefix}-{uuid.uuid4().hex[:10]}"
    return make


@pytest.fixture
def session_config(model_route) -> dict:
    return {"model": model_route}


def record(method: str, how: str) -> None:
    """Notes that `method` was exercised (`ok` or the typed error's kind/reason)."""
    if how == "ok":
        ANSWERED[method] = how  # a success replaces an earlier typed error
    else:
        ANSWERED.setdefault(method, how)


@pytest.fixture(scope="session")
def mcp_server_url():
    from .mcp_server import start

    server, url = start()
    yield url
    server.shutdown()
