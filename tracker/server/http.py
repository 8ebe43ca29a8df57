"""Plain HTTP GET on the websocket port: the dashboard, its files, health and JSON reads.

websockets hands every request to `process_request` before its handshake; a response
returned here is sent instead of upgrading. `/ws` goes on to the handshake, after the
Origin and token checks.
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ..core.dates import parse_as_of, parse_known_at
from ..core.errors import BadQuery, StoreError, TrackerError
from ..core.projections import PROJECTIONS
from ..core.protocol import View
from ..core.records import decode
from .hub import Hub

log = structlog.get_logger("tracker.server")

WEB = Path(__file__).resolve().parent.parent / "web"
MAX_EVENTS_PAGE = 1000
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


def json_response(status: int, payload: Any) -> Response:
    return response(status, orjson.dumps(payload), "application/json")


def error_response(status: int, code: str, message: str, **details: Any) -> Response:
    return json_response(status, {"type": "error", "code": code, "message": message, "details": details})


class Routes:
    def __init__(self, hub: Hub, token: str | None, origins: set[str], loopback: bool, port: int) -> None:
        self.hub = hub
        self.token = token
        self.origins = origins  # --allow-origin values
        self.loopback = loopback
        self.port = port

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        path = url.path
        try:
            if path == "/ws":
                return self._handshake(connection, request)
            if path == "/healthz":
                return await self._health()
            if path in ("/", "/index.html"):
                return self._file("index.html")
            if path.startswith("/static/"):
                return self._file(path.removeprefix("/static/"))
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if path.startswith("/api/state/"):
                return await self._state(path.removeprefix("/api/state/"), query)
            if path == "/api/events":
                return await self._events(query)
            if path == "/api/catalog":
                return json_response(200, await self.hub.catalog())
            return error_response(404, "not_found", f"no such page: {path}; try / (the dashboard), /healthz, "
                                  "/api/state/territory, /api/events or the websocket at /ws")
        except StoreError as e:
            return error_response(503, e.code, e.message)
        except TrackerError as e:
            return error_response(400, e.code, e.message, **{k: v for k, v in e.details.items() if k != "ref"})

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self._allowed(request):
            log.warning("origin refused", origin=origin)
            return error_response(403, "forbidden_origin", f"origin {origin} may not open this websocket; "
                                  "start the server with --allow-origin to admit it")
        authorization = request.headers.get("Authorization")
        connection.authorized = self.token is None  # type: ignore[attr-defined]
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if self.token is None or scheme.lower() != "bearer" \
                    or not hmac.compare_digest(value.encode(), self.token.encode()):
                log.warning("handshake token refused")
                return error_response(401, "unauthorized", "wrong or unexpected bearer token")
            connection.authorized = True  # type: ignore[attr-defined]
        return None

    def _allowed(self, request: Request) -> set[str]:
        """The page's own origin, and --allow-origin. On loopback, only loopback names: a
        DNS-rebound name pointing at 127.0.0.1 is not the page's origin."""
        if self.loopback:
            own = {f"http://{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}
        else:
            host = request.headers.get("Host", "")
            own = {f"http://{host}", f"https://{host}"}
        return own | self.origins

    async def _health(self) -> Response:
        try:
            head = await asyncio.wait_for(self.hub.store.head(), 2.0)
        except (StoreError, TimeoutError) as e:
            reason = str(e) or "the store did not answer within 2 s"
            return json_response(503, {"status": "unavailable", "reason": reason, "position": self.hub.head})
        if self.hub.problem is not None:
            return json_response(503, {"status": "unavailable", "reason": self.hub.problem, "position": self.hub.head})
        return json_response(200, {"status": "ok", "position": head})

    def _file(self, name: str) -> Response:
        target = (WEB / name).resolve()
        if not target.is_relative_to(WEB) or not target.is_file():
            return error_response(404, "not_found", f"no such file: {name}")
        kind = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return response(200, target.read_bytes(), kind)

    async def _state(self, name: str, query: dict[str, str]) -> Response:
        if name not in PROJECTIONS:
            return error_response(404, "not_found", f"unknown projection '{name}': one of {', '.join(PROJECTIONS)}")
        view = View(name, parse_as_of(query.get("as_of"), "as_of"), parse_known_at(query.get("known_at"), "known_at"))
        return json_response(200, await self.hub.query(view))

    async def _events(self, query: dict[str, str]) -> Response:
        after, limit = _int(query, "after", 0), _int(query, "limit", 100)
        rows = await self.hub.store.read(after, min(limit, MAX_EVENTS_PAGE))
        head = await self.hub.store.head()
        return json_response(200, {"events": [decode(r.position, r.recorded_at, r.data).as_json() for r in rows],
                                   "head": head})


def _int(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit():
        raise BadQuery(f"'{name}' must be a whole number >= 0, got {text!r}")
    return int(text)
