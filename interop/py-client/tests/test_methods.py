"""Every method of interop/contract/methods.json against the live server.

Each area test records what it exercised; `test_every_method_was_exercised` (last in
this module) fails if any method of the table was not answered. Typed errors count
only where success needs a service the harness does not run (an OAuth authorization
server, a tool-calling model, an environment daemon)."""

from __future__ import annotations

import base64
import os
import time

import pytest

from lightspeed_client import (
    METHODS,
    PROTOCOL_VERSION,
    Client,
    LightspeedError,
    blob_ref_of,
    models as m,
)

from .conftest import ANSWERED, record

SKILL_MD = b"""---
name: py-skill
description: A skill the Python client tests mount.
---
Answer in one word.
"""


def ok(client: Client, method: str, params: dict | None = None):
    result = client.call(method, params or {})
    assert isinstance(result, METHODS[method].result)
    record(method, "ok")
    return result


def typed_error(client: Client, method: str, params: dict, kinds: set[str]) -> LightspeedError:
    with pytest.raises(LightspeedError) as info:
        client.call(method, params)
    err = info.value
    assert err.kind in kinds, f"{method}: {err!r}"
    assert isinstance(err.code, int) and err.message
    record(method, f"error {err.kind}/{err.reason}")
    return err


def ok_or_error(client: Client, method: str, params: dict, kinds: set[str]):
    """Success when the race is won; a typed error of `kinds` otherwise (recorded)."""
    try:
        return ok(client, method, params)
    except LightspeedError as err:
        assert err.kind in kinds, f"{method}: {err!r}"
        record(method, f"error {err.kind}/{err.reason}")
        return err


def test_initialize_models_usage(client):
    init = ok(client, "initialize", {"clientName": "py-client-tests", "clientVersion": "0.1.0"})
    assert init.protocol_version == PROTOCOL_VERSION
    assert set(METHODS) <= set(init.methods), set(METHODS) - set(init.methods)
    assert "session/notification" in init.notifications or init.notifications
    models = ok(client, "models/list")
    assert isinstance(models, m.ModelsListResult)
    ok(client, "universe/usage")


def test_sessions(client, session_config, new_id):
    sid = new_id("sess")
    view = ok(client, "session/start", {"sessionId": sid, "config": session_config})
    assert view.session_id == sid
    assert ok(client, "session/read", {"sessionId": sid}).session_id == sid
    listed = ok(client, "session/list", {"limit": 200})
    assert isinstance(listed, m.SessionListResult)
    updated = ok(client, "session/update", {"sessionId": sid, "expectedRevision": view.revision,
                                            "patch": {"budget": {"maxCostUsd": 5}}})
    assert updated.revision > view.revision

    run = client.start_run(sid, "hello from python")
    record("run/start", "ok")
    final = client.await_run(sid, run.run_id, timeout_s=120)
    assert str(final.status.value) == "completed", final
    page = ok(client, "session/events/read", {"sessionId": sid, "cursor": 0, "limit": 500})
    assert page.events and page.head_cursor >= page.events[-1].cursor

    fork = ok(client, "session/fork", {"sessionId": sid, "forkSessionId": new_id("fork")})
    assert fork.forked_from is not None and fork.forked_from.session_id == sid
    compacted = ok(client, "session/compact", {"sessionId": sid, "instruction": "keep it short"})
    assert compacted.session_id == sid

    closed = ok(client, "session/close", {"sessionId": fork.session_id})
    assert closed.session_id == fork.session_id
    deleted = ok(client, "session/delete", {"sessionId": fork.session_id, "force": True})
    assert deleted.session_id == fork.session_id


def test_runs_cancel_steer(client, session_config, new_id):
    sid = new_id("runs")
    client.session_start(session_id=sid, config=session_config)
    # Three runs back to back: the last is still queued (or running) when cancelled.
    runs = [client.start_run(sid, f"run {i}") for i in range(3)]
    cancelled = ok_or_error(client, "run/cancel",
                            {"sessionId": sid, "runId": runs[-1].run_id, "reason": "test"},
                            {"conflict", "invalidParams", "notFound"})
    # Steer whichever run is active now (runs are short in echo mode: a few tries).
    steered = None
    for _ in range(20):
        active = client.session_read(session_id=sid).active_run
        if active is None:
            break
        steered = ok_or_error(client, "run/steer",
                              {"sessionId": sid, "runId": active.run_id,
                               "input": [{"type": "text", "text": "also say hi"}]},
                              {"conflict", "invalidParams", "notFound"})
        if isinstance(steered, m.RunAccepted):
            break
    if steered is None:  # everything finished already: a typed error still counts
        steered = ok_or_error(client, "run/steer", {"sessionId": sid, "runId": runs[0].run_id,
                              "input": [{"type": "text", "text": "late"}]},
                              {"conflict", "invalidParams", "notFound"})
    for run in runs:
        client.await_run(sid, run.run_id, timeout_s=120)
    if isinstance(cancelled, m.RunAccepted):
        assert cancelled.run_id == runs[-1].run_id
    assert isinstance(steered, (m.RunAccepted, LightspeedError))


def test_approvals_and_wake_ups(client, session_config, new_id):
    sid = new_id("approve")
    config = {**session_config, "tools": {"timers": True},
              "toolPolicy": {"rules": [{"tools": "sleep", "decision": "ask"}]}}
    client.session_start(session_id=sid, config=config)
    scripted = os.environ.get("FAKE_PROVIDER_SCRIPT", "").endswith("py-client-script.json")
    if scripted:
        # The script answers PYCLIENT-APPROVE / PYCLIENT-DENY with a `sleep` call that
        # the policy holds for approval, and PYCLIENT-WAKE with `wake_me_at`.
        for word, method in (("PYCLIENT-APPROVE", "run/approve"), ("PYCLIENT-DENY", "run/deny")):
            run = client.start_run(sid, word)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                view = client.session_read(session_id=sid)
                if view.active_run and view.active_run.waiting:
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"{word}: no call waited for approval")
            if method == "run/approve":  # an active run, held: steer it too
                ok(client, "run/steer", {"sessionId": sid, "runId": run.run_id,
                                         "input": [{"type": "text", "text": "and then stop"}]})
            ok(client, method, {"sessionId": sid, "runId": run.run_id})
            client.await_run(sid, run.run_id, timeout_s=60)
        run = client.start_run(sid, "PYCLIENT-WAKE")
        client.await_run(sid, run.run_id, timeout_s=60)
        view = client.session_read(session_id=sid)
        assert view.wake_ups, view
        ok(client, "session/wake-ups/cancel", {"sessionId": sid, "wakeUp": view.wake_ups[0].wake_up})
    else:
        # Echo mode: the model never calls a tool, so nothing waits for a decision.
        run = client.start_run(sid, "nothing to approve")
        client.await_run(sid, run.run_id, timeout_s=120)
        kinds = {"conflict", "invalidParams", "notFound", "rejected"}
        typed_error(client, "run/approve", {"sessionId": sid, "runId": run.run_id}, kinds)
        typed_error(client, "run/deny", {"sessionId": sid, "runId": run.run_id, "message": "no"}, kinds)
        typed_error(client, "session/wake-ups/cancel", {"sessionId": sid, "wakeUp": 1}, kinds)


def test_blobs(client):
    data = b"small blob from python " + os.urandom(8)
    put = ok(client, "blob/put", {"dataBase64": base64.b64encode(data).decode()})
    assert put.blob_ref == blob_ref_of(data) and put.size_bytes == len(data)
    got = ok(client, "blob/get", {"blobRef": put.blob_ref})
    assert base64.b64decode(got.data_base64) == data
    missing = blob_ref_of(os.urandom(16))
    has = ok(client, "blob/has_many", {"blobRefs": [put.blob_ref, missing]})
    assert put.blob_ref in has.present and missing in has.missing
    pin = ok(client, "blob/pin", {"blobRef": put.blob_ref})
    assert pin.blob_ref == put.blob_ref
    pins = ok(client, "blob/pins/list")
    assert isinstance(pins, m.BlobPinsListResult)
    ok(client, "blob/unpin", {"blobRef": put.blob_ref})


def test_vfs_and_skills(client, session_config, new_id):
    skill_ref = client.upload_blob(SKILL_MD)
    readme = b"# py-client test workspace\n"
    readme_ref = client.upload_blob(readme)
    entries = [
        {"path": ".agents/skills/py-skill/SKILL.md", "blobRef": skill_ref, "sizeBytes": len(SKILL_MD)},
        {"path": "README.md", "blobRef": readme_ref, "sizeBytes": len(readme)},
    ]
    snap = ok(client, "vfs/snapshot/commit", {"entries": entries})
    assert snap.file_count == 2
    read = ok(client, "vfs/snapshot/read", {"snapshotRef": snap.snapshot_ref})
    assert isinstance(read, m.VfsSnapshotReadResult)
    snap2 = client.vfs_snapshot_commit(entries=entries[:1])

    ws_id = new_id("ws")
    ws = ok(client, "vfs/workspace/create", {"workspaceId": ws_id, "snapshotRef": snap.snapshot_ref})
    assert ws.workspace_id == ws_id
    assert ok(client, "vfs/workspace/read", {"workspaceId": ws_id}).revision == ws.revision
    ws2 = ok(client, "vfs/workspace/update", {"workspaceId": ws_id, "expectedRevision": ws.revision,
                                             "snapshotRef": snap2.snapshot_ref})
    assert ws2.revision > ws.revision

    sid = new_id("vfs")
    client.session_start(session_id=sid, config=session_config)
    mount = ok(client, "vfs/mount/put", {"sessionId": sid, "mountPath": "/repo",
                                         "source": {"type": "snapshot", "snapshotRef": snap.snapshot_ref}})
    assert isinstance(mount, m.VfsMountView)
    client.vfs_mount_put(session_id=sid, mount_path="/ws",
                         source={"type": "workspace", "workspaceId": ws_id})
    mounts = ok(client, "vfs/mount/list", {"sessionId": sid})
    assert isinstance(mounts, m.VfsMountListResult)

    skills = ok(client, "session/skills/list", {"sessionId": sid})
    names = [s.name for s in skills.skills]
    assert "py-skill" in names, names
    assert ok(client, "session/skills/activate", {"sessionId": sid, "name": "py-skill"}).active
    assert not ok(client, "session/skills/deactivate", {"sessionId": sid, "name": "py-skill"}).active

    ok(client, "vfs/mount/delete", {"sessionId": sid, "mountPath": "/ws"})
    ok(client, "vfs/workspace/delete", {"workspaceId": ws_id})


def test_memory(client, session_config, new_id):
    label = new_id("mem").replace("-", "_")
    block = ok(client, "memory/blocks/create", {"label": label, "description": "test block",
                                                "value": "status: draft", "limitBytes": 2000})
    assert block.label == label
    assert ok(client, "memory/blocks/read", {"label": label}).value == "status: draft"
    assert isinstance(ok(client, "memory/blocks/list"), m.MemoryBlockListResult)
    updated = ok(client, "memory/blocks/update", {"label": label, "expectedRevision": block.revision,
                                                  "value": "status: beta"})
    assert updated.value == "status: beta"
    sid = new_id("memsess")
    client.session_start(session_id=sid, config=session_config)
    ok(client, "session/memory/attach", {"sessionId": sid, "label": label})
    assert isinstance(ok(client, "session/memory/list", {"sessionId": sid}), m.SessionMemoryListResult)
    ok(client, "session/memory/detach", {"sessionId": sid, "label": label})
    ok(client, "memory/blocks/delete", {"label": label})

    passage = ok(client, "memory/archival/insert",
                 {"text": "The deploy key rotates every Friday.", "tags": ["ops"]})
    found = ok(client, "memory/archival/search", {"query": "deploy key", "limit": 5})
    assert any(p.id == passage.id for p in found.passages)
    ok(client, "memory/archival/delete", {"id": passage.id})


def test_schedules(client, session_config, new_id):
    sid = new_id("schedsess")
    client.session_start(session_id=sid, config=session_config)
    sched_id = new_id("sched")
    created = ok(client, "schedule/create", {
        "scheduleId": sched_id, "name": "py test", "input": "Summarise.",
        "spec": {"type": "interval", "everySeconds": 86400},
        "target": {"type": "session", "sessionId": sid}, "paused": True})
    assert created.schedule_id == sched_id
    assert ok(client, "schedule/read", {"scheduleId": sched_id}).paused
    assert isinstance(ok(client, "schedule/list"), m.ScheduleListResult)
    updated = ok(client, "schedule/update", {"scheduleId": sched_id,
                                             "expectedRevision": created.revision,
                                             "input": "Summarise it all."})
    assert updated.input == "Summarise it all."
    ok(client, "schedule/pause", {"scheduleId": sched_id, "paused": True})
    ok(client, "schedule/delete", {"scheduleId": sched_id})


def test_mcp(client, session_config, new_id, mcp_server_url):
    name = new_id("mcp")
    server = ok(client, "mcp/servers/put", {"name": name, "transport": {
        "type": "streamableHttp", "url": mcp_server_url}})
    assert server.name == name
    assert ok(client, "mcp/servers/read", {"name": name}).name == name
    assert isinstance(ok(client, "mcp/servers/list"), m.McpServerListResult)
    sid = new_id("mcpsess")
    client.session_start(session_id=sid, config=session_config)
    link = ok(client, "session/mcp/link", {"sessionId": sid, "server": name})
    assert [t.name for t in link.tools] == [f"{name}__py_echo"], link
    assert isinstance(ok(client, "session/mcp/list", {"sessionId": sid}), m.SessionMcpListResult)
    ok(client, "session/mcp/unlink", {"sessionId": sid, "server": name})
    ok(client, "mcp/servers/delete", {"name": name})


def test_auth(client, new_id):
    name = new_id("secret")
    secret = ok(client, "auth/secrets/put", {"name": name, "value": "s3cr3t-value", "purpose": "header"})
    assert secret.name == name
    listed = ok(client, "auth/secrets/list")
    assert name in [s.name for s in listed.secrets]
    assert "s3cr3t-value" not in listed.model_dump_json()
    ok(client, "auth/secrets/delete", {"name": name})
    assert isinstance(ok(client, "auth/grants/list"), m.AuthGrantListResult)
    # Success needs an OAuth authorization server to discover; none runs here.
    typed_error(client, "auth/flows/start", {"resourceUrl": "http://127.0.0.1:9/mcp"},
                {"invalidParams", "rejected", "internal", "notFound"})
    typed_error(client, "auth/flows/read", {"flowId": "flow-py-missing"}, {"notFound", "invalidParams"})
    typed_error(client, "auth/grants/revoke", {"grantId": "grant-py-missing"}, {"notFound", "invalidParams"})


def test_environments(client, session_config, new_id):
    name = new_id("env")[:32].lower()
    created = ok(client, "environments/create", {"name": name, "description": "py test"})
    assert created.environment.name == name and created.token
    assert ok(client, "environments/read", {"name": name}).name == name
    assert isinstance(ok(client, "environments/list"), m.EnvironmentListResult)
    sid = new_id("envsess")
    client.session_start(session_id=sid, config=session_config)
    # Attaching reads the environment's tools from its daemon; none is connected.
    attached = ok_or_error(client, "session/environments/attach",
                           {"sessionId": sid, "environment": name},
                           {"rejected", "conflict", "invalidParams", "internal", "overloaded", "notFound"})
    assert isinstance(ok(client, "session/environments/list", {"sessionId": sid}),
                      m.SessionEnvironmentListResult)
    if isinstance(attached, m.SessionEnvironmentView):
        ok(client, "session/environments/detach", {"sessionId": sid, "name": attached.name})
    else:
        typed_error(client, "session/environments/detach", {"sessionId": sid, "name": name},
                    {"notFound", "invalidParams", "conflict"})
    ok(client, "environments/delete", {"name": name})


def test_operator_keys_and_audit(live, client, new_id):
    url, _ = live
    operator_key = os.environ.get("LIGHTSPEED_OPERATOR_KEY", "")
    assert operator_key, "LIGHTSPEED_OPERATOR_KEY is unset (with-live-server.sh sets it)"
    universe = new_id("ops")
    with Client(url, operator_key, strict=True) as operator:
        created = ok(operator, "operator/api-keys/create", {"universeId": universe, "name": "py test"})
        assert created.record.universe_id == universe and not created.record.operator
        with Client(url, created.key, strict=True) as minted:
            assert minted.call("session/list", {}).sessions == []
            listed = ok(operator, "operator/api-keys/list", {"universeId": universe})
            assert [k.key_id for k in listed.keys] == [created.record.key_id]
            revoked = ok(operator, "operator/api-keys/revoke", {"keyId": created.record.key_id})
            assert revoked.record.revoked_at_ms
            with pytest.raises(LightspeedError) as refused:
                minted.call("session/list", {})
            assert refused.value.reason == "keyRevoked"
        # Each kind of key calls its own methods only.
        with pytest.raises(LightspeedError) as wrong:
            client.call("operator/audit/list", {})
        assert wrong.value.reason == "operatorKeyRequired"
        with pytest.raises(LightspeedError) as wrong:
            operator.call("session/list", {})
        assert wrong.value.reason == "universeKeyRequired"
        universes = ok(operator, "operator/universes/list")
        assert any(u.universe_id == universe and u.revoked_keys == 1 for u in universes.universes)
        read = ok(operator, "operator/universes/read", {"universeId": universe})
        assert read.usage.sessions == 0
        audit = ok(operator, "operator/audit/list", {"limit": 10})
        assert "operator/api-keys/revoke" in [e.method for e in audit.entries]
        assert created.key not in audit.model_dump_json()


def test_operator_universes_dispatch_and_intake(live, client, session_config, new_id):
    url, _ = live
    operator_key = os.environ.get("LIGHTSPEED_OPERATOR_KEY", "")
    tenant = new_id("tenant")
    with Client(url, operator_key, strict=True) as operator:
        made = ok(operator, "operator/universes/create", {"universeId": tenant, "name": "py tenant"})
        assert made.name == "py tenant"
        key = operator.call("operator/api-keys/create", {"universeId": tenant})
        with Client(url, key.key, strict=True) as member:
            member.call("session/start", {"sessionId": "held", "config": session_config})
            paused = ok(operator, "operator/dispatch/pause", {"universeId": tenant})
            assert paused.paused
            run = member.call("run/start", {"sessionId": "held", "submissionId": "sub-held",
                                            "input": [{"type": "text", "text": "wait"}]})
            in_flight = ok(operator, "operator/runs/list", {"universeId": tenant})
            assert [(r.session_id, r.run_id, r.state.value if hasattr(r.state, "value") else r.state)
                    for r in in_flight.runs] == [("held", run.run_id, "queued")]
            ok(operator, "operator/runs/cancel",
               {"universeId": tenant, "sessionId": "held", "runId": run.run_id})
            resumed = ok(operator, "operator/dispatch/resume", {"universeId": tenant})
            assert not resumed.paused
        deleted = ok(operator, "operator/universes/delete", {"universeId": tenant, "confirm": tenant})
        assert deleted.deleted_sessions == 1 and deleted.revoked_keys == 1

    sid = new_id("events")
    client.call("session/start", {"sessionId": sid, "config": session_config})
    event = {"source": "py-test", "eventId": new_id("evt"), "payload": {"door": 3},
             "target": {"type": "session", "sessionId": sid}}
    first = ok(client, "events/ingest", event)
    assert not first.duplicate and first.run_id
    again = ok(client, "events/ingest", event)
    assert again.duplicate and again.run_id == first.run_id


def test_every_method_was_exercised(live):
    """Runs last in this module: every method of methods.json got an answer above."""
    missing = sorted(set(METHODS) - set(ANSWERED))
    assert not missing, f"methods not exercised against the live server: {missing}"
    errors = {k: v for k, v in ANSWERED.items() if v != "ok"}
    print(f"\n{len(ANSWERED)} methods exercised; typed errors only: {errors}")
