"""Strict queries, end to end: a real server on a free loopback port, real websocket clients
and HTTP requests. Unknown fields and query parameters are refused with the nearest allowed
one; an `after` beyond the head is refused with the head; `recorded_at` is parsed on both
interfaces."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import capture, client, http
from tests.conftest import serve_in_process as server
from tracker.core.protocol import FIELDS
from tracker.server.http import PARAMS

HEAD = 33  # the seeded log


@pytest.fixture(scope="module")
def seeded_db(first_report_db: Path) -> Path:
    """What conftest's `db` copies here, as in test_server: the report as first shipped (HEAD events)."""
    return first_report_db

# One well-formed request per op (and per form of subscribe): each is sent with one field more.
REQUESTS = {
    "subscribe stream": {"op": "subscribe", "stream": "events", "after": 0},
    "subscribe projection": {"op": "subscribe", "projection": "territory"},
    "unsubscribe": {"op": "unsubscribe", "subscription": "s1"},
    "query": {"op": "query", "projection": "territory"},
    "history": {"op": "history", "projection": "territory", "place": "mosul"},
    "append": {"op": "append", "events": [capture("baghdad", "isis", "2014-06-15")]},
    "auth": {"op": "auth", "token": "t"},
    "catalog": {"op": "catalog"},
    "diff": {"op": "diff", "from": "2014-06-01", "to": "2014-07-01"},
}


async def test_every_op_refuses_an_unknown_field_and_the_connection_stays_usable(db):
    assert set(REQUESTS) == set(FIELDS)
    async with server(db) as (port, tracker), client(port) as a:
        for form, body in REQUESTS.items():
            reply = await a.request(**body, zzz="red", ref=form)
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "bad_request", form), reply
            assert reply["details"] == {"field": "zzz", "suggestion": None}
            assert f"op '{body['op']}'" in reply["message"] and "no field 'zzz'" in reply["message"]
        for form, typo, nearest in (("query", "asof", "as_of"), ("subscribe projection", "knownat", "known_at"),
                                    ("subscribe projection", "recorded", "recorded_at"),
                                    ("subscribe stream", "afterr", "after"),
                                    ("append", "expected", "expected_position"),
                                    ("unsubscribe", "sub", None), ("auth", "tokens", "token"),
                                    ("catalog", "reff", "ref")):
            reply = await a.request(**REQUESTS[form], **{typo: "2014-06-20"})
            assert (reply["code"], reply["details"]) == ("bad_request", {"field": typo, "suggestion": nearest}), reply
            if nearest:
                assert f"no field '{typo}' (did you mean '{nearest}'?)" in reply["message"]
        assert await tracker.store.head() == HEAD, "an append with an unknown field stores nothing"
        reply = await a.request(op="query", projection="territory", as_of="2014-06", ref="ok")
        assert (reply["type"], reply["ref"], reply["state"]["as_of"]) == ("snapshot", "ok", "2014-06-30")


async def test_asof_suggests_as_of_over_both_interfaces(db):
    async with server(db) as (port, _), client(port) as a:
        reply = await a.request(op="query", projection="territory", asof="2014-06-20", ref=3)
        assert reply == {"type": "error", "code": "bad_request", "ref": 3, "message": reply["message"],
                         "details": {"field": "asof", "suggestion": "as_of"}}
        assert reply["message"].startswith("op 'query' has no field 'asof' (did you mean 'as_of'?)")
        status, error = await asyncio.to_thread(http, port, "/api/state/territory?asof=2014-06-20")
        assert (status, error["type"], error["code"]) == (400, "error", "bad_request")
        assert error["details"] == {"field": "asof", "suggestion": "as_of"}
        assert error["message"].startswith("GET /api/state/territory has no query parameter 'asof' "
                                           "(did you mean 'as_of'?)")


async def test_http_routes_refuse_unknown_and_repeated_parameters(db):
    async with server(db) as (port, _):
        cases = [
            ("/healthz?verbose=1", "verbose", None),
            ("/api/catalog?as_of=2014-06-20", "as_of", None),
            ("/api/catalog?recorded_at=2014-06-20", "recorded_at", None),
            ("/api/events?afer=3", "afer", "after"),
            ("/api/events?limt=3", "limt", "limit"),
            ("/api/events?as_of=2014-06-20", "as_of", None),
            ("/api/state/arsenal?knownat=2014-07-01", "knownat", "known_at"),
            ("/api/state/arsenal?recorded=2014-07-01", "recorded", "recorded_at"),
            ("/api/state/arsenal?limit=3", "limit", None),
            ("/api/state/arsenal?asof=", "asof", "as_of"),  # blank, still refused
            ("/api/state/arsenal?asof", "asof", "as_of"),  # no value at all
        ]
        for path, field, nearest in cases:
            status, error = await asyncio.to_thread(http, port, path)
            assert (status, error["type"], error["code"]) == (400, "error", "bad_request"), path
            assert error["details"] == {"field": field, "suggestion": nearest}, path
            assert f"has no query parameter '{field}'" in error["message"], path
        for path, field in (("/api/state/territory?as_of=2014-06-20&as_of=2014-07-01", "as_of"),
                            ("/api/state/territory?as_of=2014-06-20&known_at=2014-07-01&known_at=2014-07-02",
                             "known_at"),
                            ("/api/events?after=1&after=1", "after"), ("/api/events?limit=1&limit=", "limit")):
            status, error = await asyncio.to_thread(http, port, path)
            assert (status, error["code"], error["details"]) == (400, "bad_request", {"field": field, "count": 2}), path
            assert f"query parameter '{field}' is given 2 times" in error["message"]
        # what each route takes still works, and an unknown projection is still a 404
        for route, params in PARAMS.items():
            path = route.replace("{projection}", "territory")
            given = {p: "mosul" if p == "place" and "history" in route else "" for p in params}  # a required key
            query = "&".join(f"{p}={v}" for p, v in given.items())
            if route == "/api/diff":  # a diff needs its two dates; blank known_at is as good as none
                query = "from=2014-06-01&to=2014-07-01&known_at="
            status, _ = await asyncio.to_thread(http, port, f"{path}?{query}" if query else path)
            assert status == 200, path
        status, _ = await asyncio.to_thread(http, port, "/api/state/territory?as_of=2014-06&known_at=2014-07-01")
        assert status == 200
        for path, field in (("/api/events?limit=x", "limit"), ("/api/events?after=-3", "after")):
            status, error = await asyncio.to_thread(http, port, path)
            assert (status, error["code"], error["details"]) == (400, "bad_request", {"field": field}), path
        status, error = await asyncio.to_thread(http, port, "/api/state/weather?asof=x")
        assert (status, error["code"]) == (404, "not_found")


async def test_after_beyond_the_head_is_refused_with_the_head(db):
    async with server(db) as (port, _), client(port) as a:
        for after in (HEAD + 1, 1000):
            reply = await a.request(op="subscribe", stream="events", after=after, ref="e")
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "bad_request", "e")
            assert reply["details"] == {"field": "after", "head": HEAD}
            assert f"beyond the log's head at position {HEAD}" in reply["message"]
            assert "positions start at 1" in reply["message"]
            status, error = await asyncio.to_thread(http, port, f"/api/events?after={after}")
            assert (status, error["code"], error["details"]) == (400, "bad_request", {"field": "after", "head": HEAD})
            assert f"head at position {HEAD}" in error["message"] and "positions start at 1" in error["message"]
        # at the head is fine: nothing yet, then what comes
        status, page = await asyncio.to_thread(http, port, f"/api/events?after={HEAD}")
        assert (status, page) == (200, {"events": [], "head": HEAD})
        await a.send(op="subscribe", stream="events", after=HEAD, ref="live")
        messages = await a.until(lambda m: m["type"] == "caught_up")
        assert [m["type"] for m in messages] == ["subscribed", "caught_up"] and messages[-1]["position"] == HEAD
        await a.send(op="append", events=[capture("baghdad", "isis", "2014-06-15")], ref="w")
        # the reply and the event, in either order (no order between them is promised)
        live = await a.until_each(lambda m: m["type"] == "appended" and m["ref"] == "w",
                                  lambda m: m["type"] == "event")
        assert [m["position"] for m in live if m["type"] == "event"] == [HEAD + 1]
        # the head moved: what was beyond it is not any more
        status, page = await asyncio.to_thread(http, port, f"/api/events?after={HEAD + 1}")
        assert (status, page["head"]) == (200, HEAD + 1)
        status, error = await asyncio.to_thread(http, port, f"/api/events?after={HEAD + 2}")
        assert (status, error["details"]) == (400, {"field": "after", "head": HEAD + 1})


async def test_an_append_by_another_writer_moves_the_head_the_subscribe_checks(db):
    """The hub refreshes before it checks `after`: a position another process just wrote is no longer beyond."""
    async with server(db) as (port, _), client(port) as a:
        from tracker.core.reports import from_objects
        from tracker.service import Tracker
        async with await Tracker.open(str(db)) as other:
            await other.append(from_objects([capture("homs", "isis", "2014-06-16")]))
        await a.send(op="subscribe", stream="events", after=HEAD + 1, ref="x")
        messages = await a.until(lambda m: m["type"] in ("caught_up", "error"))
        assert messages[-1] == {"type": "caught_up", "subscription": messages[0]["subscription"],
                                "position": HEAD + 1}


@pytest.mark.parametrize(("value", "words"), [
    ("soon", "recorded_at: 'soon' is neither a date nor a date and time"),
    ("2014-02-30", "recorded_at: '2014-02-30' is not a real calendar date"),
    ("2014-07", "recorded_at: '2014-07' is neither a date nor a date and time"),
])
async def test_bad_recorded_at_on_both_interfaces(db, value, words):
    async with server(db) as (port, _), client(port) as a:
        for op in ("query", "subscribe"):
            reply = await a.request(op=op, projection="deployments", recorded_at=value, ref=op)
            assert (reply["type"], reply["code"], reply["ref"]) == ("error", "bad_request", op)
            assert reply["details"] == {"field": "recorded_at"} and words in reply["message"], reply
        reply = await a.request(op="query", projection="deployments", recorded_at=5)
        assert reply["details"] == {"field": "recorded_at"} and "must be null or an ISO date string" in reply["message"]
        status, error = await asyncio.to_thread(http, port, f"/api/state/deployments?recorded_at={value}")
        assert (status, error["code"], error["details"]) == (400, "bad_request", {"field": "recorded_at"})
        assert words in error["message"]


async def test_bad_as_of_and_known_at_over_http_name_the_field(db):
    async with server(db) as (port, _):
        for path, field in (("/api/state/territory?as_of=June", "as_of"),
                            ("/api/state/territory?as_of=2014-13", "as_of"),
                            ("/api/state/territory?known_at=soon", "known_at")):
            status, error = await asyncio.to_thread(http, port, path)
            assert (status, error["code"], error["details"]["field"]) == (400, "bad_request", field), path


async def test_recorded_at_serves_the_log_as_it_stood(db):
    async with server(db) as (port, _), client(port) as a:
        now = await a.request(op="query", projection="territory")
        early = await a.request(op="query", projection="territory", recorded_at="2000-01-01")
        assert early["type"] == "snapshot" and early["state"]["places"] != now["state"]["places"]
        later = await a.request(op="query", projection="territory", recorded_at="2999-01-01")
        assert later["state"]["places"] == now["state"]["places"]
        status, state = await asyncio.to_thread(http, port, "/api/state/territory?recorded_at=2000-01-01")
        assert status == 200 and state["places"] == early["state"]["places"]
