"""What changed between two dates: places that changed hands, holdings and deployments that
changed, each with the facts behind it.

Pure: two renderings of every projection (as of D1 and as of D2, as known at the same
time) are compared entry by entry on their current facts (who holds a place, since when,
who contests it, what is pending; a holding's amount; a deployment's forces), never on
`history`. The facts behind a change are those touching its entry whose window overlaps
D1..D2 (starts on or before the later date, ends after the earlier): the ones that settled in between, and
those still pending at D2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .dates import parse_as_of
from .errors import BadQuery
from .projections import PROJECTIONS
from .summary import summarize, when
from .timeline import Timeline

Namer = Callable[[str, str], str]
_TERRITORY = ("controller", "since", "since_to", "contested_by")
_DEPLOYMENT = ("personnel", "personnel_known_minimum", "equipment", "units")
_HOLDING = ("quantity", "known_minimum", "at_least", "reports", "unit")
_RESOURCE = ("share_percent", "output", "output_unit", "at_least")
_GONE: dict[str, Any] = {"personnel": 0, "personnel_known_minimum": None, "equipment": {}, "units": {}, "pending": []}


def dates(start: str | None, end: str | None) -> tuple[str, str]:
    """D1 and D2 resolved (YYYY-MM and YYYY mean the end of that month or year). D2 may come
    before D1: the diff then reads backward (what the later state had that the earlier lacked)."""
    if not start or not end:
        raise BadQuery("a diff needs both dates: from D1 to D2 (YYYY-MM-DD, YYYY-MM or YYYY)",
                       field="from" if not start else "to")
    d1, d2 = parse_as_of(start, "from"), parse_as_of(end, "to")
    assert d1 is not None and d2 is not None
    return d1, d2


def between(timeline: Timeline, start: str, end: str, known_at: datetime | None = None) -> dict[str, Any]:
    """The diff of the timeline's states from `start` to `end` (resolved dates)."""
    before = {name: timeline.render(name, start, known_at) for name in PROJECTIONS}
    after = {name: timeline.render(name, end, known_at) for name in PROJECTIONS}
    low, high = min(start, end), max(start, end)
    # from the timeline's index, decoding only the facts in the range (not the whole log)
    facts = timeline.events(f for f in timeline.overlapping(low, high, known_at) if f.end > low)
    facts.sort(key=lambda e: (e["occurred_from"], e["occurred_to"]))
    answer = diff(before, after, facts, timeline.catalog.label)
    answer["known_at"] = known_at.isoformat() if known_at else None
    answer["position"] = timeline.head
    return answer


def diff(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], facts: Iterable[dict[str, Any]],
         name: Namer) -> dict[str, Any]:
    """Compare renderings as of D1 (`before`) and D2 (`after`); `facts` overlap D1..D2."""
    facts = list(facts)
    start, end = before["territory"]["as_of"], after["territory"]["as_of"]
    end = max(start, end)  # a fact is settled when its window ended by the later date

    def behind(match: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [_fact(e, end, name) for e in facts if match(e)]

    places = []
    old = {p["place"]: p for p in before["territory"]["places"]}
    for p in after["territory"]["places"]:
        was = old.get(p["place"]) or {}
        now_, then = _pick(p, _TERRITORY), _pick(was, _TERRITORY)
        if now_ == then and _pending(p) == _pending(was):
            continue
        place = p["place"]
        places.append({
            "place": place, "name": p["name"], "lat": p.get("lat"), "lon": p.get("lon"),
            "changed_hands": then.get("controller") != now_.get("controller"),
            "from": _holder(was, name), "to": _holder(p, name),
            "events": behind(_touches(PROJECTIONS["territory"].types, place=place))})
    holdings, resources = [], []
    old_actors = {a["actor"]: a for a in before["arsenal"]["actors"]}
    for a in after["arsenal"]["actors"]:
        was_actor = old_actors.get(a["actor"], {})
        held = {h["asset"]: h for h in was_actor.get("holdings", [])}
        for h in a["holdings"]:
            then = _pick(held.get(h["asset"], {}), _HOLDING)
            if then == _pick(h, _HOLDING):
                continue
            actor, asset = a["actor"], h["asset"]
            holdings.append({"actor": actor, "name": a["name"], "asset": asset, "from": then or None,
                             "to": _pick(h, _HOLDING),
                             "events": behind(_touches({"AssetSeized"}, actor=actor, asset=asset))})
        controlled = {(r["resource"], r["place"]): r for r in was_actor.get("resources", [])}
        for r in a["resources"]:
            then = _pick(controlled.get((r["resource"], r["place"]), {}), _RESOURCE)
            if then == _pick(r, _RESOURCE):
                continue
            actor, resource = a["actor"], r["resource"]
            resources.append({"actor": actor, "name": a["name"], "resource": resource, "place": r["place"],
                              "place_name": r["place_name"], "from": then or None, "to": _pick(r, _RESOURCE),
                              "events": behind(_touches({"ResourceControlled"}, actor=actor, resource=resource))})
    deployments = []
    old_deployed = {(d["actor"], d["place"]): d for d in before["deployments"]["deployments"]}
    new_deployed = {(d["actor"], d["place"]): d for d in after["deployments"]["deployments"]}
    for key in sorted(old_deployed.keys() | new_deployed.keys()):
        was, d = old_deployed.get(key, {}), new_deployed.get(key) or {**old_deployed[key], **_GONE}
        if _pick(was, _DEPLOYMENT) == _pick(d, _DEPLOYMENT) and _pending(was) == _pending(d):
            continue
        actor, place = d["actor"], d["place"]
        deployments.append({"actor": actor, "actor_name": d["actor_name"], "place": place,
                            "place_name": d["place_name"], "from": _pick(was, _DEPLOYMENT) or None,
                            "to": _pick(d, _DEPLOYMENT), "pending": [_fact(e, end, name) for e in d["pending"]],
                            "events": behind(_touches({"ForcesDeployed", "ForcesWithdrawn"}, actor=actor,
                                                      place=place))})
    return {"from": before["territory"]["as_of"], "to": after["territory"]["as_of"], "places": places,
            "holdings": holdings, "resources": resources,
            "deployments": deployments,
            "counts": {"changed_hands": sum(1 for p in places if p["changed_hands"]), "places": len(places),
                       "holdings": len(holdings), "resources": len(resources), "deployments": len(deployments),
                       "facts": len(facts)}}


def _touches(types: Iterable[str], **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """A test of a fact: one of `types` with these field values."""
    kinds = frozenset(types)
    return lambda e: e["type"] in kinds and all(e.get(k) == v for k, v in fields.items())


def _pick(entry: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: entry[f] for f in fields if f in entry}


def _pending(entry: dict[str, Any]) -> list[str | None]:
    return [e.get("id") for e in entry.get("pending", ())]


def _holder(entry: dict[str, Any], name: Namer) -> dict[str, Any]:
    controller = entry.get("controller")
    return {"controller": controller, "controller_name": name("actor", controller) if controller else None,
            "since": entry.get("since"), "since_to": entry.get("since_to"), "since_text": entry.get("since_text"),
            "contested_by": entry.get("contested_by", []),
            "contested_by_names": [name("actor", a) for a in entry.get("contested_by", [])],
            "pending": entry.get("pending_text", [])}


def _fact(e: dict[str, Any], end: str, name: Namer) -> dict[str, Any]:
    return {"id": e.get("id"), "type": e["type"], "occurred_from": e["occurred_from"],
            "occurred_to": e["occurred_to"], "when": when(e), "summary": summarize(e, name),
            "settled": e["occurred_to"] <= end, "sources": [s.get("publisher") for s in e.get("sources", ())]}


def render(answer: dict[str, Any]) -> str:
    """The diff as text for a terminal: one paragraph per kind of change, each fact behind it indented."""
    lines = [f"changes from {answer['from']} to {answer['to']}"
             + (f", as known at {answer['known_at']}" if answer.get("known_at") else "")
             + f" (log position {answer['position']})"]

    def facts(item: dict[str, Any]) -> None:
        for e in item["events"]:
            lines.append(f"      {'' if e['settled'] else 'pending: '}{e['when']}: {e['summary']}  [{e['id']}]")

    if answer["places"]:
        lines.append("\nplaces:")
    for p in answer["places"]:
        a, b = p["from"], p["to"]
        if p["changed_hands"]:
            what = f"{a['controller_name'] or 'no controller recorded'} -> {b['controller_name'] or 'no controller'}"
        else:
            what = f"still {b['controller_name'] or 'no controller recorded'}"
        if b["contested_by_names"] != a["contested_by_names"]:
            what += f"; contested by {', '.join(b['contested_by_names']) or 'no one'}" \
                    f" (was {', '.join(a['contested_by_names']) or 'no one'})"
        if b["pending"]:
            what += "; " + "; ".join(b["pending"])
        lines.append(f"  {p['name']}: {what}")
        facts(p)
    if answer["holdings"] or answer["resources"]:
        lines.append("\narsenal:")
    for h in answer["holdings"]:
        before = _amount(h["from"]) if h["from"] else "none"
        lines.append(f"  {h['name']}: {h['asset']} {before} -> {_amount(h['to'])}")
        facts(h)
    for r in answer["resources"]:
        before = f"{r['from'].get('share_percent')}%" if r["from"] else "none"
        lines.append(f"  {r['name']}: {r['resource']} {before} -> {r['to'].get('share_percent')}%")
        facts(r)
    if answer["deployments"]:
        lines.append("\ndeployments:")
    for d in answer["deployments"]:
        before = _forces(d["from"]) if d["from"] else "none"
        lines.append(f"  {d['actor_name']} at {d['place_name']}: {before} -> {_forces(d['to'])}")
        facts(d)
    if len(lines) == 1:
        lines.append("\nnothing changed")
    return "\n".join(lines)


def _amount(h: dict[str, Any]) -> str:
    if h.get("quantity") is not None:
        return f"{h['quantity']:,}"
    return f"unknown (at least {h['known_minimum']:,})" if h.get("known_minimum") else "unknown"


def _forces(d: dict[str, Any]) -> str:
    parts = [f"{d['personnel']:,} personnel" if d.get("personnel") is not None else "personnel unknown"]
    parts += [f"{k}: {'unknown' if v is None else v}" for k, v in {**d.get("equipment", {}),
                                                                   **d.get("units", {})}.items()]
    return ", ".join(parts)
