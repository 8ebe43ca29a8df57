"""An append moves the catalog's mark over the facts it just stored (so the next append need
not read them for registrations), never over what another writer stored in between: a name
registered by another process is known to the next append, however the two interleave."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.conftest import capture
from tracker.core.batch import Item
from tracker.core.errors import ValidationFailed
from tracker.service import Tracker

SOURCE = [{"publisher": "Reuters"}]


def actor(ident: str) -> Item:
    return Item(ident, {"type": "ActorRegistered", "actor": ident, "name": ident.title(), "kind": "militia",
                        "sources": SOURCE})


def fact(by: str, day: str = "2014-06-16") -> Item:
    return Item(by, {**capture("raqqa", by, day), "id": str(uuid.uuid4())})


async def test_a_registration_by_another_writer_between_appends_is_known(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    async with await Tracker.open(path) as ours, await Tracker.open(path) as other:
        await ours.append([actor("isis"), Item("raqqa", {"type": "PlaceRegistered", "place": "raqqa", "name": "Raqqa",
                                                         "kind": "city", "country": "Syria", "lat": 35.9, "lon": 39.0,
                                                         "sources": SOURCE})])
        await asyncio.gather(*(ours.append([fact("isis")]) for _ in range(20)))  # the mark follows our facts
        with pytest.raises(ValidationFailed):
            await ours.append([fact("ypg")])
        await other.append([actor("ypg")])
        await asyncio.gather(*(ours.append([fact("isis")]) for _ in range(5)))
        await ours.append([fact("ypg")])  # registered by the other writer: known
        racing = [ours.append([fact("isis")]) for _ in range(10)]
        racing.insert(5, other.append([actor("sdf")]))
        await asyncio.gather(*racing)
        await ours.append([fact("sdf")])
        assert await ours.head() == 2 + 20 + 1 + 5 + 1 + 10 + 1 + 1


async def test_a_registration_committed_between_our_check_and_our_commit_is_read(tmp_path: Path) -> None:
    """The other writer's registration lands after our append read the head and before it
    committed: our facts are not contiguous with the mark, so it is not moved over it."""
    path = str(tmp_path / "log.db")
    async with await Tracker.open(path) as ours, await Tracker.open(path) as other:
        await ours.append([actor("isis"), Item("raqqa", {"type": "PlaceRegistered", "place": "raqqa", "name": "Raqqa",
                                                         "kind": "city", "country": "Syria", "lat": 35.9, "lon": 39.0,
                                                         "sources": SOURCE})])
        commit = ours.store.append

        async def after_another_writer(*args, **kwargs):  # the other writer is quicker, once
            ours.store.append = commit  # type: ignore[method-assign]
            await other.append([actor("ypg")])
            return await commit(*args, **kwargs)

        ours.store.append = after_another_writer  # type: ignore[method-assign]
        result = await ours.append([fact("isis")])
        assert result.positions == [4]  # the registration took 3
        await ours.append([fact("ypg")])
