"""Principals and roles: named bearer tokens, of which the store keeps only a hash.

Pure: making a token, hashing it, checking a name, and `verify(token, tokens)` (which
principal a presented token is, if any) are plain functions; the tokens themselves are
kept by the store (`EventStore.add_token`, `tokens`, `revoke_token`), so every node of a
PostgreSQL deployment shares them and a backup of an SQLite file carries them.

The hash is one SHA-256, not scrypt or another slow password hash. A slow hash is there to
make guessing a *low-entropy* secret (a password a person chose) expensive after a leak of
the hashes; a token here is 32 bytes from `secrets.token_urlsafe(32)`, 256 bits a guess
cannot cover at any hashing speed, so a slow hash would add nothing to its safety. It would
cost the server on every connection and request it checks (scrypt with sane parameters is
tens of milliseconds and megabytes of memory per check), which is a denial of service handed
to anyone who can send a wrong token. SHA-256 of such a token is as good as a slow hash and
takes a microsecond. Comparisons are constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from .errors import InputError

READER, WRITER, ADMIN = "reader", "writer", "admin"
ROLES = (READER, WRITER, ADMIN)  # each includes the ones before it
TOKEN_BYTES = 32
DIGEST_PREFIX = "sha256:"  # stored with the hash, so another scheme could be told apart later
# recorded_by values that are not token names: the single `--token` of `tracker serve`, a
# server without tokens, and CLI appends straight to the store (`local:<user>`)
RESERVED = frozenset({"token", "anonymous"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class Token(NamedTuple):
    """A principal as the store keeps it: never the token itself, only its digest."""

    name: str
    role: str
    digest: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def includes(role: str, needed: str) -> bool:
    """Roles nest: admin includes writer includes reader."""
    return role in ROLES and needed in ROLES and ROLES.index(role) >= ROLES.index(needed)


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the store keeps of a token (see the module's doc for why SHA-256)."""
    return DIGEST_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """A token name is what `recorded_by` says of its appends: a short plain word, never one
    of the reserved principals nor anything with a colon (`local:<user>`)."""
    if not _NAME.fullmatch(name):
        raise InputError(f"token name {name!r}: use 1 to 64 letters, digits and . _ @ - "
                         "(starting with a letter or digit)")
    if name in RESERVED:
        raise InputError(f"token name {name!r} is reserved: recorded_by uses it for "
                         f"{'the single --token of tracker serve' if name == 'token' else 'a server without tokens'}")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def verify(token: str, tokens: Iterable[Token]) -> tuple[str, str] | None:
    """(name, role) of the live token `token` is, or None (unknown, or revoked).

    Every stored digest is compared, in constant time each, so how long a check takes says
    nothing of which token nearly matched."""
    given = hash_token(token).encode()
    found: tuple[str, str] | None = None
    for stored in tokens:
        if hmac.compare_digest(given, stored.digest.encode()) and stored.revoked_at is None:
            found = (stored.name, stored.role)
    return found
