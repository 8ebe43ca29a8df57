"""Plain HTTP GET on the websocket port: the dashboard, its files, health and JSON reads.

websockets hands every request to `process_request` before its handshake; a response
returned here is sent instead of upgrading. `/ws` goes on to the handshake, after the
Origin and token checks.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import math
import mimetypes
import re
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ..contracts import served
from ..core import history, protocol
from ..core.errors import BadQuery, StoreError, TrackerError
from ..core.jsontext import MAX_INT
from ..core.projections import PROJECTIONS
from ..core.protocol import described
from ..core.schema import json_schema
from ..store.url import mask_secrets
from . import interop_routes
from .auth import Access, Unauthorized, access, host_allowed, origin_allowed
from .guard import Guard, address_of
from .hub import Hub
from .metrics import Metrics

log = structlog.get_logger("tracker.server")

WEB = Path(__file__).resolve().parent.parent / "web"
MAX_EVENTS_PAGE = 1000
ALLOWED_METHODS = ("GET", "HEAD")  # every route; anything else is a 405 with Allow
UNAVAILABLE = "database unavailable"  # all an unauthenticated caller learns of a store failure
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only: '²' passes str.isdigit()
# The query parameters each JSON route takes; any other, or one given twice, is a 400 `bad_request`.
# (The dashboard, its files and the /ws handshake do not look at the query string.)
PARAMS: dict[str, tuple[str, ...]] = {
    "/healthz": (),
    "/api/state/{projection}": ("as_of", "known_at", "recorded_at", "place", "actor", "country", "bbox"),
    "/api/history/{projection}": ("place", "actor", "as_of", "known_at", "recorded_at", "limit", "before"),
    "/api/events": ("after", "limit"),
    "/api/catalog": (),
    "/api/diff": ("from", "to", "known_at"),
    "/api/state/territory.geojson": ("as_of", "known_at", "recorded_at"),
    "/api/events.geojson": ("from", "to"),
    "/api/chart": ("from", "to", "known_at"),
    "/api/actors": ("search",),
    "/api/places": ("search",),
    "/api/schema": (),
    "/api/asyncapi.json": (),
    "/api/openapi.json": (),
}
# The published contracts: open to every caller, as /healthz is (they say how to ask, not what is known).
CONTRACTS = {"/api/schema": None, "/api/asyncapi.json": "asyncapi.yaml", "/api/openapi.json": "openapi.yaml"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8", ".json": "application/json",
          ".svg": "image/svg+xml", ".png": "image/png", ".md": "text/plain; charset=utf-8",
          ".txt": "text/plain; charset=utf-8"}


def response(status: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8",
             **headers: str) -> Response:
    data = body.encode() if isinstance(body, str) else body
    http = HTTPStatus(status)
    h = Headers([("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"),
                 ("Content-Type", content_type), ("Content-Length", str(len(data))),
                 ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")])
    for name, value in headers.items():
        h[name.replace("_", "-")] = value
    return Response(http.value, http.phrase, h, data)


def json_response(status: int, payload: Any, **headers: str) -> Response:
    return response(status, orjson.dumps(payload), "application/json", **headers)


def error_response(status: int, code: str, message: str, **details: Any) -> Response:
    headers = {k: str(details.pop(k)) for k in list(details) if k[:1].isupper()}  # e.g. Retry-After
    answer = json_response(status, {"type": "error", "code": code, "message": message, "details": details})
    for name, value in headers.items():
        answer.headers[name] = value
    return answer


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response




class Routes:
    def __init__(self, hub: Hub, guard: Guard, origins: set[str], loopback: bool, port: int,
                 hosts: list[str] | None = None) -> None:
        self.hub = hub
        self.hosts = hosts if hosts is not None else ["127.0.0.1", "localhost", "::1"]  # --allow-host values
        self.tracker = hub.tracker
        self.guard = guard
        self.origins = origins  # --allow-origin values
        self.loopback = loopback
        self.port = port
        self.metrics: Metrics | None = None  # set by app.run: /metrics answers only with it

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.method not in ALLOWED_METHODS:
            return error_response(405, "method_not_allowed", f"{request.method[:20]} is not allowed here: this "
                                  "server answers GET and HEAD (appends go through the websocket at /ws)",
                                  method=request.method[:20], Allow=", ".join(ALLOWED_METHODS))
        announced = getattr(connection.protocol, "refused_body", None)
        if announced:
            return error_response(413, "body_not_accepted", f"this server takes no request bodies ({announced}): "
                                  "send parameters in the query string", header=announced[:60])
        url = urlsplit(request.path)
        path = url.path
        try:
            refused = self._check_headers(request)
            if refused is not None:
                return refused
            if path == "/ws" and request.method == "HEAD":  # what a GET without the upgrade gets, without its body
                return error_response(426, "upgrade_required", "/ws is the websocket: open it with a "
                                      "websocket client (GET with Upgrade: websocket)", Upgrade="websocket")
            if path == "/ws" and self.hub.ready:
                return self._handshake(connection, request)
            if path in ("/", "/index.html"):
                return self._file("index.html")
            if path.startswith("/static/"):
                return self._file(path.removeprefix("/static/"))
            if path == "/healthz":
                _query(url.query, path)
                return await self._health()
            if not self.hub.ready and (path == "/ws" or path.startswith("/api/")) and path not in CONTRACTS:
                return await self._catching_up()
            if path.startswith("/api/") and path not in CONTRACTS:
                refused = self._reader(connection, request)
                if refused is not None:
                    return refused
            if path in interop_routes.ROUTES:
                return await self._interop(path, _query(url.query, path))
            for prefix, answer in (("/api/state/", self._state), ("/api/history/", self._history)):
                if path.startswith(prefix):
                    name = path.removeprefix(prefix)
                    if name not in PROJECTIONS:
                        return error_response(404, "not_found",
                                              f"unknown projection '{name}': one of {', '.join(PROJECTIONS)}")
                    return await answer(name, _query(url.query, prefix + "{projection}", path))
            if path == "/api/events":
                return await self._events(_query(url.query, path))
            if path == "/api/catalog":
                _query(url.query, path)
                return json_response(200, await self.hub.catalog())
            if path in CONTRACTS:
                _query(url.query, path)
                document = CONTRACTS[path]
                return response(200, _schema() if document is None else served(document), "application/json")
            if path == "/metrics" and self.metrics is not None:
                return self._metrics(connection, request)
            return error_response(404, "not_found", f"no such page: {path}; try / (the dashboard), /healthz, "
                                  "/api/state/territory, /api/history/territory?place=ID, /api/events, /api/catalog, "
                                  "/api/schema, /api/asyncapi.json, /api/openapi.json, /api/diff, "
                                  "/api/state/territory.geojson, /api/events.geojson, /api/chart, /api/actors, "
                                  "/api/places, /metrics "
                                  "or the websocket at /ws")
        except StoreError as e:
            if self.metrics is not None:
                self.metrics.store_errors.labels("http").inc()
            log.warning("store unavailable", path=path, error=mask_secrets(e.message))
            return error_response(503, e.code, UNAVAILABLE)
        except TrackerError as e:
            return error_response(400, e.code, e.message, **{k: v for k, v in e.details.items() if k != "ref"})
        except Exception:
            log.exception("HTTP request failed", path=path)
            return error_response(500, "internal", "the server failed to handle this request; it is logged")

    def _metrics(self, connection: ServerConnection, request: Request) -> Response:
        """Prometheus text. Open while the store has no tokens (as reads are); once it has
        some, it needs a token of any role: a reader token is enough, and --public-read does
        not open it (it is for operators, not a public dashboard's audience)."""
        _query(urlsplit(request.path).query, "/healthz", "/metrics")  # no parameters, as /healthz (PARAMS is JSON's)
        if self.guard.policy.managed:
            try:
                granted = self._authenticated(connection, request)
            except _Refused as e:
                return e.response
            if granted.principal == "anonymous":
                return error_response(401, "unauthorized", "metrics need a token once the store has tokens: send "
                                      "'Authorization: Bearer <token>' (tracker tokens add prometheus --role reader)")
        assert self.metrics is not None
        body, kind = self.metrics.exposition(request.headers.get("Accept"))
        return response(200, body, kind)

    def _check_headers(self, request: Request) -> Response | None:
        """Each of Host, Origin and Authorization given at most once, and the Host one this server answers by."""
        for name in ("Host", "Origin", "Authorization"):
            count = len(request.headers.get_all(name))
            if count > 1:
                return error_response(400, "bad_request", f"the {name} header is given {count} times; give it once",
                                      field=name, count=count)
        host = request.headers.get("Host")
        if not host_allowed(host, self.hosts):
            log.warning("host refused", host=host)
            shown = repr(host[:100]) if host else "(none)"
            return error_response(403, "forbidden_host", f"this server does not answer to the host {shown}; "
                                  "start it with --allow-host NAME to admit a name it is reached by",
                                  host=host[:100] if host else None)
        return None

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse before the upgrade what the connection could never do; the handler asks
        `access()` again, with the same headers, for what it may do."""
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.port, self.loopback, self.origins):
            log.warning("origin refused", origin=origin)
            return error_response(403, "forbidden_origin", f"origin {origin} may not open this websocket; "
                                  "start the server with --allow-origin to admit it")
        try:
            self._authenticated(connection, request)
        except _Refused as e:
            return e.response
        return None

    def _authenticated(self, connection: ServerConnection, request: Request) -> Access:
        """The request's access; a wrong token counts against its address (429 past the limit)."""
        address = address_of(connection)
        wait = self.guard.failures.retry_after(address, self.guard.now())
        if wait is not None:
            raise _Refused(error_response(429, "too_many_failures", "too many failed authentications from this "
                                          f"address: try again in {wait} s", retry_after=wait,
                                          **{"Retry-After": str(math.ceil(wait))}))
        try:
            return access(request.headers, self.guard.policy)
        except Unauthorized as e:
            self.guard.failures.record(address, self.guard.now())
            log.warning("token refused", peer=address)
            raise _Refused(error_response(401, e.code, e.message)) from None

    def _reader(self, connection: ServerConnection, request: Request) -> Response | None:
        """JSON reads need a reader token once the store has tokens (unless --public-read)."""
        try:
            granted = self._authenticated(connection, request)
        except _Refused as e:
            return e.response
        if not granted.can_read:
            return error_response(401, "unauthorized", "reading needs a token: send 'Authorization: Bearer "
                                  "<token>' (tracker tokens add NAME --role reader)")
        return None

    async def _catching_up(self) -> Response:
        """While the server folds the log it found at start: how far it is."""
        head = await asyncio.wait_for(self.tracker.head(), 2.0)
        return json_response(503, {"status": "catching_up", "position": self.tracker.timeline.head, "head": head,
                                   "stage": self.hub.stage}, Retry_After="1")

    async def _health(self) -> Response:
        if not self.hub.ready:
            return await self._catching_up()
        try:
            head = await asyncio.wait_for(self.tracker.head(), 2.0)
        except (StoreError, TimeoutError) as e:
            log.warning("health check: store unavailable",
                        error=mask_secrets(str(e)) or "the store did not answer within 2 s")
            return json_response(503, {"status": "unavailable", "reason": UNAVAILABLE, "position": self.hub.head})
        if self.hub.problem is not None:
            log.warning("health check: store unavailable", error=mask_secrets(self.hub.problem))
            return json_response(503, {"status": "unavailable", "reason": UNAVAILABLE, "position": self.hub.head})
        return json_response(200, {"status": "ok", "position": head})

    def _file(self, name: str) -> Response:
        target = (WEB / name).resolve()
        if not target.is_relative_to(WEB) or not target.is_file():
            return error_response(404, "not_found", f"no such file: {name}")
        kind = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return response(200, target.read_bytes(), kind)

    async def _state(self, name: str, query: dict[str, str]) -> Response:
        return json_response(200, await self.hub.query(protocol.view(name, query.get, filtered=True)))

    async def _history(self, name: str, query: dict[str, str]) -> Response:
        view = protocol.view(name, query.get)
        entry = history.entry_of(name, query.get)
        limit = history.limit_of(_int(query, "limit", history.DEFAULT_LIMIT))
        before = _int(query, "before", 0) if query.get("before") else None
        return json_response(200, await self.tracker.history(name, entry, view.as_of, view.known_at,
                                                             view.recorded_at, limit, before))

    async def _interop(self, path: str, query: dict[str, str]) -> Response:
        if path == "/api/diff":
            return json_response(200, await interop_routes.diff(self.hub, query.get))
        if path == "/api/chart":
            return json_response(200, await interop_routes.chart(self.hub, query.get))
        if path in ("/api/actors", "/api/places"):
            return json_response(200, await interop_routes.reference(self.hub, path.removeprefix("/api/"), query.get))
        build = interop_routes.territory if path == "/api/state/territory.geojson" else interop_routes.events
        return response(200, orjson.dumps(await build(self.hub, query.get)), interop_routes.GEOJSON)

    async def _events(self, query: dict[str, str]) -> Response:
        after, limit = _int(query, "after", 0), _int(query, "limit", 100)
        records = await self.tracker.read(after, min(limit, MAX_EVENTS_PAGE))
        head = await self.tracker.head()  # read after the page: never behind its last event
        if not records and after > head:
            raise protocol.after_beyond_head(after, head)
        return json_response(200, {"events": [{**r.as_json(), **described(r.event)} for r in records], "head": head})


def _query(text: str, route: str, path: str | None = None) -> dict[str, str]:
    """The query string's parameters, each given once and each one the route takes."""
    pairs = parse_qsl(text, keep_blank_values=True)
    what = f"GET {path or route}"
    protocol.check_fields((name for name, _ in pairs), PARAMS[route], what, noun="query parameter")
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in query:
            count = sum(1 for n, _ in pairs if n == name)
            raise BadQuery(f"{what}: query parameter '{name}' is given {count} times; give it once", field=name,
                           count=count)
        query[name] = value
    return query


@functools.cache
def _schema() -> bytes:
    """The JSON Schema of events and report files (`tracker schema`), serialised once."""
    return orjson.dumps(json_schema())


def _int(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    shown = repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text):,} characters)"
    if not _DIGITS.fullmatch(text) or int(text) > MAX_INT:
        raise BadQuery(f"'{name}' must be a whole number from 0 to {MAX_INT} (2^63 - 1) in ASCII digits, "
                       f"got {shown}", field=name)
    return int(text)
