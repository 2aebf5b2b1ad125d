"""Offline checks (no live server): the subscription's resume logic against a tiny
WebSocket stand-in for the gateway, and params encoding."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from lightspeed_client import AsyncClient, Client, models as m


def _event(cursor: int) -> dict:
    return {"type": "event", "sessionId": "s",
            "event": {"cursor": cursor, "kind": f"k{cursor}", "atMs": cursor}}


async def test_subscription_resumes_without_loss_or_duplicates():
    subscribes: list[int] = []

    async def handler(ws):
        try:
            await serve_one(ws)
        except ConnectionClosed:
            pass  # the client dropped the socket

    async def serve_one(ws):
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("method") != "session/subscribe":
                continue
            cursor = msg["params"]["cursor"]
            subscribes.append(cursor)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": 7}))
            # Resend one old event as a server might; the client must skip it.
            for c in range(max(1, cursor), 11):
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "session/notification",
                                          "params": {"subscription": 7, "result": _event(c)}}))
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "session/notification",
                                          "params": {"subscription": 7, "result": {
                                              "type": "delta", "sessionId": "s", "delta": {
                                                  "runId": "r", "turn": 1, "outputIndex": 0,
                                                  "kind": "text", "text": "x"}}}}))
                await asyncio.sleep(0.01)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with AsyncClient(f"http://127.0.0.1:{port}", "k") as client:
            got = []
            async with client.subscribe("s", cursor=0, backoff_min_s=0.01) as sub:
                async for n in sub:
                    if isinstance(n, m.SessionNotificationEvent):
                        got.append(n.event.cursor)
                        if n.event.cursor in (3, 6):
                            sub.drop_connection()
                        if n.event.cursor == 10:
                            break
            assert got == list(range(1, 11))
            assert sub.reconnects == 2
            assert subscribes[0] == 0 and subscribes[1:] == [3, 6]


def test_params_encoding():
    c = Client("http://127.0.0.1:1", "k")
    wire = c._encode_params("session/events/read", None, {"session_id": "s", "wait_ms": 5})
    assert wire == {"sessionId": "s", "waitMs": 5}
    wire = c._encode_params("session/read", m.SessionRef(session_id="s"), {})
    assert wire == {"sessionId": "s"}
    with pytest.raises(Exception):
        c._encode_params("session/read", {"sessionId": "s", "bogus": 1}, {})
    assert c._encode_params("not/a/method", {"x": 1}, {}) == {"x": 1}
