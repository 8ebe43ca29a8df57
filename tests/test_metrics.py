"""`/metrics` of a real server, parsed with prometheus_client's own text parser after real
appends and subscriptions through the websocket."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import capture, client, run_tracker, seconds, serve_in_process


def scrape(port: int, token: str | None = None) -> dict[str, Any]:
    """{sample name with labels: value} of one scrape, and the families' names under `families`."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=seconds(5)) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    samples: dict[str, Any] = {}
    families = []
    for family in text_string_to_metric_families(text):
        families.append(family.name)
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    samples["families"] = families
    return samples


async def test_metrics_count_appends_subscribers_and_push_latency(db):
    async with serve_in_process(db) as (port, _tracker):
        before = await asyncio.to_thread(scrape, port)
        assert all(name.startswith("tracker_") for name in before["families"]), before["families"]
        assert before.get("tracker_appends_total{outcome=ok}", 0) == 0 and before["tracker_events_appended_total"] == 0
        async with client(port) as watcher, client(port) as viewer, client(port) as writer:
            await watcher.request(op="subscribe", stream="events", after=62)  # only what comes next
            await viewer.request(op="subscribe", projection="territory")
            await viewer.recv()  # its snapshot
            for i in range(3):
                reply = await writer.request(op="append", events=[capture("Mosul", "ISIS", f"2014-06-1{i}")])
                assert reply["type"] == "appended"
                await watcher.until(lambda m: m["type"] == "event")
            refused = await writer.request(op="append", events=[{"type": "CityCaptured"}])
            assert refused["code"] == "validation_error"
            during = await asyncio.to_thread(scrape, port)
        assert during["tracker_appends_total{outcome=ok}"] == 3
        assert during["tracker_appends_total{outcome=validation_error}"] == 1
        assert during["tracker_events_appended_total"] == 3
        assert during["tracker_append_duration_seconds_count"] == 4
        assert 0 < during["tracker_append_duration_seconds_sum"] < seconds(10)
        assert during["tracker_subscribers{kind=events}"] == 1
        assert during["tracker_subscribers{kind=projection}"] == 1
        assert during["tracker_connections"] == 3
        assert during["tracker_queued_messages"] >= 0
        assert during["tracker_push_latency_seconds_count"] >= 3  # one delivery per event to the watcher
        assert during["tracker_push_latency_seconds_bucket{le=+Inf}"] == during["tracker_push_latency_seconds_count"]
        assert during["tracker_log_head"] == 65
        assert during["tracker_checkpoints"] >= 1 and "tracker_checkpoints_built_total" in during
        assert "tracker_checkpoints_dropped_total" in during and during["tracker_store_reconnects_total"] == 0
        assert during.get("tracker_store_errors_total{where=hub}", 0) == 0
        assert during["tracker_http_requests_total{code=200}"] >= 1


async def test_a_second_server_in_the_same_process_has_its_own_counts(db, tmp_path):
    other = tmp_path / "other.db"
    run_tracker("seed", "--db", str(other), cwd=tmp_path)
    async with serve_in_process(db) as (port, _), serve_in_process(other) as (port2, _):
        async with client(port) as writer:
            assert (await writer.request(op="append", events=[capture("Tikrit", "ISIS", "2014-06-11")]))["type"] \
                == "appended"
        first, second = await asyncio.to_thread(scrape, port), await asyncio.to_thread(scrape, port2)
        assert first["tracker_events_appended_total"] == 1 and second["tracker_events_appended_total"] == 0


async def test_metrics_need_a_token_once_the_store_has_tokens(db):
    token = run_tracker("tokens", "add", "prometheus", "--role", "reader", "--db", str(db), cwd=db.parent).stdout
    async with serve_in_process(db, public_read=True) as (port, _):
        with pytest.raises(urllib.error.HTTPError) as refused:
            await asyncio.to_thread(scrape, port)
        assert refused.value.code == 401  # --public-read opens the dashboard's reads, not the metrics
        refused.value.close()
        assert "tracker_appends" in " ".join((await asyncio.to_thread(scrape, port, token.strip()))["families"])
        with pytest.raises(urllib.error.HTTPError) as wrong:
            await asyncio.to_thread(scrape, port, "not-a-token-at-all")
        assert wrong.value.code == 401
        wrong.value.close()


async def test_postgresql_reconnects_are_logged_through_structlog_and_counted(databases):
    """The PostgreSQL store's messages reach the structured log (not stdlib logging), and its
    reconnects are what /metrics' tracker_store_reconnects_total reads."""
    import time

    from structlog.testing import capture_logs

    from tests.conftest import pg_terminate
    from tracker.service import Tracker

    dsn = await databases.create()
    tracker = await Tracker.open(dsn)
    try:
        await tracker.head()
        store = tracker.store
        await store.wait(0, timeout=0.2)  # the LISTEN connection is up
        with capture_logs() as logs:
            assert await pg_terminate(dsn) >= 1
            deadline = time.monotonic() + seconds(10)
            while store.reconnects == 0 and time.monotonic() < deadline:  # type: ignore[attr-defined]
                await asyncio.sleep(0.05)
                await tracker.head()
        assert store.reconnects >= 1  # type: ignore[attr-defined]
        events = [entry["event"] for entry in logs]
        assert any(e.startswith("PostgreSQL") for e in events), logs
        assert all("password" not in str(entry) for entry in logs)
    finally:
        await tracker.close()
