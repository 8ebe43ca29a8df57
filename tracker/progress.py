"""Progress bars for long commands (seed, import, export, replay, verify), with tqdm.

Only on a terminal: when stderr is not a TTY (a pipe, a file, CI) or the command was asked
for --json, `bar()` hands back a counter that prints nothing, so scripts and logs see exactly
what they saw before. The bar goes to stderr, never stdout (`tracker export > log.jsonl`
stays clean), shows the count, the rate and the time left, and is cleared when done so the
command's own last line stays the last thing shown.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Advance = Callable[[int], None]


def wanted(json: bool = False, stream: TextIO | None = None) -> bool:
    """A bar only for a person watching: stderr is a terminal, and no --json."""
    target = sys.stderr if stream is None else stream
    try:
        return not json and target.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without isatty
        return False


@contextmanager
def bar(what: str, total: int | None, unit: str = "event", json: bool = False) -> Iterator[Advance]:
    """`advance(n)` moves the bar by n; nothing is drawn unless `wanted(json)`."""
    if not wanted(json):
        yield _nothing
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=what, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True,
              leave=False, mininterval=0.2, smoothing=0.1) as shown:

        def advance(n: int) -> None:
            shown.update(n)

        yield advance


def _nothing(_n: int) -> None:
    return None
