"""The peer's domain model (module level: eventsourcing registers classes by their topic)."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Situation(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.reports = 0

    @event("Reported")
    def report(self, kind: str, data: dict[str, Any]) -> None:
        self.reports += 1


class Log(Application):
    pass
