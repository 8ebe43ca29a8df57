"""`tracker watch`: follow a server's events (and a projection's changes) on the terminal.

A websocket client of the documented protocol. It remembers the last position it printed
and, when the connection drops, reconnects with backoff and resumes from there: nothing
missed, nothing printed twice.
"""

from __future__ import annotations

import asyncio
import random
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .core.errors import InputError, StoreUnavailable, TrackerError
from .core.projections import PROJECTIONS
from .core.protocol import apply_update
from .core.summary import summarize, when
from .core.tables import NO_CONTROLLER


@dataclass
class WatchOptions:
    url: str = "ws://127.0.0.1:8765/ws"
    after: int = 0
    projection: str | None = None
    as_of: str | None = None
    known_at: str | None = None
    json: bool = False
    count: int | None = None  # stop after this many events (for scripts)
    reconnect: bool = True
    token: str | None = None  # sent as a bearer header: a server whose store has tokens needs one to read


class ServerRefused(TrackerError):
    exit_code = 2


async def watch(options: WatchOptions, out: Callable[[str], None] = print) -> int:
    """Print until interrupted (or `count` events); returns the last position seen."""
    last = options.after if options.after >= 0 else await _server_head(options.url)
    seen, delay = 0, 0.5
    state: dict[str, Any] | None = None
    names = Names()
    while True:
        try:
            headers = {"Authorization": f"Bearer {options.token}"} if options.token else None
            async with connect(options.url, open_timeout=10, max_size=None, additional_headers=headers) as ws:
                delay = 0.5
                if not options.json:  # names, not ids, in the lines printed
                    await ws.send(orjson.dumps({"op": "catalog", "ref": "catalog"}).decode())
                await ws.send(orjson.dumps({"op": "subscribe", "stream": "events", "after": last,
                                            "ref": "events"}).decode())
                if options.projection:
                    await ws.send(orjson.dumps({"op": "subscribe", "projection": options.projection,
                                                "as_of": options.as_of, "known_at": options.known_at,
                                                "ref": "projection"}).decode())
                async for text in ws:
                    message = orjson.loads(text)
                    kind = message.get("type")
                    if kind == "event" and message["position"] <= last:
                        continue  # already printed before a reconnect
                    if options.json:
                        out(text if isinstance(text, str) else text.decode())
                    if kind == "error":
                        raise ServerRefused(f"the server refused: {message.get('message')} ({message.get('code')})")
                    if kind == "catalog":
                        names.load(message)
                    elif kind == "event":
                        last = message["position"]
                        seen += 1
                        names.learn(message["event"])
                        if not options.json:
                            out(_event_line(message, names))
                        if _done(options, seen, state):
                            return last
                    elif kind == "snapshot":
                        state = message["state"]
                        if not options.json:
                            out(_snapshot_text(state, names))
                        if _done(options, seen, state):
                            return last
                    elif kind == "update" and state is not None:
                        projection = PROJECTIONS[message["projection"]]
                        state = apply_update(projection, state, message["changed"], message["removed"],
                                             message["position"], message.get("as_of"))
                        if not options.json:
                            for line in _update_lines(message, names):
                                out(line)
        except (TimeoutError, OSError, ConnectionClosed, InvalidStatus) as e:
            if isinstance(e, InvalidStatus) and e.response.status_code != 503:
                raise ServerRefused(f"{options.url} refused the websocket: {e}") from None
            # 503: a server starting (catching up with its log) or without its store for now: wait
            if not options.reconnect:
                raise StoreUnavailable(f"lost the server at {options.url}: {e}") from None
            print(f"tracker watch: {_why(e)}; reconnecting in {delay:.1f} s from position {last}",
                  file=sys.stderr, flush=True)
            await asyncio.sleep(delay * (1 + random.random() / 4))
            delay = min(delay * 2, 10.0)
        except InvalidURI:
            raise InputError(f"--url: {options.url!r} is not a websocket URL; "
                             "for example ws://127.0.0.1:8765/ws") from None
        except InvalidHandshake as e:
            raise ServerRefused(f"{options.url} refused the websocket: {e}") from None


def _done(options: WatchOptions, seen: int, state: dict[str, Any] | None) -> bool:
    """`--count` ends the watch once that many events are printed and, with `--projection`, its state too:
    the events and the snapshot come on two subscriptions, in either order."""
    return (options.count is not None and seen >= options.count
            and (not options.projection or state is not None))


async def _server_head(url: str) -> int:
    """The server's head now (from /healthz), for a watch of only what comes next."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise InputError(f"--url: {url!r} is not a websocket URL; for example ws://127.0.0.1:8765/ws")
    health = urlunsplit(("https" if parts.scheme == "wss" else "http", parts.netloc, "/healthz", "", ""))

    def get() -> int:
        try:
            with urllib.request.urlopen(health, timeout=10) as answer:
                return int(orjson.loads(answer.read())["position"])
        except urllib.error.HTTPError as e:
            raise StoreUnavailable(f"{health} answered {e.code}: {e.read().decode(errors='replace')[:200]}") from None
        except (OSError, ValueError, KeyError) as e:
            raise StoreUnavailable(f"cannot reach the server at {health}: {e}") from None

    return await asyncio.to_thread(get)


def _why(e: BaseException) -> str:
    if isinstance(e, ConnectionClosed):
        rcvd = e.rcvd
        return f"connection closed ({rcvd.code} {rcvd.reason})" if rcvd else "connection lost"
    if isinstance(e, InvalidStatus):
        return "the server is not ready (HTTP 503: catching up with its log, or its store unreachable)"
    return f"cannot reach the server ({e})"


class Names:
    """Actor and place names by id, from the server's catalog and the registrations the stream
    brings: what a human-facing line shows instead of an id (the id when the name is unknown)."""

    def __init__(self) -> None:
        self.names: dict[tuple[str, str], str] = {}

    def load(self, catalog: dict[str, Any]) -> None:
        for kind in ("actor", "place"):
            for entry in catalog.get(f"{kind}s", ()):
                self.names[(kind, entry[kind])] = entry["name"]

    def learn(self, event: dict[str, Any]) -> None:
        kind = {"ActorRegistered": "actor", "PlaceRegistered": "place"}.get(event.get("type", ""))
        if kind is not None:
            self.names[(kind, event[kind])] = event["name"]

    def __call__(self, kind: str, ident: str) -> str:
        return self.names.get((kind, ident), ident)


def _event_line(message: dict[str, Any], names: Names) -> str:
    event = message["event"]
    sources = ", ".join(dict.fromkeys(s.get("publisher", "?") for s in event.get("sources", ())))
    return f"#{message['position']:<6} {when(event):<20} {event['type']:<18} {summarize(event, names)}" + \
        (f"  [{sources}]" if sources else "")


def _snapshot_text(state: dict[str, Any], names: Names) -> str:
    from .core.tables import render_state

    return render_state(state, names)


def _update_lines(message: dict[str, Any], names: Names) -> list[str]:
    name = message["projection"]
    lines = [f"{name} at position {message['position']}:"]
    for entry in message["changed"]:
        lines.append("  changed " + _describe(name, entry, names))
    for key in message["removed"]:
        lines.append("  removed " + ", ".join(f"{k}={v}" for k, v in key.items()))
    return lines


def _describe(name: str, e: dict[str, Any], names: Names) -> str:
    """One line per changed entry; pending facts (their window holds the date) said apart."""
    pending = "".join(f"; {text}" for text in e.get("pending_text", ()))
    if name == "territory":
        held = f"held by {e['controller_name']} since {e['since_text']}" if e["controller"] else NO_CONTROLLER
        rivals = ", ".join(names("actor", a) for a in e["contested_by"])
        contested = f", contested by {rivals}" if rivals else ""
        return f"{e['name']}: {held}{contested}{pending}"
    if name == "arsenal":
        parts = [f"{h['asset']} {h['quantity'] if h['quantity'] is not None else 'unknown'}" for h in e["holdings"]]
        return f"{e['name']}: " + "; ".join(parts) + pending
    personnel = e["personnel"] if e["personnel"] is not None else "unknown"
    return f"{e['actor_name']} at {e['place_name']}: personnel {personnel}, equipment {e['equipment']}{pending}"
