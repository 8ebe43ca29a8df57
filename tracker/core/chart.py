"""The numbers behind `tracker chart`: places held per actor over time, facts per day, and the
facts whose time is a window, as ranges. Pure; tracker/chart.py draws them.

A day's holdings are the territory as of that day (settled facts only: a capture still
pending that day is not counted, it is drawn as a range). Facts are counted on their day
when known to the day; a fact known only within a window is a range, never a count.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from .errors import BadQuery
from .timeline import Timeline, retractions, visible

MAX_POINTS = 400  # days sampled for the holdings line: a long range is stepped, not drawn day by day


def days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first > last:
        raise BadQuery(f"--from {start} is after --to {end}", field="from")
    count = (last - first).days + 1
    step = max(1, -(-count // MAX_POINTS))
    out = [(first + timedelta(days=n)).isoformat() for n in range(0, count, step)]
    if out[-1] != end:
        out.append(end)
    return out


def series(timeline: Timeline, start: str, end: str, known_at: datetime | None = None) -> dict[str, Any]:
    """{"days", "held": {actor name: [places held on each day]}, "per_day": [(day, facts)],
    "ranges": [{"label", "from", "to", "actor"}]} for start..end (ISO dates, start <= end)."""
    sampled = days(start, end)
    held: dict[str, list[int]] = {}
    for i, day in enumerate(sampled):
        answer = timeline.render("territory", day, known_at)
        counts = Counter(p["controller_name"] for p in answer["places"] if p["controller"])
        for name, count in counts.items():
            held.setdefault(name, [0] * len(sampled))[i] = count
    records = timeline.records()
    gone = retractions(records, known_at)
    per_day: Counter[str] = Counter()
    ranges = []
    label = timeline.catalog.label
    for r in records:
        e = r.event
        if "occurred_from" not in e or e.get("id") in gone or not visible(r, known_at, None):
            continue
        if e["occurred_to"] < start or e["occurred_from"] > end:
            continue
        if e["occurred_from"] == e["occurred_to"]:
            per_day[e["occurred_from"]] += 1
        else:
            actor = e.get("captured_by") or e.get("attacker") or e.get("actor") or e.get("by")
            where = e.get("place")
            ranges.append({"from": e["occurred_from"], "to": e["occurred_to"], "type": e["type"],
                           "actor": label("actor", actor) if actor else None,
                           "label": f"{e['type']}" + (f" at {label('place', where)}" if where else "")
                           + (f" by {label('actor', actor)}" if actor else "")})
    ranges.sort(key=lambda x: (x["from"], x["to"]))
    return {"from": start, "to": end, "days": sampled, "held": dict(sorted(held.items())),
            "per_day": sorted(per_day.items()), "ranges": ranges}
