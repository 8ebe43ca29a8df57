"""The store URL, parsed in one place: a path or sqlite:// URL, later postgresql://."""

from __future__ import annotations

import os
import re
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


# A password wherever a store URL can carry one: the userinfo of a URL (the last '@' before
# the host ends it, as urlsplit reads it), `password=` in its query string, or a libpq
# keyword DSN (`host=db password='s e cret'`).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
_KEYWORD = re.compile(r"(?i)\b(pass(?:word|wd)?\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;]*)")
MASK = "***"


def mask_secrets(text: str) -> str:
    """`text` with every store-URL password in it replaced by ***: for logs, errors, responses."""
    return _KEYWORD.sub(lambda m: m.group(1) + MASK, _USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text))


def resolve_url(given: str | None) -> str:
    """--db beats TRACKER_DB beats the default."""
    return given or os.environ.get(ENV_VAR) or DEFAULT_URL


def parse_store_url(text: str) -> StoreURL:
    text = text.strip()
    if not text:
        raise BadStoreURL("the store URL is empty; give a file path such as ./tracker.db")
    scheme = urlsplit(text).scheme.lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return StoreURL("postgresql", text, mask_secrets(text))
    if scheme == "sqlite":
        path = text.split("://", 1)[1]  # sqlite:///abs/x.db -> /abs/x.db, sqlite://x.db -> x.db
        if not path:
            raise BadStoreURL(f"'{text}' names no file; for example sqlite:///var/lib/tracker.db")
        return StoreURL("sqlite", path, mask_secrets(text))
    if scheme:
        raise BadStoreURL(
            f"unknown store '{scheme}://' in '{mask_secrets(text)}': use a file path (SQLite, the default) "
            "or postgresql://user@host:5432/dbname")
    return StoreURL("sqlite", str(Path(text).expanduser()), mask_secrets(text))
