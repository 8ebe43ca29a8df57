"""An entry's history, read per entry (a state carries current facts only): over HTTP, the
websocket and the CLI, paged newest first by a position cursor, on the whole seeded log
(the first report and its corrections)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.conftest import client, http, tracker_on
from tests.conftest import serve_in_process as server


async def get(port: int, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(http, port, path)  # urllib blocks: off the server's loop


async def test_history_pages_over_http_and_the_websocket_agree(db: Path) -> None:
    async with server(db) as (port, _), client(port) as c:
        status, whole = await get(port, "/api/history/territory?place=tikrit&as_of=2014-07-31")
        assert status == 200 and whole["key"] == {"place": "tikrit"} and whole["next_before"] is None
        positions = [e["position"] for e in whole["entries"]]
        assert len(positions) == 5 and whole["entries"][-1]["event"]["type"] == "CityCaptured"  # the oldest last
        assert {e["status"] for e in whole["entries"]} == {"settled", "retracted"}  # the corrected originals
        assert all(e["summary"] and e["when"] and "recorded_by" in e for e in whole["entries"])
        pages, before = [], None
        while True:
            reply = await c.request(op="history", projection="territory", place="tikrit", as_of="2014-07-31",
                                    limit=2, **({"before": before} if before else {}), ref="h")
            assert reply["type"] == "history" and reply["ref"] == "h"
            pages.append([e["position"] for e in reply["entries"]])
            before = reply["next_before"]
            if before is None:
                break
        assert pages == [positions[0:2], positions[2:4], positions[4:]]
        _, early = await get(port, "/api/history/territory?place=tikrit&as_of=2014-06-15")
        assert [(e["event"]["type"], e["status"]) for e in early["entries"]] == [("CityCaptured", "pending")]
        _, us = await get(port, "/api/history/deployments?actor=united_states&place=baghdad_airport")
        assert us["entries"] and all(e["event"]["actor"] == "united_states" for e in us["entries"])


async def test_history_refuses_what_it_cannot_answer(db: Path) -> None:
    async with server(db) as (port, _), client(port) as c:
        for path, field in (("/api/history/territory", "place"), ("/api/history/territory?place=mosl", "place"),
                            ("/api/history/deployments?place=mosul", "actor"),
                            ("/api/history/territory?place=mosul&before=3", "before"),
                            ("/api/history/territory?place=mosul&limit=0", "limit"),
                            ("/api/history/territory?place=mosul&limit=x", "limit"),
                            ("/api/history/territory?place=mosul&country=Iraq", "country")):
            status, body = await get(port, path)
            assert status == 400 and body["details"]["field"] == field, (path, body)
        status, body = await get(port, "/api/history/territory?place=mosl")
        assert body["details"]["suggestion"] == "mosul" and "did you mean 'mosul'" in body["message"]
        assert (await get(port, "/api/history/borders?place=mosul"))[0] == 404
        for bad, field in (({"limit": 5000}, "limit"), ({"before": -1}, "before"), ({"place": 3}, "place"),
                           ({"place": None}, "place")):
            reply = await c.request(op="history", projection="territory", **{"place": "mosul", **bad})
            assert reply["type"] == "error" and reply["details"]["field"] == field, reply


def test_history_on_the_cli(db: Path) -> None:
    page = json.loads(tracker_on(db, "history", "tikrit", "--json", "--limit", "2").stdout)
    assert len(page["entries"]) == 2 and page["next_before"] is not None
    text = tracker_on(db, "history", "tikrit", "--limit", "2").stdout
    assert "Islamic State in Iraq and Syria" in text and f"next page: --before {page['next_before']}" in text
    rest = tracker_on(db, "history", "tikrit", "--before", str(page["next_before"]), "--json").stdout
    whole = json.loads(tracker_on(db, "history", "tikrit", "--json").stdout)
    assert [e["position"] for e in page["entries"] + json.loads(rest)["entries"]] == \
        [e["position"] for e in whole["entries"]]
    refused = tracker_on(db, "history", "--projection", "arsenal", expect=2)
    assert "needs 'actor'" in refused.stderr
