"""The store URL, parsed in one place: a path or sqlite:// URL, later postgresql://."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..core.errors import BadStoreURL

DEFAULT_URL = "./tracker.db"
ENV_VAR = "TRACKER_DB"


@dataclass(frozen=True, slots=True)
class StoreURL:
    backend: str  # "sqlite" | "postgresql"
    target: str  # a file path for SQLite, the DSN for PostgreSQL
    text: str  # as the user gave it, for messages (with any password masked)


def resolve_url(given: str | None) -> str:
    """--db beats TRACKER_DB beats the default."""
    return given or os.environ.get(ENV_VAR) or DEFAULT_URL


def parse_store_url(text: str) -> StoreURL:
    text = text.strip()
    if not text:
        raise BadStoreURL("the store URL is empty; give a file path such as ./tracker.db")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(text)
        shown = text.replace(f":{parts.password}@", ":***@") if parts.password else text
        return StoreURL("postgresql", text, shown)
    if scheme == "sqlite":
        path = text.split("://", 1)[1]  # sqlite:///abs/x.db -> /abs/x.db, sqlite://x.db -> x.db
        if not path:
            raise BadStoreURL(f"'{text}' names no file; for example sqlite:///var/lib/tracker.db")
        return StoreURL("sqlite", path, text)
    if scheme:
        raise BadStoreURL(
            f"unknown store '{scheme}://' in '{text}': use a file path (SQLite, the default) "
            "or postgresql://user@host:5432/dbname")
    return StoreURL("sqlite", str(Path(text).expanduser()), text)
