"""`tracker serve`: one process, one port: the websocket API at /ws, and plain HTTP beside it.

A thin asyncio shell: the protocol's rules are in tracker/protocol.py, the fan-out in
hub.py, a client's requests in connection.py, the HTTP routes in http.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from ..core.errors import InputError, TrackerError
from ..core.protocol import MAX_MESSAGE_BYTES
from ..service import Tracker
from .auth import access, default_hosts
from .connection import Client
from .guard import Guard
from .http import Routes
from .http11 import Connection
from .hub import Hub
from .metrics import Levels, Metrics
from .representation import finish

log = structlog.get_logger("tracker.server")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    allow_origins: list[str] = field(default_factory=list)
    allow_hosts: list[str] = field(default_factory=list)  # Host names answered besides default_hosts(host)
    queue_limit: int = 1024  # outgoing messages per client before it is closed with 1013
    ring: int = 10_000  # recent events' serialised bodies kept for live subscribers: a cache
    max_lag: int = 100_000  # events a live subscriber may lag the head before it is closed with 1013
    close_timeout: float = 5.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    certfile: str | None = None  # TLS: the server's certificate chain (PEM); with keyfile, serve https/wss
    keyfile: str | None = None
    public_read: bool = False  # reads open to anyone even once the store has tokens (a public dashboard)
    append_rate: float | None = None  # appends per second per principal (a burst of 20); None: no limit
    image: str | None = None  # where the timeline is kept between runs (tracker/images.py); None: nowhere


class UnsafeBinding(InputError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:  # a name: loopback only if every address it resolves to is
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check(settings: Settings, has_tokens: bool = False) -> None:
    if settings.token is None and not has_tokens and not is_loopback(settings.host):
        raise UnsafeBinding(
            f"refusing to listen on {settings.host} without a write token or tokens in the store: anyone who "
            "can reach it could append. "
            "Add one (tracker tokens add NAME --role writer), set --token-file, or listen on 127.0.0.1")
    if settings.token is not None and len(settings.token) < 8:
        raise UnsafeBinding("the write token is too short to be a secret: use at least 8 characters "
                            "(for example: python -c 'import secrets; print(secrets.token_urlsafe())')")


async def run(tracker: Tracker, settings: Settings,
              ready: Callable[[int], Awaitable[None] | None] | None = None,
              stop: asyncio.Future | None = None) -> None:
    """Serve until `stop` resolves, or SIGINT/SIGTERM; then close every connection cleanly."""
    guard = Guard(tracker, settings.token, settings.public_read, settings.append_rate)
    await guard.reload()
    check(settings, guard.policy.managed)
    loop = asyncio.get_running_loop()
    stop = stop or loop.create_future()
    stopping = stop  # not optional: what the signal handler resolves

    def on_signal(s: signal.Signals) -> None:
        if not stopping.done():
            stopping.set_result(s)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            pass
    hub = Hub(tracker, ring=settings.ring, image=settings.image)
    await guard.start()
    hosts = [*default_hosts(settings.host), *settings.allow_hosts]
    routes = Routes(hub, guard, set(settings.allow_origins), is_loopback(settings.host), settings.port, hosts)
    clients: set[Client] = set()  # the websocket clients, for /metrics' gauges
    metrics = Metrics(lambda: levels(hub, clients))
    hub.metrics = routes.metrics = metrics

    def finished(_connection: ServerConnection, request: Request, response: Response) -> Response | None:
        """Every plain HTTP answer, the routes' and websockets' own refusals alike: ETag, gzip, HEAD."""
        if response.status_code == 101:
            return None
        metrics.http_requests.labels(str(response.status_code)).inc()
        return finish(request, response)

    async def handler(ws: ServerConnection) -> None:
        try:
            granted = access(ws.request.headers if ws.request else {}, guard.policy)
        except TrackerError:  # refused in the handshake already (http.Routes): never reached
            await ws.close(1008, "unauthorized")
            return
        client = Client(ws, hub, guard, granted, settings.queue_limit, settings.max_lag)
        guard.clients.add(client)
        clients.add(client)
        try:
            await client.serve()
        finally:
            guard.clients.discard(client)
            clients.discard(client)

    try:
        async with serve(handler, settings.host, settings.port, process_request=routes, process_response=finished,
                         create_connection=Connection, ssl=tls_context(settings),
                         max_size=MAX_MESSAGE_BYTES, ping_interval=settings.ping_interval,
                         ping_timeout=settings.ping_timeout, close_timeout=settings.close_timeout,
                         server_header="tracker") as server:
            port = server.sockets[0].getsockname()[1]
            routes.port = port
            # Listening already: until the hub is at the head, /healthz says how far it is (503 catching_up)
            # and reads are refused with 503, so an orchestrator waits instead of getting a half-built answer.
            log.info("catching up", host=settings.host, port=port, head=await tracker.head())
            await hub.start()
            log.info("serving", host=settings.host, port=port, position=hub.head, store=tracker.store.url,
                     access="tokens" if guard.policy.managed else "token" if settings.token else "open on loopback",
                     public_read=settings.public_read)
            if ready is not None:
                result = ready(port)
                if asyncio.iscoroutine(result):
                    await result
            reason = await stop
            log.info("shutting down", reason=str(reason))
            server.close(close_connections=True)
            await server.wait_closed()
    finally:
        await guard.stop()
        await hub.stop()
        await hub.keep_image()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass


def levels(hub: Hub, clients: set[Client]) -> Levels:
    """The gauges' values now, for a /metrics scrape."""
    timeline = hub.tracker.timeline
    return Levels(
        subscribers={"events": sum(len(c.outbox.events) for c in clients),
                     "projection": sum(len(v.subscribers) for v in hub.views.values())},
        connections=len(clients), queued_messages=sum(len(c.outbox.queue) for c in clients), head=hub.head,
        checkpoints=len(timeline.checkpoints),
        checkpoints_built=getattr(timeline, "checkpoints_built", 0),
        checkpoints_dropped=getattr(timeline, "checkpoints_dropped", 0),
        store_reconnects=getattr(hub.tracker.store, "reconnects", 0))


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS built in: a server context from --certfile/--keyfile (TLS 1.2 or later), or None."""
    if settings.certfile is None and settings.keyfile is None:
        return None
    if settings.certfile is None:
        raise InputError("--keyfile needs --certfile: the certificate chain (PEM) that goes with the key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile)
    except FileNotFoundError as e:
        raise InputError(f"cannot read the TLS certificate or key: {e.filename}: no such file") from None
    except (ssl.SSLError, OSError) as e:
        raise InputError(f"cannot load the TLS certificate and key ({settings.certfile}, {settings.keyfile}): {e}; "
                         "give a PEM certificate chain and its private key") from None
    return context


def read_token_file(path: str) -> str:
    """A token from a file (its first line), so that it never shows in `ps`."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except OSError as e:
        raise InputError(f"cannot read the token file {path}: {e.strerror or e}") from None
    if not token:
        raise InputError(f"the token file {path} is empty: put the token on its first line")
    return token


def token_from_env(cli_value: str | None) -> str | None:
    return cli_value or os.environ.get("TRACKER_TOKEN") or None
