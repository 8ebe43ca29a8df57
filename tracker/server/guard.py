"""The server's hold on who may do what: the current `Policy` (settings plus the store's
tokens, reloaded within a second of a change on any node), the open connections by
principal (closed with 1008 when their token is revoked), and the limits on failed
authentications and appends (auth.Failures, auth.Rate).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

import structlog

from ..core.errors import StoreError
from ..service import Tracker
from .auth import Failures, Policy, Rate

log = structlog.get_logger("tracker.server")

POLL = 1.0  # seconds between looks at the store's tokens: a revocation takes effect within this


class Closable(Protocol):
    """A connection, as the guard sees it: whose it is, and how to close it on revocation."""

    @property
    def principal(self) -> str: ...

    def revoked(self) -> None: ...


def address_of(connection: Any) -> str:
    """The peer's IP address: what failed authentications are counted by (HTTP and websocket)."""
    peer = connection.remote_address
    return str(peer[0]) if peer else "?"


class Guard:
    def __init__(self, tracker: Tracker, token: str | None, public_read: bool, append_rate: float | None) -> None:
        self.tracker = tracker
        self.token = token
        self.public_read = public_read
        self.policy = Policy(token, (), public_read)
        self.failures = Failures()
        self.rate = Rate(append_rate)
        self.clients: set[Closable] = set()
        self._version: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Watch the store's tokens from now on (app.run has loaded them once, to check the binding)."""
        if self._version is None:
            await self.reload()
        self._task = asyncio.create_task(self._run(), name="tracker-token-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def reload(self) -> None:
        """The store's tokens, if they changed since the last look (any node may change them)."""
        version = await self.tracker.tokens_version()
        if version == self._version:
            return
        self._version = version
        self.policy = Policy(self.token, tuple(await self.tracker.tokens()), self.public_read)
        for client in list(self.clients):
            if self.policy.revoked(client.principal):
                log.warning("token revoked, closing its connection", principal=client.principal)
                client.revoked()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            try:
                await self.reload()
            except StoreError as e:  # the hub reports the store's outages; keep the last tokens
                log.info("cannot read tokens", error=str(e))

    @staticmethod
    def now() -> float:
        return time.monotonic()
