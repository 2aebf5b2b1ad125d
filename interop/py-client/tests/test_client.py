"""The client's own behaviour against the live server: errors, run helpers,
streaming, blob round trips, and a subscription that survives dropped sockets."""

from __future__ import annotations

import asyncio
import os

import pytest

from lightspeed_client import (
    RUN_FINISHED,
    AsyncClient,
    Client,
    LightspeedError,
    NotFoundError,
    UnauthorizedError,
    assistant_text,
    blob_ref_of,
    models as m,
)

from .conftest import record


def test_typed_error_not_found(client, new_id):
    with pytest.raises(NotFoundError) as info:
        client.session_read(session_id=new_id("missing"))
    err = info.value
    assert isinstance(err, LightspeedError)
    assert (err.code, err.kind) == (-32004, "notFound")
    assert err.reason, err.data
    assert err.message and err.data["kind"] == "notFound"
    assert err.error_data is not None and err.error_data.kind.value == "notFound"
    assert "notFound" in str(err)


def test_typed_error_invalid_params_from_server(client):
    # Valid for the client-side model, refused by the server: a limit beyond 500.
    with pytest.raises(LightspeedError) as info:
        client.call("session/events/read", {"sessionId": "x", "limit": 100000})
    assert info.value.kind in {"invalidParams", "notFound"}, info.value


def test_wrong_key_is_unauthorized(live):
    url, _ = live
    with Client(url, "lsk_wrong_key") as bad, pytest.raises(UnauthorizedError) as info:
        bad.universe_usage()
    assert info.value.code == -32000 and info.value.kind == "unauthorized"


def test_params_as_model_dict_or_fields(client, session_config, new_id):
    sid = new_id("forms")
    as_model = m.SessionStartParams(session_id=sid, config=m.SessionConfigInput.model_validate(session_config))
    view = client.session_start(as_model)
    assert client.session_read({"sessionId": sid}).session_id == view.session_id
    assert client.session_read(session_id=sid).session_id == sid
    assert client.call("session/read", {"session_id": sid}).session_id == sid


def test_sync_start_and_await_run(client, session_config, new_id):
    sid = new_id("sync")
    client.session_start(session_id=sid, config=session_config)
    started = client.start_run(sid, "ping sync", submission_id="sub-1")
    again = client.start_run(sid, "ping sync", submission_id="sub-1")
    assert again.duplicate and again.run_id == started.run_id
    run = client.await_run(sid, started.run_id, timeout_s=120)
    assert run.run_id == started.run_id and run.status.value == "completed"
    assert assistant_text(run.items) == "echo: ping sync"
    # A finished run is answered at once.
    assert client.await_run(sid, started.run_id, timeout_s=5).run_id == started.run_id


async def test_async_start_await_and_stream_run(aclient, session_config, new_id):
    sid = new_id("async")
    await aclient.session_start(session_id=sid, config=session_config)
    first = await aclient.start_run(sid, "ping async")
    run = await aclient.await_run(sid, first.run_id, timeout_s=120)
    assert run.status.value == "completed" and assistant_text(run.items) == "echo: ping async"

    head = (await aclient.session_read(session_id=sid)).event_cursor
    second = await aclient.start_run(sid, "stream me")
    seen: list = []
    async for n in aclient.stream_run(sid, second.run_id, cursor=head, timeout_s=120):
        seen.append(n)
    events = [n.event for n in seen if isinstance(n, m.SessionNotificationEvent)]
    deltas = [n.delta for n in seen if isinstance(n, m.SessionNotificationDelta)]
    assert events and events[-1].kind == RUN_FINISHED and events[-1].run.status.value == "completed"
    assert all(e.run_id == second.run_id or e.run.run_id == second.run_id for e in events)
    text = "".join(assistant_text(e.items) for e in events)
    assert text == "echo: stream me"
    assert all(d.run_id == second.run_id for d in deltas)
    if deltas:  # live text deltas, when the turn streamed before the events caught up
        # The subscription opened after run/start: earlier deltas may be missed.
        assert "echo: stream me".endswith("".join(d.text for d in deltas if d.kind.value == "text"))
    record("session/subscribe", "ok")


@pytest.mark.parametrize("size", [100, 64 * 1024 + 1, 3 * 1024 * 1024 + 7])
def test_sync_blob_round_trip(client, size):
    data = os.urandom(size)
    ref = client.upload_blob(data)
    assert ref == blob_ref_of(data)
    assert client.download_blob(ref) == data
    if size <= 1024 * 1024:
        assert client.download_blob(ref, inline=True) == data


async def test_async_blob_round_trip(aclient):
    for size in (1000, 200 * 1024):
        data = os.urandom(size)
        ref = await aclient.upload_blob(data)
        assert ref == blob_ref_of(data)
        assert await aclient.download_blob(ref) == data


def test_blob_errors(client):
    with pytest.raises(LightspeedError) as info:
        client.download_blob(blob_ref_of(os.urandom(8)))
    assert info.value.kind == "notFound"


async def _events_until(sub, run_id: str, into: list, drop_after: int | None = None) -> None:
    """Reads `sub` until run `run_id` finished, dropping the socket once after
    `drop_after` events of this pass."""
    count = 0
    async for n in sub:
        if isinstance(n, m.SessionNotificationEvent):
            into.append(n.event)
            count += 1
            if drop_after is not None and count == drop_after:
                sub.drop_connection()
            if n.event.kind == RUN_FINISHED and n.event.run_id == run_id:
                return


async def test_subscription_resumes_after_dropped_socket(aclient, session_config, new_id):
    sid = new_id("resume")
    await aclient.session_start(session_id=sid, config=session_config)
    first = await aclient.start_run(sid, "before subscribing")
    await aclient.await_run(sid, first.run_id, timeout_s=120)

    got: list[m.EventView] = []
    async with aclient.subscribe(sid, cursor=0, deltas=True, backoff_min_s=0.05) as sub:
        # Replayed history, with the socket dropped after the second event.
        await asyncio.wait_for(_events_until(sub, first.run_id, got, drop_after=2), 60)
        assert sub.reconnects >= 1
        # Live events: a new run, with the socket dropped after its first event.
        second = await aclient.start_run(sid, "while subscribed")
        await asyncio.wait_for(_events_until(sub, second.run_id, got, drop_after=1), 120)
        assert sub.reconnects >= 2
        assert sub.cursor == got[-1].cursor

    page_events: list[m.EventView] = []
    cursor = 0
    while True:
        page = await aclient.session_events_read(session_id=sid, cursor=cursor, limit=500)
        page_events += page.events
        if not page.events or page.next_cursor >= page.head_cursor:
            break
        cursor = page.next_cursor
    expected = [e.cursor for e in page_events if e.cursor <= got[-1].cursor]
    assert [e.cursor for e in got] == expected  # every committed event, exactly once, in order
    assert [e.kind for e in got] == [e.kind for e in page_events if e.cursor <= got[-1].cursor]


async def test_subscribe_unknown_session_is_typed_error(aclient, new_id):
    with pytest.raises(LightspeedError) as info:
        async with aclient.subscribe(new_id("nosuch")):
            pass
    assert info.value.kind == "notFound"


def test_offline_construction_needs_url(monkeypatch):
    monkeypatch.delenv("LIGHTSPEED_API_URL", raising=False)
    with pytest.raises(ValueError):
        Client()
    assert AsyncClient("http://127.0.0.1:1/rpc", "k").ws_url == "ws://127.0.0.1:1/rpc"
