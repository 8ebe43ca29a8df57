"""One line of prose per event, for the log listing and the live feed."""

from __future__ import annotations

from typing import Any

from .dates import describe


def _n(value: int | None, at_least: bool = False) -> str:
    if value is None:
        return "an unknown number of"
    return ("over " if at_least else "") + f"{value:,}"


def _counts(counts: dict[str, int | None]) -> str:
    return ", ".join(f"{_n(n)} {name}" for name, n in counts.items())


def summarize(e: dict[str, Any]) -> str:
    t = e["type"]
    if t == "CityCaptured":
        return f"{e['captured_by']} captured {e['place']}" + \
            (f" from {e['captured_from']}" if e.get("captured_from") else "")
    if t == "AssaultLaunched":
        return f"{e['attacker']} assaulted {e['place']}" + (f" held by {e['defender']}" if e.get("defender") else "")
    if t == "AssaultRepelled":
        return f"{e['defender']} repelled {e['attacker']} at {e['place']}"
    if t == "AssetSeized":
        text = f"{e['actor']} seized {_n(e.get('quantity'))} {e['asset']}"
        return text + (f" from {e['seized_from']}" if e.get("seized_from") else "") + \
            (f" at {e['place']}" if e.get("place") else "")
    if t in ("ForcesDeployed", "ForcesWithdrawn"):
        verb = "deployed" if t == "ForcesDeployed" else "withdrew"
        parts = ([f"{_n(e['personnel'])} personnel"] if e.get("personnel") is not None else []) + \
            [p for p in (_counts(e.get("equipment", {})), _counts(e.get("units", {}))) if p]
        return (f"{e['actor']} {verb} {', '.join(parts) or 'forces'} "
                f"{'to' if verb == 'deployed' else 'from'} {e['place']}")
    if t == "CiviliansDisplaced":
        return f"{_n(e.get('count'), e.get('at_least', False))} {e['group']} displaced from {e['place']}" + (
            f" by {e['by']}" if e.get("by") else "")
    if t == "AttackCarriedOut":
        casualties = [f"{e[k]:,} {k}" for k in ("killed", "wounded") if e.get(k) is not None]
        return f"{e['actor']} attacked {e['place']} ({e['method']})" + \
            (f": {', '.join(casualties)}" if casualties else "")
    if t == "ResourceControlled":
        share = (f"{'over ' if e.get('at_least') else ''}{e['share_percent']:g}% of "
                 if e.get("share_percent") is not None else "")
        where = f" in {e['place']}" if e.get("place") else ""
        unit = f" {e['output_unit']}" if e.get("output_unit") else ""
        output = f" ({e['output']:,}{unit})" if e.get("output") is not None else ""
        return f"{e['actor']} controls {share}{e['resource']}{where}{output}"
    if t == "ActorRegistered":
        return f"actor {e['actor']}: {e['name']}"
    if t == "PlaceRegistered":
        return f"place {e['place']}: {e['name']} ({e['country']})"
    if t == "EventRetracted":
        return f"retracted {e['retracts']}: {e['reason']}"
    return t


def when(e: dict[str, Any]) -> str:
    return describe(e.get("occurred_on"), e.get("precision")) if e.get("occurred_on") else "-"
