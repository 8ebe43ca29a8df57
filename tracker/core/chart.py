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
from .timeline import Timeline

MAX_POINTS = 400  # days sampled for the holdings line: a long range is stepped, not drawn day by day


def days(start: str, end: str, points: int = MAX_POINTS) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first > last:
        raise BadQuery(f"--from {start} is after --to {end}", field="from")
    count = (last - first).days + 1
    step = max(1, -(-count // points))
    out = [(first + timedelta(days=n)).isoformat() for n in range(0, count, step)]
    if out[-1] != end:
        out.append(end)
    return out


def series(timeline: Timeline, start: str, end: str, known_at: datetime | None = None,
           points: int = MAX_POINTS, max_ranges: int | None = None) -> dict[str, Any]:
    """{"days", "held": {actor name: [places held on each day]}, "per_day": [(day, facts)],
    "ranges": [{"label", "from", "to", "type", "actor"}], "ranges_total"} for start..end (ISO
    dates, start <= end). With `max_ranges`, the ranges listed are the longest ones, in date
    order; `ranges_total` counts them all. Only the facts in the range are read, and only the
    ranges listed are decoded: a year of a million-fact log is counted from the timeline's index."""
    sampled = days(start, end, points)
    known = timeline.known(known_at, ("territory",))  # each day's state from checkpoints, not from scratch
    held: dict[str, list[int]] = {}
    label = timeline.catalog.label
    for i, day in enumerate(sampled):
        state = known.state("territory", day)
        counts = Counter(label("actor", h.controller) for h in state.values() if h.controller)
        for name, count in counts.items():
            held.setdefault(name, [0] * len(sampled))[i] = count
    per_day: Counter[str] = Counter()
    windows = []
    for f in timeline.overlapping(start, end, known_at):
        if f.start == f.end:
            per_day[f.start] += 1
        else:
            windows.append(f)
    total = len(windows)
    if max_ranges is not None and total > max_ranges:
        windows = sorted(windows, key=lambda f: (date.fromisoformat(f.end) - date.fromisoformat(f.start)).days,
                         reverse=True)[:max_ranges]
    ranges = []
    for f, e in zip(windows, timeline.events(windows), strict=True):
        actor = e.get("captured_by") or e.get("attacker") or e.get("actor") or e.get("by")
        where = e.get("place")
        ranges.append({"from": f.start, "to": f.end, "type": f.type,
                       "actor": label("actor", actor) if actor else None,
                       "label": f"{f.type}" + (f" at {label('place', where)}" if where else "")
                       + (f" by {label('actor', actor)}" if actor else "")})
    ranges.sort(key=lambda x: (x["from"], x["to"]))
    return {"from": start, "to": end, "days": sampled, "held": dict(sorted(held.items())),
            "per_day": sorted(per_day.items()), "ranges": ranges, "ranges_total": total}
