"""`/metrics`: the server's figures in Prometheus' text format, with the official client.

One `CollectorRegistry` per server (never the process-wide default one), so two servers in
one process, as in the tests, keep their own counts. Counters and histograms are updated
where things happen (an append, a push, a store error); what is a level at a moment
(subscribers, queued messages, checkpoints, the store's reconnects) is read when scraped, by
a collector, so nothing has to keep it in step.

Every name starts with `tracker_`; the list, with what each means, is in docs/operations.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

# Seconds: from a millisecond (a local group commit) to 10 s (a stalled database).
APPEND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The figures of one server. `levels` is called at each scrape: it returns the gauges'
    current values (see `Levels`)."""

    def __init__(self, levels: Callable[[], Levels]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.appends = Counter("tracker_appends", "Append requests answered over the websocket, by outcome "
                               "(ok, or the error code)", ["outcome"], registry=r)
        self.events_appended = Counter("tracker_events_appended", "Events stored by websocket appends (an id "
                                       "already in the log is not counted again)", registry=r)
        self.append_seconds = Histogram("tracker_append_duration_seconds", "Time from an append request's turn "
                                        "to its answer (validation and the durable commit)",
                                        buckets=APPEND_BUCKETS, registry=r)
        self.push_seconds = Histogram("tracker_push_latency_seconds", "Time from an event's recorded_at to its "
                                      "frame being handed to a subscriber's socket, per delivery",
                                      buckets=PUSH_BUCKETS, registry=r)
        self.store_errors = Counter("tracker_store_errors", "Store failures met while serving (reads, appends, "
                                    "the hub's wait on the log)", ["where"], registry=r)
        self.http_requests = Counter("tracker_http_requests", "Plain HTTP requests answered, by status code",
                                     ["code"], registry=r)
        r.register(_LevelCollector(levels))

    def appended(self, new: int, seconds: float) -> None:
        self.appends.labels("ok").inc()
        self.events_appended.inc(new)
        self.append_seconds.observe(seconds)

    def refused(self, code: str, seconds: float) -> None:
        self.appends.labels(code).inc()
        self.append_seconds.observe(seconds)

    def pushed(self, recorded_at: float, count: int = 1, now: float | None = None) -> None:
        """`count` deliveries of an event recorded at `recorded_at` (a POSIX time)."""
        latency = max(0.0, (time.time() if now is None else now) - recorded_at)
        for _ in range(count):
            self.push_seconds.observe(latency)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry as text, in the format `Accept` asks for (Prometheus' text format by
        default, OpenMetrics if asked); (body, content type)."""
        try:
            encoder, content_type = choose_encoder(accept or "")
            return encoder(self.registry), content_type
        except Exception:  # an Accept header the client library cannot read: the default format
            encoder, content_type = choose_encoder("")
            return encoder(self.registry), content_type


class Levels(dict[str, Any]):
    """What the gauges read at a scrape: `subscribers` {kind: count}, `connections`,
    `queued_messages`, `head`, `checkpoints`, `checkpoints_built`, `checkpoints_dropped`,
    `store_reconnects`."""


class _LevelCollector(Collector):
    def __init__(self, levels: Callable[[], Levels]) -> None:
        self.levels = levels

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked: the names below are fixed and unique

    def collect(self) -> Iterator[Metric]:
        now = self.levels()
        subscribers = GaugeMetricFamily("tracker_subscribers", "Live subscriptions, by kind (events: the event "
                                        "stream; projection: a projection's updates)", labels=["kind"])
        for kind in ("events", "projection"):
            subscribers.add_metric([kind], now.get("subscribers", {}).get(kind, 0))
        yield subscribers
        yield GaugeMetricFamily("tracker_connections", "Open websocket connections", value=now.get("connections", 0))
        yield GaugeMetricFamily("tracker_queued_messages", "Messages queued for websocket clients, not yet sent",
                                value=now.get("queued_messages", 0))
        yield GaugeMetricFamily("tracker_log_head", "The log position the server has folded and fanned out",
                                value=now.get("head", 0))
        yield GaugeMetricFamily("tracker_checkpoints", "Checkpoints the server's timeline holds",
                                value=now.get("checkpoints", 0))
        yield CounterMetricFamily("tracker_checkpoints_built", "Checkpoints built by the timeline (at start, as "
                                  "the log grows, and again after a late fact dropped some)",
                                  value=now.get("checkpoints_built", 0))
        yield CounterMetricFamily("tracker_checkpoints_dropped", "Checkpoints dropped because a fact arrived "
                                  "that starts before their cut (they are rebuilt)",
                                  value=now.get("checkpoints_dropped", 0))
        yield CounterMetricFamily("tracker_store_reconnects", "Connections to the store lost and made again "
                                  "(PostgreSQL's pool and its listener; 0 for SQLite)",
                                  value=now.get("store_reconnects", 0))
