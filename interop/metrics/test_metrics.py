"""`/metrics` on the gateway and on the worker, read with Prometheus's own Python
parser (prometheus_client), before and after a run: every line parses, and the
counters the run should move moved. Run by interop/test.sh against `server dev` with
LIGHTSPEED_WORKER_METRICS_BIND set (the worker's endpoint adds the Temporal SDK's
series to the process's own)."""

import json
import os
import sys
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py-client"))
from lightspeed_client import Client  # noqa: E402

API = os.environ.get("LIGHTSPEED_API_URL")
WORKER = os.environ.get("LIGHTSPEED_WORKER_METRICS_URL")
if not API or not WORKER:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true: LIGHTSPEED_API_URL and LIGHTSPEED_WORKER_METRICS_URL are needed")
    pytest.skip("no live server (interop/test.sh starts one)", allow_module_level=True)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at `url`, keyed by name and sorted labels; parsing fails loudly."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_counters_move_as_a_run_completes_and_both_endpoints_parse():
    gateway = f"{API.rstrip('/')}/metrics"
    before = scrape(gateway)
    worker_before = scrape(WORKER)
    model = json.loads(os.environ["LIGHTSPEED_TEST_MODEL"])
    session = f"metrics-{uuid.uuid4().hex[:8]}"
    with Client(API, os.environ["LIGHTSPEED_API_KEY"]) as client:
        client.session_start(session_id=session, config={"model": model})
        started = client.start_run(session, "count me")
        run = client.await_run(session, started.run_id, timeout_s=120)
        assert run.status.value == "completed"
        with pytest.raises(Exception):
            client.session_read(session_id="no-such-session")
    after = scrape(gateway)
    worker_after = scrape(WORKER)

    def moved(name: str, samples_before, samples_after, **labels: str) -> float:
        return total(samples_after, name, **labels) - total(samples_before, name, **labels)

    # Gateway: requests by method and code, with latency histograms.
    assert moved("lightspeed_rpc_calls_total", before, after, method="run/start", code="0") >= 1
    assert moved("lightspeed_rpc_calls_total", before, after,
                 method="session/read", code="-32004") >= 1
    assert moved("lightspeed_rpc_call_seconds_count", before, after, method="run/start") >= 1
    # One process runs both halves here: the run's series are in the gateway's too.
    assert moved("lightspeed_runs_started_total", before, after) >= 1
    assert moved("lightspeed_runs_finished_total", before, after, outcome="completed") >= 1
    assert moved("lightspeed_turns_total", before, after, model=model["model"]) >= 1
    assert moved("lightspeed_tokens_total", before, after, kind="output") > 0
    # Worker: activity latency by kind, store latency, and the Temporal SDK's own.
    assert moved("lightspeed_activity_seconds_count", worker_before, worker_after) >= 2
    assert moved("lightspeed_store_seconds_count", worker_before, worker_after, op="append") >= 1
    sdk = [name for (name, _labels) in worker_after if name.startswith("temporal_")]
    assert sdk, "no Temporal SDK series on the worker endpoint"
