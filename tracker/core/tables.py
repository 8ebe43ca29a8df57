"""Aligned plain-text tables for the terminal: what `tracker state` prints without --json."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .dates import describe


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_text(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def _amount(value: int | None, minimum: int | None = None) -> str:
    if value is not None:
        return f"{value:,}"
    return f"unknown (at least {minimum:,})" if minimum else "unknown"


def _counts(counts: dict[str, int | None]) -> str:
    return ", ".join(f"{name}: {_amount(n)}" for name, n in counts.items()) or "-"


def render_state(answer: dict[str, Any]) -> str:
    name = answer["projection"]
    when = f"as of {answer['as_of'] or 'now'}"
    if answer["known_at"]:
        when += f", as known at {answer['known_at']}"
    title = f"{name} {when} (log position {answer['position']})"
    rows: list[tuple[Any, ...]]
    if name == "territory":
        rows = [(p["name"], p["controller_name"] or "unknown",
                 describe(p["since"], p["since_precision"]) if p["since"] else "-",
                 ", ".join(p["contested_by"]) or "-", p["country"]) for p in answer["places"]]
        body = table(["place", "held by", "since", "contested by", "country"], rows)
    elif name == "arsenal":
        rows = [(a["name"], h["asset"], _amount(h["quantity"], h["known_minimum"]), h["unit"], h["reports"])
                for a in answer["actors"] for h in a["holdings"]]
        rows += [(a["name"], r["resource"] + (f" in {r['place_name']}" if r["place"] else ""),
                  (">= " if r["at_least"] else "")
                  + (f"{r['share_percent']:g}%" if r["share_percent"] is not None else "?"),
                  f"{r['output']:,} {r['output_unit'] or ''}".strip() if r["output"] is not None else "-", "control")
                 for a in answer["actors"] for r in a["resources"]]
        body = table(["actor", "asset", "quantity", "unit", "reports"], rows)
    else:
        rows = [(d["actor_name"], d["place_name"], _amount(d["personnel"], d["personnel_known_minimum"])
                 if d["personnel"] is not None or d["personnel_known_minimum"] else "unknown",
                 _counts(d["equipment"]), _counts(d["units"]), describe(d["since"], d["since_precision"]))
                for d in answer["deployments"]]
        body = table(["actor", "place", "personnel", "equipment", "units", "since"], rows)
    return f"{title}\n\n{body}" if rows else f"{title}\n\n(nothing recorded)"
