"""`tracker history`: one entry's facts, newest first, a page at a time, with their sources.

A state carries each place's current holding; this is where its past is read."""

from __future__ import annotations

import argparse
import sys

import orjson

from .core.dates import parse_as_of, parse_known_at
from .core.history import DEFAULT_LIMIT, MAX_LIMIT, entry_of, limit_of
from .core.projections import PROJECTIONS
from .core.summary import summarize, when
from .core.tables import table
from .service import Tracker

_STATUS = {"settled": "", "pending": "pending", "retracted": "retracted"}


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    history = sub.add_parser(
        "history", parents=[common], help="one place's (or actor's) facts, newest first, with sources",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The facts behind one entry of a projection, newest first in history order (by the "
                    "start of each fact's window), a page at a time: each with its status at --as-of "
                    "(settled, pending: its window holds the date, or retracted) and its sources.",
        epilog="examples:\n  tracker history mosul\n  tracker history tikrit --as-of 2014-06-30\n"
               "  tracker history --projection arsenal --actor isis\n"
               "  tracker history --projection deployments --actor us_forces baghdad_airport\n"
               "  tracker history mosul --limit 20 --before 118   (the next page, as the last one said)")
    history.add_argument("place", nargs="?", help="the place's id (territory, deployments)")
    history.add_argument("--projection", choices=sorted(PROJECTIONS), default="territory",
                         help="whose history: territory (a place), arsenal (an actor), deployments (an actor "
                              "at a place); default territory")
    history.add_argument("--actor", help="the actor's id (arsenal, deployments)")
    history.add_argument("--as-of", metavar="DATE", help="facts begun by DATE (YYYY-MM-DD, YYYY-MM, YYYY; default "
                         "today), with their status then")
    history.add_argument("--known-at", metavar="TIME", help="only what was public at TIME (UTC; a date = its end)")
    history.add_argument("--recorded-at", metavar="TIME", help="the log as it stood at TIME (UTC; a date = its end)")
    history.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                         help=f"at most N facts per page (1 to {MAX_LIMIT}; default {DEFAULT_LIMIT})")
    history.add_argument("--before", type=int, metavar="POSITION",
                         help="the page after the one that said 'next page: --before POSITION'")
    history.add_argument("--json", action="store_true", help="print the page as JSON (entries, next_before)")


async def run(tracker: Tracker, args: argparse.Namespace) -> int:
    fields = {"place": args.place, "actor": args.actor}
    entry = entry_of(args.projection, fields.get)
    answer = await tracker.history(args.projection, entry, parse_as_of(args.as_of), parse_known_at(args.known_at),
                                   parse_known_at(args.recorded_at, "--recorded-at"), limit_of(args.limit),
                                   args.before)
    if args.json:
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    catalog = await tracker.refresh_catalog()
    named = ", ".join(catalog.label("actor" if field == "actor" else "place", value)
                      for field, value in answer["key"].items())
    print(f"History of {named} ({args.projection}), as of {answer['as_of']}, newest first")
    if not answer["entries"]:
        print("(no facts about it begun by then)")
        return 0
    rows = []
    for e in answer["entries"]:
        event = e["event"]
        sources = "; ".join(dict.fromkeys(" - ".join(filter(None, (s.get("publisher"), s.get("title"), s.get("url"))))
                                          for s in event.get("sources", ())))
        rows.append((e["position"], when(event), _STATUS[e["status"]], summarize(event, catalog.label), sources))
    print(table(["pos", "occurred", "status", "what", "sources"], rows))
    if answer["next_before"] is not None:
        print(f"next page: --before {answer['next_before']}")
    return 0
