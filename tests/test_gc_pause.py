"""The collector paused for a bulk step, and what the step made frozen when it is kept."""

from __future__ import annotations

import gc

from tracker.core.gc_pause import paused_gc


def test_the_collector_is_off_in_the_block_and_back_after_it():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with paused_gc():
        assert not gc.isenabled()
        made = [[] for _ in range(1_000)]
    assert gc.isenabled() and made
    # nothing kept: nothing frozen (the count may fall: a frozen object that an earlier test's
    # thread lets go meanwhile leaves the permanent generation)
    assert gc.get_freeze_count() <= frozen


def test_what_a_kept_block_made_is_frozen_before_the_collector_is_back():
    seen = []
    with paused_gc(keep=lambda: seen.append(gc.isenabled()) or True):
        made = [[] for _ in range(1_000)]
    assert seen == [False]  # asked, and frozen, while the collector was still off
    assert gc.isenabled() and made
    young = {id(o) for generation in range(3) for o in gc.get_objects(generation=generation)}
    assert not any(id(m) in young for m in made)  # in the permanent generation: no collection walks them
    assert gc.get_freeze_count() >= 1_000


def test_a_collector_paused_by_the_caller_stays_paused():
    gc.disable()
    try:
        with paused_gc(keep=lambda: True):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
