"""One line of prose per event, for the log listing and the live feed.

`summarize(e)` is the text `tracker log` prints in its "what" column, and the `summary` of
every websocket `event` message. `summary_parts(e)` is the same text with its actor and
place references marked, so that a reader (the dashboard) can show their names: strings,
and `{"actor": id}` / `{"place": id}` objects; joined with the ids, the parts are `summarize(e)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dates import describe, describe_window

Namer = Callable[[str, str], str]  # (kind "actor" | "place", id) -> the text shown for it


def _ident(kind: str, ident: str) -> str:
    return ident


def _n(value: int | None, at_least: bool = False) -> str:
    if value is None:
        return "an unknown number of"
    return ("over " if at_least else "") + f"{value:,}"


def _lower(e: dict[str, Any], figure: str) -> bool:
    """Is `figure` a lower bound ("at least")? The older `at_least: true` covers every figure."""
    at_least = e.get("at_least")
    return at_least is True or (isinstance(at_least, list) and figure in at_least)


def _counts(counts: dict[str, int | None]) -> str:
    return ", ".join(f"{_n(n)} {name}" for name, n in counts.items())


def summarize(e: dict[str, Any], name: Namer = _ident) -> str:
    """The event in one line; `name` renders each actor and place reference (ids by default).
    A fact whose claim is not confirmed says so."""
    text = _summarize(e, name)
    status = e.get("claim_status")
    if status == "reported":
        text += " (reportedly)"
    elif status == "claimed":
        text += f" (claimed by {name('actor', e['claimed_by']) if e.get('claimed_by') else 'a party'})"
    elif status == "confirmed":
        text += " (confirmed)"
    return text


def possibly(e: dict[str, Any], name: Namer = _ident) -> str:
    """A pending fact as a reader should take it: it may have happened, within its window."""
    t, window = e["type"], describe_window(e.get("occurred_from"), e.get("occurred_to"))
    if t == "CityCaptured":
        return f"possibly captured by {name('actor', e['captured_by'])} {window}"
    if t == "AssaultLaunched":
        return f"possibly assaulted by {name('actor', e['attacker'])} {window}"
    if t == "AssaultRepelled":
        return f"possibly {name('actor', e['defender'])} repelled {name('actor', e['attacker'])} {window}"
    return f"possibly {window}: {summarize(e, name)}"


def _summarize(e: dict[str, Any], name: Namer) -> str:
    t = e["type"]

    def a(ident: str) -> str:
        return name("actor", ident)

    def p(ident: str) -> str:
        return name("place", ident)

    if t == "CityCaptured":
        return f"{a(e['captured_by'])} captured {p(e['place'])}" + (
            f" from {a(e['captured_from'])}" if e.get("captured_from") else "")
    if t == "AssaultLaunched":
        held = f" held by {a(e['defender'])}" if e.get("defender") else ""
        return f"{a(e['attacker'])} assaulted {p(e['place'])}" + held
    if t == "AssaultRepelled":
        return f"{a(e['defender'])} repelled {a(e['attacker'])} at {p(e['place'])}"
    if t == "AssetSeized":
        text = f"{a(e['actor'])} seized {_n(e.get('quantity'), _lower(e, 'quantity'))} {e['asset']}"
        return text + (f" from {a(e['seized_from'])}" if e.get("seized_from") else "") + (
            f" at {p(e['place'])}" if e.get("place") else "")
    if t in ("ForcesDeployed", "ForcesWithdrawn"):
        verb = "deployed" if t == "ForcesDeployed" else "withdrew"
        parts = ([f"{_n(e['personnel'])} personnel"] if e.get("personnel") is not None else []) + \
            [c for c in (_counts(e.get("equipment", {})), _counts(e.get("units", {}))) if c]
        direction = "to" if verb == "deployed" else "from"
        return f"{a(e['actor'])} {verb} {', '.join(parts) or 'forces'} {direction} {p(e['place'])}"
    if t == "CiviliansDisplaced":
        return f"{_n(e.get('count'), _lower(e, 'count'))} {e['group']} displaced from {p(e['place'])}" + (
            f" by {a(e['by'])}" if e.get("by") else "")
    if t == "AttackCarriedOut":
        casualties = [f"{e[k]:,} {k}" for k in ("killed", "wounded") if e.get(k) is not None]
        toll = f": {', '.join(casualties)}" if casualties else ""
        return f"{a(e['actor'])} attacked {p(e['place'])} ({e['method']})" + toll
    if t == "ResourceControlled":
        share = (f"{'over ' if _lower(e, 'share_percent') else ''}{e['share_percent']:g}% of "
                 if e.get("share_percent") is not None else "")
        where = f" in {p(e['place'])}" if e.get("place") else ""
        unit = f" {e['output_unit']}" if e.get("output_unit") else ""
        output = f" ({_n(e['output'], _lower(e, 'output'))}{unit})" if e.get("output") is not None else ""
        return f"{a(e['actor'])} controls {share}{e['resource']}{where}{output}"
    if t == "ActorRegistered":
        return f"actor {e['actor']}: {e['name']}"
    if t == "PlaceRegistered":
        return f"place {e['place']}: {e['name']} ({e['country']})"
    if t == "EventRetracted":
        return f"retracted {e['retracts']}: {e['reason']}"
    return t


# No stored string holds a NUL (events.NO_NUL), so NUL can mark where a reference starts and ends.
_MARK, _SEP = "\x00", "\x01"


def _marked(kind: str, ident: str) -> str:
    return f"{_MARK}{kind}{_SEP}{ident}{_MARK}"


def summary_parts(e: dict[str, Any]) -> list[str | dict[str, str]]:
    """`summarize(e)` split at its references: text, and {"actor": id} or {"place": id}."""
    out: list[str | dict[str, str]] = []
    for i, piece in enumerate(summarize(e, _marked).split(_MARK)):
        if i % 2:
            kind, _, ident = piece.partition(_SEP)
            out.append({kind: ident})
        elif piece:
            out.append(piece)
    return out


def when(e: dict[str, Any]) -> str:
    """When a fact happened, as precisely as it is known: a day, or the window it lies in."""
    if e.get("occurred_from"):
        if e.get("occurred_on") and e.get("precision", "day") != "day":
            return describe(e["occurred_on"], e["precision"])
        return describe_window(e["occurred_from"], e["occurred_to"])
    return describe(e.get("occurred_on"), e.get("precision")) if e.get("occurred_on") else "-"
