"""The websocket protocol without a socket: `protocol.parse_request` on every op's fields,
unknown ones refused with the nearest allowed one, and the three query times of a View."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracker.core import protocol
from tracker.core.filters import Filter
from tracker.core.protocol import FIELDS, ProtocolError, View, parse_request


def refusal(body: dict) -> ProtocolError:
    with pytest.raises(ProtocolError) as refused:
        parse_request(json.dumps(body))
    return refused.value


# A well-formed request of each op (and each form of subscribe), with every field it takes.
FULL = {
    "subscribe stream": {"op": "subscribe", "ref": 1, "stream": "events", "after": 0, "place": "mosul",
                         "actor": ["isis"], "country": "Iraq", "bbox": "42,34,45,37", "types": ["CityCaptured"]},
    "subscribe projection": {"op": "subscribe", "ref": 1, "projection": "territory", "as_of": "2014-06-20",
                             "known_at": "2014-07-01", "recorded_at": "2026-01-01T12:00:00Z", "place": ["mosul"],
                             "actor": "isis", "country": ["Iraq", "Syria"], "bbox": ["42", "34", "45", "37"]},
    "unsubscribe": {"op": "unsubscribe", "ref": 1, "subscription": "s1"},
    "query": {"op": "query", "ref": 1, "projection": "arsenal", "as_of": "2014", "known_at": None,
              "recorded_at": "2026-01-01", "place": None, "actor": "isis", "country": None, "bbox": None},
    "history": {"op": "history", "ref": 1, "projection": "deployments", "place": "mosul", "actor": "isis",
                "as_of": "2014-07", "known_at": None, "recorded_at": None, "limit": 10, "before": 120},
    "append": {"op": "append", "ref": 1, "events": [{}], "expected_position": 3, "idempotency_key": "k1"},
    "auth": {"op": "auth", "ref": 1, "token": "t"},
    "catalog": {"op": "catalog", "ref": 1},
    "diff": {"op": "diff", "ref": 1, "from": "2014-06-01", "to": "2014-07", "known_at": "2014-08-01"},
}


def test_every_op_form_is_covered():
    assert set(FULL) == set(FIELDS)
    assert {body["op"] for body in FULL.values()} == set(protocol.OPS)


@pytest.mark.parametrize("form", list(FULL))
def test_every_field_an_op_takes_is_accepted(form):
    body = FULL[form]
    assert set(body) == set(FIELDS[form])
    request = parse_request(json.dumps(body))
    assert (request.op, request.ref) == (body["op"], 1)


@pytest.mark.parametrize("form", list(FULL))
def test_an_unknown_field_is_refused_on_every_op(form):
    err = refusal({**FULL[form], "zzz": "red"})
    assert err.code == "bad_request"
    assert {k: v for k, v in err.details.items() if k != "ref"} == {"field": "zzz", "suggestion": None}
    assert err.details["ref"] == 1  # echoed in the reply
    op = FULL[form]["op"]
    assert f"op '{op}'" in err.message and "'zzz'" in err.message
    assert ", ".join(FIELDS[form]) in err.message  # it says what the op takes


@pytest.mark.parametrize(("form", "typo", "nearest"), [
    ("query", "asof", "as_of"),
    ("query", "As_Of", "as_of"),
    ("query", "knownat", "known_at"),
    ("subscribe projection", "recorded", "recorded_at"),
    ("subscribe projection", "projections", "projection"),
    ("subscribe stream", "afer", "after"),
    ("unsubscribe", "subscriptions", "subscription"),
    ("append", "event", "events"),
    ("append", "expected", "expected_position"),
    ("auth", "tokn", "token"),
    ("catalog", "reff", "ref"),
])
def test_an_unknown_field_names_the_nearest_allowed_one(form, typo, nearest):
    err = refusal({**FULL[form], typo: "x"})
    assert (err.code, err.details["field"], err.details["suggestion"]) == ("bad_request", typo, nearest)
    assert f"has no field '{typo}' (did you mean '{nearest}'?)" in err.message


def test_the_unknown_field_is_refused_before_the_missing_one_it_misspells():
    err = refusal({"op": "query", "projection": "territory", "asof": "2014-06-20"})
    assert err.message.startswith("op 'query' has no field 'asof' (did you mean 'as_of'?)")
    err = refusal({"op": "subscribe", "projecton": "territory"})  # neither form: both forms' fields are offered
    assert (err.details["field"], err.details["suggestion"]) == ("projecton", "projection")
    err = refusal({"op": "auth", "tokn": "secret"})
    assert (err.details["field"], err.details["suggestion"]) == ("tokn", "token")


def test_each_subscribe_form_takes_only_its_own_fields():
    err = refusal({"op": "subscribe", "stream": "events", "as_of": "2014-06-20"})
    assert (err.details["field"], err.message.startswith("op 'subscribe' (to the events stream)")) == ("as_of", True)
    err = refusal({"op": "subscribe", "projection": "territory", "after": 3})
    assert (err.details["field"], err.message.startswith("op 'subscribe' (to a projection)")) == ("after", True)


def test_the_error_reply_carries_field_and_suggestion():
    err = refusal({"op": "query", "projection": "territory", "asof": "2014", "ref": "q"})
    reply = json.loads(protocol.error(err))
    assert reply == {"type": "error", "code": "bad_request", "ref": "q", "message": err.message,
                     "details": {"field": "asof", "suggestion": "as_of"}}


# ---------------------------------------------------------------- the view's times

END_OF_DAY = (23, 59, 59, 999999)


def test_view_times_parsed():
    view = parse_request(json.dumps(FULL["subscribe projection"])).view
    assert view == View("territory", "2014-06-20", datetime(2014, 7, 1, *END_OF_DAY, tzinfo=UTC),
                        datetime(2026, 1, 1, 12, tzinfo=UTC), Filter(frozenset({"mosul"}), frozenset({"isis"}),
                                                                     frozenset({"Iraq", "Syria"}), (42, 34, 45, 37)))
    view = parse_request(json.dumps(FULL["query"])).view
    assert (view.as_of, view.known_at) == ("2014-12-31", None)
    assert view.recorded_at == datetime(2026, 1, 1, *END_OF_DAY, tzinfo=UTC)  # a bare date: the end of that day
    assert parse_request('{"op": "query", "projection": "territory"}').view == View("territory", None, None, None)
    history = parse_request(json.dumps(FULL["history"]))
    assert (history.entry, history.limit, history.before) == (("isis", "mosul"), 10, 120)
    assert history.view is not None and not history.view.filter  # place and actor name the entry here


@pytest.mark.parametrize(("as_of", "parsed"), [("2014-06", "2014-06-30"), ("2014-02", "2014-02-28"),
                                               ("2016-02", "2016-02-29"), ("2014", "2014-12-31"),
                                               ("2014-06-20", "2014-06-20"), (None, None), ("", None)])
def test_as_of_takes_a_month_or_a_year(as_of, parsed):
    assert parse_request(json.dumps({"op": "query", "projection": "territory", "as_of": as_of})).view.as_of == parsed


@pytest.mark.parametrize(("value", "words"), [
    ("soon", "'soon' is neither a date nor a date and time"),
    ("2014-02-30", "'2014-02-30' is not a real calendar date"),
    ("2014-13", "neither a date nor a date and time"),
    (20140701, "'recorded_at' must be null or an ISO date string, got 20140701"),
    (["2014-07-01"], "'recorded_at' must be null or an ISO date string"),
])
def test_bad_recorded_at(value, words):
    for op in ({"op": "query"}, {"op": "subscribe"}):
        err = refusal({**op, "projection": "territory", "recorded_at": value, "ref": 9})
        assert (err.code, err.details["field"], err.details["ref"]) == ("bad_request", "recorded_at", 9)
        assert words in err.message, err.message
        assert err.message.startswith("recorded_at") or err.message.startswith("'recorded_at'")


def test_recorded_at_with_a_zone_is_in_utc():
    view = parse_request(json.dumps({"op": "query", "projection": "territory",
                                     "recorded_at": "2026-01-01T12:00:00+02:00"})).view
    assert view.recorded_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    view = parse_request(json.dumps({"op": "query", "projection": "territory",
                                     "recorded_at": "2026-01-01T12:00:00"})).view
    assert view.recorded_at == datetime(2026, 1, 1, 12, tzinfo=UTC)  # no zone: UTC, as stored


def test_after_beyond_head_error():
    err = protocol.after_beyond_head(40, 33, ref=2)
    assert (err.code, err.details) == ("bad_request", {"field": "after", "head": 33, "ref": 2})
    assert "head at position 33" in err.message and "positions start at 1" in err.message


def test_check_fields_for_http_parameters():
    with pytest.raises(ProtocolError) as refused:
        protocol.check_fields(["limit", "asof"], ("as_of", "known_at"), "GET /api/state/territory",
                              noun="query parameter")
    assert refused.value.message.startswith("GET /api/state/territory has no query parameter 'limit'")
    with pytest.raises(ProtocolError) as refused:
        protocol.check_fields(["x"], (), "GET /healthz", noun="query parameter")
    assert refused.value.message == "GET /healthz has no query parameter 'x'; it takes no query parameters"
    protocol.check_fields([], (), "GET /healthz")
