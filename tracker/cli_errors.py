"""How the `tracker` command fails: one shape for every failure, and stores it will not create.

With `--json`, a failure prints `{"type": "error", "code", "message", "details"}` on stdout,
the websocket's error message without its `ref` (tracker/core/protocol.py), so a script reads
one shape whoever answers; without it, one line on stderr. The exit status says the kind
(2 input, 3 conflict, 4 store, 1 a bug) either way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

import orjson

from .core.errors import InputError, StoreNotFound, TrackerError
from .store.url import mask_secrets, parse_store_url

# The commands that may create a new SQLite store; every other one refuses a missing file.
# `tokens` too (only `tokens add` writes): securing a new store before its first append is a
# deployment's first step.
CREATES_STORE = frozenset({"seed", "append", "import", "tokens add"})


class UsageError(InputError):
    """A command line argparse refuses; carries the usage line argparse would print."""

    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(f"{prog}: {message}", usage=usage.strip())
        self.prog, self.reason, self.usage = prog, message, usage


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors raised (as UsageError) instead of printed and exited:
    main() reports them like any other failure, as JSON when --json was given."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message, self.format_usage())


def wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def document(error: TrackerError) -> dict[str, Any]:
    """The error as the websocket sends it (without `ref`), secrets masked."""
    details = {k: v for k, v in error.details.items() if k != "ref"}
    return {"type": "error", "code": error.code, "message": mask_secrets(error.message),
            "details": orjson.loads(mask_secrets(orjson.dumps(details, default=str).decode()))}


def internal(error: BaseException) -> dict[str, Any]:
    return {"type": "error", "code": "internal",
            "message": f"internal error: {type(error).__name__}: {mask_secrets(str(error))} "
                       "(rerun with TRACKER_DEBUG=1 for details)",
            "details": {"exception": type(error).__name__}}


def report(error: TrackerError, json: bool) -> int:
    """Print `error` the way the command line asked for; the exit status to return."""
    if json:
        print(orjson.dumps(document(error)).decode(), flush=True)
    elif isinstance(error, UsageError):
        sys.stderr.write(error.usage)  # as argparse prints it
        print(f"{error.prog}: error: {error.reason}", file=sys.stderr)
    else:
        print(f"tracker: error: {mask_secrets(str(error))}", file=sys.stderr)
    return error.exit_code


def require_store(url: str, command: str) -> None:
    """Refuse (exit 4) a SQLite store that does not exist, unless `command` (its full name:
    "state", "tokens add") may create one: a mistyped --db must not answer "nothing recorded"
    from a new empty file."""
    if command in CREATES_STORE:
        return
    try:
        parsed = parse_store_url(url)
    except InputError:
        return  # Tracker.open reports the bad URL itself
    if parsed.backend != "sqlite" or Path(parsed.target).exists():
        return
    folder = Path(parsed.target).parent
    missing = "the file does not exist" if folder.is_dir() else f"the folder {folder} does not exist"
    raise StoreNotFound(f"no store at {parsed.text}: {missing}. Check --db (or $TRACKER_DB), "
                        "or create a store: tracker seed (the shipped reports), tracker append FILE or "
                        "tracker import FILE", path=parsed.text)
