"""Event stores behind one interface; `open_store(url)` picks the backend from the URL."""

from __future__ import annotations

from ..core.errors import StoreUnavailable
from ..core.tokens import Token
from .base import EventStore, HistoryKey, NewEvent, SnapshotInfo, StoredEvent
from .url import StoreURL, parse_store_url, resolve_url

__all__ = [
    "EventStore", "HistoryKey", "NewEvent", "SnapshotInfo", "StoreURL", "StoredEvent", "Token", "open_store",
    "parse_store_url", "resolve_url",
]


async def open_store(url: str) -> EventStore:
    parsed = parse_store_url(url)
    if parsed.backend == "sqlite":
        from .sqlite import SQLiteStore

        return await SQLiteStore.open(parsed.target)
    if parsed.backend == "postgresql":
        from .postgres import PostgresStore

        return await PostgresStore.open(parsed.target)
    raise StoreUnavailable(f"{parsed.text}: no backend for '{parsed.backend}' in this version of tracker")
