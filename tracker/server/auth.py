"""Who may do what: plain functions of a request's headers and the server's settings.

No state is patched onto websockets' connection objects: the HTTP hook and the websocket
handler each ask `access()` with the same headers and get the same answer, and a test can
ask it with a dict. `origin_allowed()` decides the browser-origin check the same way.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.errors import TrackerError

READER, WRITER = "reader", "writer"


class Unauthorized(TrackerError):
    code = "unauthorized"


@dataclass(frozen=True, slots=True)
class Access:
    """What a connection or request may do, and in whose name."""

    role: str  # "reader" or "writer"
    principal: str  # "anonymous" on a server without a token, "token" for the write token

    @property
    def can_write(self) -> bool:
        return self.role == WRITER


def token_matches(given: str, token: str | None) -> bool:
    """Constant-time comparison: a wrong guess takes as long as a right one."""
    return token is not None and hmac.compare_digest(given.encode(), token.encode())


def access(headers: Mapping[str, str], token: str | None) -> Access:
    """The access that a request's `Authorization` header grants; Unauthorized if it names a
    token the server does not have. Without a header: read-only when the server has a write
    token, everything when it has none (it then listens on loopback only: app.check)."""
    authorization = headers.get("Authorization")
    if authorization is None:
        return Access(READER, "anonymous") if token is not None else Access(WRITER, "anonymous")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if token is None:
        raise Unauthorized("this server has no tokens: connect without an Authorization header")
    if not token_matches(value.strip(), token):
        raise Unauthorized("wrong bearer token")
    return Access(WRITER, "token")


def with_token(current: Access, given: str, token: str | None) -> Access:
    """The access after an `auth` op: a server without a token has nothing to check."""
    if token is None:
        return current
    if token_matches(given, token):
        return Access(WRITER, "token")
    raise Unauthorized("wrong token: appends stay refused on this connection")


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def own_origins(port: int, loopback: bool) -> set[str]:
    """The page's own origins: on loopback, the loopback names at the server's port. Beyond
    loopback, none: an Origin equal to the Host header is what a DNS-rebound page sends, so
    only the --allow-origin list is admitted there."""
    if loopback:
        return {f"http://{h if ':' not in h else f'[{h}]'}:{port}" for h in LOOPBACK_NAMES}
    return set()


def origin_allowed(origin: str | None, port: int, loopback: bool, allowed: Iterable[str]) -> bool:
    """A request without an Origin header is no browser page's: the check is for browsers."""
    return origin is None or origin in own_origins(port, loopback) | set(allowed)


def default_hosts(listen: str) -> list[str]:
    """The Host names a server answers by default: its listen address and the loopback names."""
    return list(dict.fromkeys([listen.strip("[]"), *LOOPBACK_NAMES]))


def host_name(header: str) -> str:
    """The name in a Host header, without its port: `[::1]:80` -> `::1`, `Example.org:80` -> `example.org`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, allowed: Iterable[str]) -> bool:
    """A request's Host is one the server answers by (--allow-host, or `default_hosts`): a
    DNS-rebound page's requests carry the attacker's name and are refused. An entry with a
    port (`name:8080`) admits that port only."""
    if not header:
        return False
    names = {a.strip().lower().strip("[]") if a.count(":") != 1 else a.strip().lower() for a in allowed}
    return host_name(header) in names or header.strip().lower() in names
