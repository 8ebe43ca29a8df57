"""The cyclic garbage collector paused for a bulk step.

A fold, a decode of thousands of events or an unpickled snapshot allocates many objects and
no cycles: each allocation burst would trigger full collections that walk every live object
(a third of a one-shot `tracker state`'s time at a million events). Refcounting still frees
everything that is not a cycle."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """The collector off for the block; back on after it, unless a caller had paused it already."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
