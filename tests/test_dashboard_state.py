"""The dashboard's state module (tracker/web/state.js), without a browser: Node's own test
runner (`node --test tests/js/`) runs tests/js/*.test.mjs in a subprocess.

Two cases come from the Python side, so that the JavaScript is held to the server's truth,
not to a copy of it: the events' JSON Schema (`tracker schema`), from which the form is
built, and real projection states of the seeded log at a series of dates with the server's
diffs between them (`protocol.diff`), whose application by `state.js` must equal
`protocol.apply_update`'s, the reference a client follows.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, append_seeds, seconds
from tracker.core import protocol
from tracker.core.projections import PROJECTIONS
from tracker.core.schema import json_schema
from tracker.service import Tracker

NODE = shutil.which("node")
DATES = [None, "2014-05-31", "2014-06-10", "2014-06-11", "2014-06-15", "2014-06-20", "2014-06-30", "2014-07-05",
         "2014-07-15", "2014-07-20", "2014-07-23", "2015-01-01"]


def _update_cases(db: Path) -> list[dict]:
    """Each projection at each date, and the update from one date's state to the next."""
    async def build() -> list[dict]:
        async with await Tracker.open(str(db)) as tracker:
            await append_seeds(tracker)
            cases = []
            for name, projection in PROJECTIONS.items():
                states = [await tracker.state(name, day) for day in DATES]
                for i, (old, new) in enumerate(zip(states, states[1:] + states[:1], strict=True)):
                    changed, removed = protocol.diff(projection, old, new)
                    position = new["position"] + i  # a position of its own, so taking it is checked
                    cases.append({"name": f"{name} {DATES[i]} -> {DATES[(i + 1) % len(DATES)]}",
                                  "key": list(projection.key_fields), "collection": projection.collection,
                                  "old": old, "update": {"changed": changed, "removed": removed, "position": position},
                                  "new": protocol.apply_update(projection, old, changed, removed, position)})
            return cases
    cases = asyncio.run(build())
    assert any(c["update"]["removed"] for c in cases) and any(c["update"]["changed"] for c in cases)
    return cases


@pytest.mark.skipif(NODE is None,
                    reason="node is not installed: the state module's tests need `node --test` (Node 18+)")
def test_the_state_module_passes_its_node_tests(tmp_path):
    cases = tmp_path / "update-cases.json"
    cases.write_text(json.dumps(_update_cases(tmp_path / "tracker.db")))
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(json_schema()))
    env = {"PATH": str(Path(NODE).parent), "TRACKER_UPDATE_CASES": str(cases), "TRACKER_SCHEMA": str(schema),
           "NO_COLOR": "1"}
    done = subprocess.run([NODE, "--test", "--test-reporter=spec", "tests/js/"], cwd=ROOT, capture_output=True,
                          text=True, timeout=seconds(120), env=env)
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"`node --test tests/js/` failed (exit {done.returncode}):\n{report}"
    assert "skipped 0" in report, f"a Node test was skipped (its input was not passed):\n{report}"
