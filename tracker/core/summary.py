"""One line of prose per event, for the log listing and the live feed."""

from __future__ import annotations

from typing import Any

from collections.abc import Callable

from .dates import describe, describe_window

Names = Callable[[str, str], str | None]  # (kind, id) -> a name to show, e.g. Catalog.name_of


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


def summarize(e: dict[str, Any], names: Names | None = None) -> str:
    """The event in one line; with `names`, actors and places by name instead of id. A fact
    whose claim is not confirmed says so."""
    text = _summarize(_named(e, names) if names else e)
    status = e.get("claim_status")
    if status == "reported":
        text += " (reportedly)"
    elif status == "claimed":
        by = e.get("claimed_by")
        text += f" (claimed by {(names('actor', by) if names and by else by) or 'a party'})"
    elif status == "confirmed":
        text += " (confirmed)"
    return text


_ACTOR_FIELDS = ("captured_by", "captured_from", "attacker", "defender", "actor", "seized_from", "by", "claimed_by")


def _named(e: dict[str, Any], names: Names) -> dict[str, Any]:
    out = dict(e)
    for field in _ACTOR_FIELDS:
        if isinstance(out.get(field), str):
            out[field] = names("actor", out[field]) or out[field]
    if isinstance(out.get("place"), str) and e["type"] != "PlaceRegistered":
        out["place"] = names("place", out["place"]) or out["place"]
    return out


def possibly(e: dict[str, Any], names: Names | None = None) -> str:
    """A pending fact as a reader should take it: it may have happened, within its window."""
    n = _named(e, names) if names else e
    t, window = e["type"], describe_window(e.get("occurred_from"), e.get("occurred_to"))
    if t == "CityCaptured":
        return f"possibly captured by {n['captured_by']} {window}"
    if t == "AssaultLaunched":
        return f"possibly assaulted by {n['attacker']} {window}"
    if t == "AssaultRepelled":
        return f"possibly {n['defender']} repelled {n['attacker']} {window}"
    return f"possibly {window}: {summarize(e, names)}"


def _summarize(e: dict[str, Any]) -> str:
    t = e["type"]
    if t == "CityCaptured":
        return f"{e['captured_by']} captured {e['place']}" + (f" from {e['captured_from']}" if e.get("captured_from") else "")
    if t == "AssaultLaunched":
        return f"{e['attacker']} assaulted {e['place']}" + (f" held by {e['defender']}" if e.get("defender") else "")
    if t == "AssaultRepelled":
        return f"{e['defender']} repelled {e['attacker']} at {e['place']}"
    if t == "AssetSeized":
        text = f"{e['actor']} seized {_n(e.get('quantity'), _lower(e, 'quantity'))} {e['asset']}"
        return text + (f" from {e['seized_from']}" if e.get("seized_from") else "") + (f" at {e['place']}" if e.get("place") else "")
    if t in ("ForcesDeployed", "ForcesWithdrawn"):
        verb = "deployed" if t == "ForcesDeployed" else "withdrew"
        parts = ([f"{_n(e['personnel'])} personnel"] if e.get("personnel") is not None else []) + \
            [p for p in (_counts(e.get("equipment", {})), _counts(e.get("units", {}))) if p]
        return f"{e['actor']} {verb} {', '.join(parts) or 'forces'} {'to' if verb == 'deployed' else 'from'} {e['place']}"
    if t == "CiviliansDisplaced":
        return f"{_n(e.get('count'), _lower(e, 'count'))} {e['group']} displaced from {e['place']}" + (
            f" by {e['by']}" if e.get("by") else "")
    if t == "AttackCarriedOut":
        casualties = [f"{e[k]:,} {k}" for k in ("killed", "wounded") if e.get(k) is not None]
        return f"{e['actor']} attacked {e['place']} ({e['method']})" + (f": {', '.join(casualties)}" if casualties else "")
    if t == "ResourceControlled":
        share = f"{'over ' if _lower(e, 'share_percent') else ''}{e['share_percent']:g}% of " if e.get("share_percent") is not None else ""
        where = f" in {e['place']}" if e.get("place") else ""
        unit = f" {e['output_unit']}" if e.get("output_unit") else ""
        output = f" ({_n(e['output'], _lower(e, 'output'))}{unit})" if e.get("output") is not None else ""
        return f"{e['actor']} controls {share}{e['resource']}{where}{output}"
    if t == "ActorRegistered":
        return f"actor {e['actor']}: {e['name']}"
    if t == "PlaceRegistered":
        return f"place {e['place']}: {e['name']} ({e['country']})"
    if t == "EventRetracted":
        return f"retracted {e['retracts']}: {e['reason']}"
    return t


def when(e: dict[str, Any]) -> str:
    """When a fact happened, as precisely as it is known: a day, or the window it lies in."""
    if e.get("occurred_from"):
        if e.get("occurred_on") and e.get("precision", "day") != "day":
            return describe(e["occurred_on"], e["precision"])
        return describe_window(e["occurred_from"], e["occurred_to"])
    return describe(e.get("occurred_on"), e.get("precision")) if e.get("occurred_on") else "-"
