"""Who may do what: plain functions of a request's headers, the server's settings and the
store's tokens (a `Policy`), and the limits on failed authentications and appends.

No state is patched onto websockets' connection objects: the HTTP hook and the websocket
handler each ask `access()` with the same headers and get the same answer, and a test can
ask it with a dict. `origin_allowed()` decides the browser-origin check the same way.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..core.errors import TrackerError
from ..core.tokens import ADMIN, READER, WRITER, Token, includes, verify

__all__ = ["ADMIN", "NONE", "READER", "WRITER", "Access", "Failures", "Forbidden", "Policy", "Rate",
           "Unauthorized", "access", "granted", "with_token"]

NONE = "none"  # a connection that may do nothing but authenticate (reads need a token)


class Unauthorized(TrackerError):
    """No valid token where one is needed (HTTP 401)."""

    code = "unauthorized"


class Forbidden(TrackerError):
    """A valid token whose role is too low for the request (HTTP 403)."""

    code = "forbidden"


@dataclass(frozen=True, slots=True)
class Policy:
    """What the server's settings and the store's tokens say about access.

    `token` is the single `--token` (a writer named "token"); `tokens` the store's tokens,
    revoked ones included: once any token has been added, reads need a reader token, unless
    `public_read`. A server with neither lets everyone read and write (it then listens on
    loopback only: app.check)."""

    token: str | None = None
    tokens: tuple[Token, ...] = ()
    public_read: bool = False

    @property
    def managed(self) -> bool:
        return bool(self.tokens)

    def anonymous(self) -> Access:
        if self.managed:
            return Access(READER if self.public_read else NONE, "anonymous")
        return Access(READER if self.token is not None else WRITER, "anonymous")

    def revoked(self, principal: str) -> bool:
        return any(t.name == principal and t.revoked for t in self.tokens)


@dataclass(frozen=True, slots=True)
class Access:
    """What a connection or request may do, and in whose name (`recorded_by` on its appends)."""

    role: str  # "none", "reader", "writer" or "admin"
    principal: str  # a token's name, "token" for the single --token, "anonymous"

    @property
    def can_read(self) -> bool:
        return self.role != NONE

    @property
    def can_write(self) -> bool:
        return self.role != NONE and includes(self.role, WRITER)

    def require_read(self) -> None:
        if not self.can_read:
            raise Unauthorized("reading needs a token: send {\"op\": \"auth\", \"token\": ...}, or an "
                               "'Authorization: Bearer <token>' header (tracker tokens add NAME --role reader)",
                               need=READER)

    def require_write(self) -> None:
        if self.can_write:
            return
        if self.role in (NONE, READER) and self.principal == "anonymous":
            raise Unauthorized("appending needs a writer token: send {\"op\": \"auth\", \"token\": ...} "
                               "first, or connect with an 'Authorization: Bearer <token>' header", need=WRITER)
        raise Forbidden(f"the token '{self.principal}' is a {self.role} token: appending needs a writer or admin "
                        "token", role=self.role)


def token_matches(given: str, token: str | None) -> bool:
    """Constant-time comparison: a wrong guess takes as long as a right one."""
    return token is not None and hmac.compare_digest(given.encode(), token.encode())


def granted(given: str, policy: Policy) -> Access:
    """The access a token grants; Unauthorized for a token the server does not know, or a
    revoked one (they read the same: a revoked token tells an attacker nothing)."""
    if token_matches(given, policy.token):
        return Access(WRITER, "token")
    found = verify(given, policy.tokens)
    if found is None:
        raise Unauthorized("wrong or revoked token")
    return Access(found[1], found[0])


def access(headers: Mapping[str, str], policy: Policy) -> Access:
    """The access that a request's `Authorization` header grants, or the anonymous access."""
    authorization = headers.get("Authorization")
    if authorization is None:
        return policy.anonymous()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if policy.token is None and not policy.managed:
        raise Unauthorized("this server has no tokens: connect without an Authorization header")
    return granted(value.strip(), policy)


def with_token(current: Access, given: str, policy: Policy) -> Access:
    """The access after an `auth` op: a server without tokens has nothing to check."""
    if policy.token is None and not policy.managed:
        return current
    return granted(given, policy)


class Failures:
    """Failed authentications by address, in a sliding window: past `limit` in `window`
    seconds, an address is refused (HTTP 429) until its oldest failure leaves the window.
    Pure: the caller passes the clock."""

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        seen = self._seen.setdefault(address, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if not seen:
            del self._seen[address]
        return seen

    def record(self, address: str, now: float) -> None:
        self._recent(address, now)
        self._seen.setdefault(address, deque()).append(now)
        if len(self._seen) > 100_000:  # a flood of addresses: forget the oldest
            self._seen.pop(next(iter(self._seen)))

    def retry_after(self, address: str, now: float) -> float | None:
        """Seconds until the address may try again; None when it may now."""
        seen = self._recent(address, now)
        if len(seen) < self.limit:
            return None
        return round(seen[0] + self.window - now, 1)


class Rate:
    """Appends per principal: a token bucket of `rate` per second, `burst` at once. Pure."""

    def __init__(self, rate: float | None, burst: int = 20) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # principal -> (tokens, at)

    def take(self, principal: str, now: float) -> float | None:
        """None if the principal may append now (and it is counted); else seconds to wait."""
        if self.rate is None:
            return None
        tokens, at = self._buckets.get(principal, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[principal] = (tokens, now)
            return round((1 - tokens) / self.rate, 2)
        self._buckets[principal] = (tokens - 1, now)
        return None


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
