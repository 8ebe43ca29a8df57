"""Aligned plain-text tables for the terminal: what `tracker state` prints without --json."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .dates import describe_window


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_text(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = lambda values: "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=False)).rstrip()  # noqa: E731
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


NO_CONTROLLER = "no controller recorded"  # what controller null reads as, everywhere


def _pending(entry: dict[str, Any]) -> str:
    return "; ".join(entry.get("pending_text") or ()) or "-"


def title(answer: dict[str, Any]) -> str:
    when = f"as of {answer['as_of'] or 'now'}"
    if answer.get("known_at"):
        when += f", as known at {answer['known_at']}"
    if answer.get("recorded_at"):
        when += f", as recorded by {answer['recorded_at']}"
    return f"{answer['projection']} {when} (log position {answer['position']})"


def _ident(kind: str, ident: str) -> str:
    return ident


def render_state(answer: dict[str, Any], label: Callable[[str, str], str] = _ident) -> str:
    """A state as tables; pending facts (their window holds the date asked about) in a column
    of their own, never mixed into what is settled. `label` names an actor or place by id."""
    name = answer["projection"]
    heading = title(answer)
    if name == "territory":
        rows: list[tuple[Any, ...]] = [(p["name"], p["controller_name"] or NO_CONTROLLER, p["since_text"] or "-",
                 ", ".join(label("actor", a) for a in p["contested_by"]) or "-", _pending(p), p["country"])
                for p in answer["places"]]
        body = table(["place", "held by", "since", "contested by", "pending", "country"], rows)
    elif name == "arsenal":
        rows = [(a["name"], h["asset"],
                 (">= " if h.get("at_least") else "") + _amount(h["quantity"], h["known_minimum"]),
                 h["unit"], h["reports"]) for a in answer["actors"] for h in a["holdings"]]
        rows += [(a["name"], r["resource"] + (f" in {r['place_name']}" if r["place"] else ""),
                  (">= " if "share_percent" in r["at_least"] else "")
                  + (f"{r['share_percent']:g}%" if r["share_percent"] is not None else "?"),
                  ((">= " if "output" in r["at_least"] else "") + f"{r['output']:,} {r['output_unit'] or ''}").strip()
                  if r["output"] is not None else "-", "control")
                 for a in answer["actors"] for r in a["resources"]]
        rows += [(a["name"], text, "", "", "pending") for a in answer["actors"] for text in a.get("pending_text", ())]
        body = table(["actor", "asset", "quantity", "unit", "reports"], rows)
    else:
        rows = [(d["actor_name"], d["place_name"], _amount(d["personnel"], d["personnel_known_minimum"])
                 if d["personnel"] is not None or d["personnel_known_minimum"] else "unknown",
                 _counts(d["equipment"]), _counts(d["units"]),
                 describe_window(d["since"], d["since_to"]) if d["since"] else "-", _pending(d))
                for d in answer["deployments"]]
        body = table(["actor", "place", "personnel", "equipment", "units", "since", "pending"], rows)
    return f"{heading}\n\n{body}" if rows else f"{heading}\n\n(nothing recorded)"
