"""The analyst's commands: `tracker actors`, `tracker places`, `tracker diff`, and the other
formats of `state`, `log`, `import` and `export` (GeoJSON, ACLED).

cli.py builds the parser and calls `add_commands` / `extend`, then hands these commands to
`run`. Kept apart from cli.py so that the commands the analyst needs grow here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from .core import diff as diffs
from .core import geojson
from .core.catalog import Kind
from .core.dates import parse_as_of, parse_known_at
from .core.errors import InputError
from .core.reference import listing, with_alias
from .core.reports import from_objects
from .core.tables import table
from .core.timeline import retractions
from .service import Tracker

COMMANDS = ("actors", "places", "diff")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    for kind in ("actor", "place"):
        cmd = sub.add_parser(f"{kind}s", parents=[common],
                             help=f"the registered {kind}s: ids, names, aliases, kinds"
                                  + (", coordinates" if kind == "place" else "")
                                  + f"; `tracker {kind}s alias ID NAME` adds an alias")
        cmd.add_argument("--search", metavar="TEXT", help="only those whose id, name or an alias contains TEXT")
        cmd.add_argument("--json", action="store_true", help="print JSON")
        actions = cmd.add_subparsers(dest="reference_command", metavar="ACTION")
        alias = actions.add_parser("alias", parents=[common],
                                   help=f"give a {kind} another name (recorded in the log as a registration)")
        alias.add_argument("ref", metavar="ID", help=f"the {kind}: its id, name or an alias")
        alias.add_argument("alias", metavar="NAME", help=f"the new alias, e.g. the name a dataset gives the {kind}")
        alias.add_argument("--json", action="store_true", help="print the result as JSON")


    diff = sub.add_parser("diff", parents=[common],
                          help="what changed between two dates: places that changed hands, holdings and "
                               "deployments, with the facts behind each")
    diff.add_argument("--from", dest="start", required=True, metavar="D1", help="the earlier date (YYYY-MM-DD, "
                      "YYYY-MM or YYYY: the end of that month or year)")
    diff.add_argument("--to", dest="end", required=True, metavar="D2", help="the later date")
    diff.add_argument("--known-at", metavar="TIME", help="both states as known at TIME (UTC; a date = its end)")
    diff.add_argument("--json", action="store_true", help="print one JSON document")


def extend(state: argparse.ArgumentParser, log: argparse.ArgumentParser) -> None:
    """The other formats of commands cli.py defines."""
    state.add_argument("--format", choices=("table", "json", "geojson"), default=None,
                       help="table (default), json (as --json), or geojson: an RFC 7946 FeatureCollection of "
                            "the places (territory only)")
    log.add_argument("--format", choices=("table", "json", "geojson"), default=None,
                     help="table (default), json (as --json), or geojson: the facts that name a place as Point "
                          "features (with --since/--until)")
    log.add_argument("--since", metavar="D1", help="with --format geojson: facts whose window ends on or after D1")
    log.add_argument("--until", metavar="D2", help="with --format geojson: facts whose window starts by D2")


def formatted(args: argparse.Namespace) -> bool:
    """Is this a command in a format this module writes?"""
    return getattr(args, "format", None) == "geojson"


async def run_format(tracker: Tracker, args: argparse.Namespace) -> int:
    timeline = await tracker.catch_up()
    if args.command == "state":
        if args.projection != "territory":
            raise InputError(f"--format geojson maps places: it takes the territory projection, not "
                             f"{args.projection}", field="projection")
        answer = timeline.render("territory", parse_as_of(args.as_of), parse_known_at(args.known_at),
                                 parse_known_at(args.recorded_at, "--recorded-at"))
        _dump(geojson.territory(answer, timeline.catalog.label))
        return 0
    start, end = parse_as_of(args.since, "--since"), parse_as_of(args.until, "--until")
    if start and end and start > end:
        raise InputError(f"--since {start} is after --until {end}")
    records = timeline.records()
    _dump(geojson.events(records, timeline.catalog, start, end, retractions(records, None)))
    return 0


def _dump(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


async def run(tracker: Tracker, args: argparse.Namespace, principal: str) -> int:
    if args.command == "diff":
        return await _diff(tracker, args)
    kind: Kind = "actor" if args.command == "actors" else "place"
    if getattr(args, "reference_command", None) == "alias":
        return await _alias(tracker, kind, args, principal)
    catalog = await tracker.refresh_catalog()
    rows = listing(catalog, kind, args.search)
    if args.json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return 0
    if not rows:
        print(f"no {kind}s" + (f" matching '{args.search}'" if args.search else " registered (tracker seed adds some)"))
        return 0
    if kind == "actor":
        print(table(["id", "name", "aliases", "kind"],
                    [(r["actor"], r["name"], "; ".join(r["aliases"]) or "-", r.get("kind")) for r in rows]))
    else:
        print(table(["id", "name", "aliases", "kind", "country", "admin1", "lat", "lon", "geo precision"],
                    [(r["place"], r["name"], "; ".join(r["aliases"]) or "-", r.get("kind"), r.get("country"),
                      r.get("admin1"), f"{r['lat']:.4f}", f"{r['lon']:.4f}", r["geo_precision"]) for r in rows]))
    return 0


async def _diff(tracker: Tracker, args: argparse.Namespace) -> int:
    start, end = diffs.dates(args.start, args.end)
    known_at = parse_known_at(args.known_at)
    answer = diffs.between(await tracker.catch_up(), start, end, known_at)
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() if args.json else diffs.render(answer))
    return 0


async def _alias(tracker: Tracker, kind: Kind, args: argparse.Namespace, principal: str) -> int:
    catalog = await tracker.refresh_catalog()
    source = {"publisher": f"{principal} (tracker {kind}s alias)"}
    registration = with_alias(catalog, kind, args.ref, args.alias, source)
    ident = catalog.resolve(kind, args.ref)
    if registration is None:
        text = f"{kind} '{ident}' already has the alias '{args.alias}'; nothing appended"
        position = None
    else:
        head = await tracker.head()
        result = await tracker.append(from_objects([registration], f"{kind}s alias"), head, principal)
        position = result.positions[0]
        text = f"{kind} '{ident}' ({catalog.label(kind, ident)}) now also answers to '{args.alias.strip()}' " \
               f"(registration at position {position})"
    if args.json:
        print(orjson.dumps({kind: ident, "alias": args.alias.strip(), "position": position}).decode())
    else:
        print(text)
    return 0
