"""What the projections make of events, on small hand-built logs (docs/events.md, "What the
projections make of events"). Every answer is checked through `replay()` and through a
`Timeline` fed the same records backwards, so a late report is always exercised too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracker.core.dates import describe_window
from tracker.core.events import EVENT_ADAPTER, canonical
from tracker.core.projections import PROJECTIONS
from tracker.core.records import Record, make_record
from tracker.core.timeline import Timeline, catalog_of, replay

RECORDED = datetime(2014, 8, 1, 12, 0, tzinfo=UTC)


def ident(position: int) -> str:
    return str(uuid.UUID(int=position))


def rec(position: int, type: str, occurred_on: str | None = "2014-06-10", **fields: Any) -> Record:
    """A stored record: validated and canonicalised like an append, id and recorded_at from the position."""
    body = {"type": type, "id": ident(position), "sources": [{"publisher": "Reuters", "quote": "q"}], **fields}
    if occurred_on is not None:
        body["occurred_on"] = occurred_on
    return make_record(position, RECORDED + timedelta(hours=position), canonical(EVENT_ADAPTER.validate_python(body)))


def render(name: str, records: list[Record], as_of: str | None = None,
           known_at: datetime | None = None) -> list[dict[str, Any]]:
    """The rendered answer, after checking that the incremental path agrees with replay."""
    projection = PROJECTIONS[name]
    expected = projection.render(replay(records, projection, as_of, known_at), catalog_of(records))
    for every in (1, 10_000):  # a whole checkpoint every fact, or only days of changes (checkpoints.py)
        timeline = Timeline(every=every)
        timeline.add(list(reversed(records)))
        assert timeline.render(name, as_of, known_at)[projection.collection] == expected
    return expected


def one(name: str, records: list[Record], **query: Any) -> dict[str, Any]:
    [entry] = render(name, records, **query)
    return entry


def captured(position: int, place: str, by: str, on: str = "2014-06-10", **more: Any) -> Record:
    return rec(position, "CityCaptured", on, place=place, captured_by=by, **more)


def assaulted(position: int, place: str, attacker: str, on: str = "2014-06-10") -> Record:
    return rec(position, "AssaultLaunched", on, place=place, attacker=attacker)


def repelled(position: int, place: str, attacker: str, defender: str, on: str = "2014-06-10") -> Record:
    return rec(position, "AssaultRepelled", on, place=place, attacker=attacker, defender=defender)


def seized(position: int, actor: str, asset: str, quantity: int | None, on: str = "2014-06-10",
           **more: Any) -> Record:
    return rec(position, "AssetSeized", on, actor=actor, asset=asset, quantity=quantity, **more)


def deployed(position: int, actor: str, place: str, on: str = "2014-06-10", **more: Any) -> Record:
    return rec(position, "ForcesDeployed", on, actor=actor, place=place, **more)


def withdrawn(position: int, actor: str, place: str, on: str = "2014-06-20", **more: Any) -> Record:
    return rec(position, "ForcesWithdrawn", on, actor=actor, place=place, **more)


MOSUL = {"type": "PlaceRegistered", "place": "mosul", "name": "Mosul", "aliases": ["Al-Mawsil"], "kind": "city",
         "country": "Iraq", "admin1": "Nineveh", "lat": 36.34, "lon": 43.13}
ISIS = {"type": "ActorRegistered", "actor": "isis", "name": "Islamic State", "kind": "armed group"}


def registered(position: int, body: dict[str, Any]) -> Record:
    return rec(position, body["type"], None, **{k: v for k, v in body.items() if k != "type"})


# -- territory ---------------------------------------------------------------------------------


class TestTerritory:
    def test_a_registered_place_has_no_controller_until_a_capture(self):
        place = one("territory", [registered(1, MOSUL)])
        assert place["controller"] is None and place["controller_name"] is None
        assert place["since"] is None and place["since_precision"] is None and place["since_text"] is None
        assert place["contested_by"] == [] and place["contested"] is False and place["event"] is None
        assert place["sources"] == [] and place["from"] is None
        assert (place["name"], place["kind"], place["country"], place["lat"], place["lon"], place["approximate"]) == \
            ("Mosul", "city", "Iraq", 36.34, 43.13, False)

    def test_a_capture_sets_controller_and_since(self):
        log = [registered(1, MOSUL), registered(2, ISIS), captured(3, "mosul", "isis", captured_from="iraqi_army")]
        place = one("territory", log)
        assert (place["controller"], place["controller_name"]) == ("isis", "Islamic State")
        assert (place["since"], place["since_precision"], place["since_text"]) == ("2014-06-10", "day", "10 June 2014")
        assert one("territory", log, as_of="2014-06-09")["controller"] is None

    def test_since_precision_is_carried(self):
        place = one("territory", [rec(1, "CityCaptured", "2014-06-01", precision="month", place="mosul",
                                      captured_by="isis")])
        assert (place["since"], place["since_precision"], place["since_text"]) == \
            ("2014-06-01", "month", "between 1 and 30 June 2014")
        assert place["event"] == ident(1) and place["event_position"] == 1

    def test_an_assault_makes_the_attacker_a_contester_until_it_captures(self):
        log = [captured(1, "samarra", "iraqi_army", "2014-01-01"), assaulted(2, "samarra", "isis", "2014-06-05"),
               assaulted(3, "samarra", "peshmerga", "2014-06-06")]
        place = one("territory", log)
        assert place["controller"] == "iraqi_army"
        assert place["contested_by"] == ["isis", "peshmerga"] and place["contested"] is True
        place = one("territory", [*log, captured(4, "samarra", "isis", "2014-06-08")])
        assert place["controller"] == "isis" and place["since"] == "2014-06-08"
        assert place["contested_by"] == ["peshmerga"]  # the capturer stops contesting; the others go on

    def test_an_assault_on_an_unheld_place_is_contested_without_a_controller(self):
        place = one("territory", [assaulted(1, "tikrit", "isis")])
        assert place["controller"] is None and place["contested_by"] == ["isis"] and place["event"] is None

    def test_the_controller_does_not_contest_its_own_place(self):
        place = one("territory", [captured(1, "mosul", "isis"), assaulted(2, "mosul", "isis", "2014-06-11")])
        assert place["contested_by"] == [] and place["contested"] is False

    def test_a_repelled_assault_leaves_control_unchanged(self):
        log = [captured(1, "samarra", "iraqi_army", "2014-01-01"), assaulted(2, "samarra", "isis", "2014-06-05"),
               repelled(3, "samarra", "isis", "iraqi_army", "2014-06-06")]
        place = one("territory", log)
        assert (place["controller"], place["since"]) == ("iraqi_army", "2014-01-01")
        assert place["contested_by"] == [] and place["contested"] is False
        assert place["event_position"] == 1
        assert [(r.position, status) for r, status in history("territory", ("samarra",), log)] == [
            (1, "settled"), (2, "settled"), (3, "settled")]
        assert one("territory", log, as_of="2014-06-05")["contested_by"] == ["isis"]

    def test_a_repulse_of_another_attacker_ends_only_its_assault(self):
        log = [assaulted(1, "samarra", "isis"), assaulted(2, "samarra", "peshmerga"),
               repelled(3, "samarra", "isis", "iraqi_army")]
        assert one("territory", log)["contested_by"] == ["peshmerga"]

    def test_another_report_of_the_same_hold_keeps_the_earlier_since(self):
        place = one("territory", [captured(1, "mosul", "isis", "2014-06-10"),
                                  captured(2, "mosul", "isis", "2014-06-12")])
        assert place["since"] == "2014-06-10" and place["event_position"] == 1

    def test_a_late_june_capture_does_not_override_a_july_recapture(self):
        july = captured(1, "mosul", "iraqi_army", "2014-07-20")
        june = captured(2, "mosul", "isis", "2014-06-10")  # reported after the July recapture
        log = [july, june]
        now = one("territory", log)
        assert (now["controller"], now["since"]) == ("iraqi_army", "2014-07-20")
        between = one("territory", log, as_of="2014-06-30")
        assert (between["controller"], between["since"]) == ("isis", "2014-06-10")
        assert render("territory", log, as_of="2014-06-01") == []  # not registered, never held: no entry
        assert one("territory", [registered(3, MOSUL), *log], as_of="2014-06-01")["controller"] is None
        # Known before the late report arrived, only the July capture counted.
        earlier = one("territory", log, known_at=june.known_from - timedelta(microseconds=1))
        assert _current(earlier) == _change(july, None)
        assert [r.position for r, _ in history("territory", ("mosul",), log, known_at=june.known_from
                                               - timedelta(microseconds=1))] == [1]

    def test_history_lists_facts_in_date_order_and_the_state_its_current_holding(self):
        log = [captured(1, "mosul", "isis", "2014-06-10", captured_from="iraqi_army"),
               captured(2, "mosul", "peshmerga", "2014-08-01"),
               captured(3, "mosul", "iraqi_army", "2014-07-01"),  # late report, slots in between
               captured(4, "mosul", "iraqi_army", "2014-07-05")]  # same holder again: no change
        assert [r.position for r, _ in history("territory", ("mosul",), log)] == [1, 3, 4, 2]
        assert [r.position for r, _ in history("territory", ("mosul",), log, as_of="2014-07-02")] == [1, 3]
        july = one("territory", log, as_of="2014-07-10")
        assert (july["controller"], july["from"], july["since"]) == ("iraqi_army", "isis", "2014-07-01")  # `from`:
        assert july["event_position"] == 3  # the previous controller when not reported; the earlier report kept
        june = one("territory", log, as_of="2014-06-30")
        assert (june["from"], june["event"]) == ("iraqi_army", ident(1))  # `from` as reported
        assert june["sources"] == [{"publisher": "Reuters"}]  # cited without the quote

    def test_a_retracted_capture_counts_until_the_retraction_is_known(self):
        capture = captured(1, "mosul", "isis", "2014-06-05", reported_on="2014-06-05")
        retraction = rec(2, "EventRetracted", None, retracts=ident(1), reason="did not fall", reported_on="2014-06-07")
        log = [registered(3, MOSUL), capture, retraction]
        assert one("territory", log)["controller"] is None
        assert one("territory", log, as_of="2014-06-06")["controller"] is None  # whatever the as-of date
        before = retraction.known_from - timedelta(microseconds=1)
        assert one("territory", log, known_at=before)["controller"] == "isis"
        assert one("territory", log, known_at=capture.known_from - timedelta(microseconds=1))["controller"] is None


_CURRENT = ("controller", "from", "since", "since_to", "since_precision", "since_text", "claim_status",
            "event_position", "event", "sources")


def _current(place: dict[str, Any]) -> dict[str, Any]:
    return {k: place[k] for k in _CURRENT}


def _change(record: Record, was: str | None) -> dict[str, Any]:
    e = record.event
    return {"controller": e["captured_by"], "from": e.get("captured_from", was), "since": e["occurred_on"],
            "since_to": e["occurred_to"], "since_precision": e["precision"],
            "since_text": describe_window(e["occurred_from"], e["occurred_to"]), "claim_status": None,
            "event_position": record.position, "event": e["id"], "sources": [{"publisher": "Reuters"}]}


def history(name: str, entry: tuple, records: list[Record], as_of: str | None = None,
            known_at: datetime | None = None) -> list[tuple[Record, str]]:
    """An entry's facts (Timeline.history), fed in reverse so late reports are exercised."""
    timeline = Timeline(every=1)
    timeline.add(list(reversed(records)))
    return timeline.history(name, entry, as_of, known_at)


def test_history_of_an_actor_holds_every_holding_and_marks_retracted_and_pending_facts():
    log = [seized(1, "isis", "Humvee", 10), seized(2, "isis", "M198 howitzer", 52, "2014-06-12"),
           seized(3, "peshmerga", "Humvee", 2), rec(4, "EventRetracted", None, retracts=ident(1), reason="misread"),
           seized(5, "isis", "Humvee", 5, None, occurred_from="2014-06-11", occurred_to="2014-06-20")]
    assert [(r.position, status) for r, status in history("arsenal", ("isis",), log, as_of="2014-06-15")] == [
        (1, "retracted"), (5, "pending"), (2, "settled")]  # history order: by the start of each window
    before = log[3].known_from - timedelta(microseconds=1)
    assert [(r.position, status) for r, status in history("arsenal", ("isis",), log, "2014-06-30", before)] == [
        (1, "settled"), (2, "settled")]  # before the retraction was known; the fifth was not known either
    assert history("arsenal", ("isis",), log, as_of="2014-06-09") == []
    assert history("arsenal", ("nobody",), log) == []


# -- arsenal ---------------------------------------------------------------------------------------


def holdings(records: list[Record], **query: Any) -> list[dict[str, Any]]:
    return [h for actor in render("arsenal", records, **query) for h in actor["holdings"]]


class TestArsenal:
    def test_known_quantities_are_summed(self):
        [h] = holdings([seized(1, "isis", "Humvee", 3, "2014-06-12"), seized(2, "isis", "Humvee", 4, "2014-06-10")])
        assert (h["quantity"], h["known_minimum"], h["reports"], h["since"]) == (7, 7, 2, "2014-06-10")

    def test_an_unknown_contribution_makes_the_quantity_null_with_the_known_minimum(self):
        [h] = holdings([seized(1, "isis", "Humvee", 3), seized(2, "isis", "Humvee", None),
                        seized(3, "isis", "Humvee", 4)])
        assert (h["quantity"], h["known_minimum"], h["reports"]) == (None, 7, 3)

    def test_unknown_is_never_shown_as_zero(self):
        [h] = holdings([seized(1, "isis", "Humvee", None)])
        assert h["quantity"] is None and h["known_minimum"] is None
        [h] = holdings([seized(1, "isis", "Humvee", None), seized(2, "isis", "Humvee", None)])
        assert h["quantity"] is None and h["known_minimum"] is None and h["reports"] == 2

    def test_a_known_zero_is_zero(self):
        [h] = holdings([seized(1, "isis", "Humvee", 0)])
        assert h["quantity"] == 0 and h["known_minimum"] == 0

    def test_assets_are_keyed_case_insensitively_and_by_unit(self):
        log = [seized(1, "isis", "Humvee", 3), seized(2, "isis", "HUMVEE", 2),
               seized(3, "isis", "ammunition", 1000, unit="rounds"), seized(4, "isis", "ammunition", 5, unit="tonnes"),
               seized(5, "isis", "Ammunition", 500, unit="rounds")]
        got = {(h["asset"].casefold(), h["unit"]): (h["asset"], h["quantity"]) for h in holdings(log)}
        assert got == {("humvee", None): ("Humvee", 5), ("ammunition", "rounds"): ("ammunition", 1500),
                       ("ammunition", "tonnes"): ("ammunition", 5)}

    def test_holdings_are_per_actor_and_a_seizure_does_not_subtract_from_seized_from(self):
        log = [seized(1, "iraqi_army", "Humvee", 10), seized(2, "isis", "Humvee", 4, seized_from="iraqi_army")]
        by_actor = {a["actor"]: [(h["asset"], h["quantity"]) for h in a["holdings"]]
                    for a in render("arsenal", log)}
        assert by_actor == {"iraqi_army": [("Humvee", 10)], "isis": [("Humvee", 4)]}

    def test_as_of_counts_only_seizures_up_to_it(self):
        log = [seized(1, "isis", "Humvee", 3, "2014-06-10"), seized(2, "isis", "Humvee", None, "2014-06-20")]
        [h] = holdings(log, as_of="2014-06-15")
        assert (h["quantity"], h["reports"]) == (3, 1)
        assert holdings(log, as_of="2014-06-01") == []

    def test_the_latest_resource_level_wins(self):
        july = rec(1, "ResourceControlled", "2014-07-01", precision="month", actor="isis", resource="crude oil",
                   output=30000, output_unit="barrels/day", at_least=True)
        june = rec(2, "ResourceControlled", "2014-06-15", actor="isis", resource="Crude Oil", share_percent=10.0)
        [actor] = render("arsenal", [july, june])
        [r] = actor["resources"]  # same resource, any case: the July level, though June was reported later
        assert (r["resource"], r["output"], r["at_least"], r["share_percent"], r["since"], r["since_precision"]) == \
            ("crude oil", 30000, ["output"], None, "2014-07-01", "month")
        [actor] = render("arsenal", [july, june], as_of="2014-06-30")
        [r] = actor["resources"]
        assert (r["resource"], r["share_percent"], r["output"], r["at_least"]) == ("Crude Oil", 10.0, None, [])

    def test_a_resource_level_for_one_place_is_kept_apart(self):
        log = [registered(1, MOSUL),
               rec(2, "ResourceControlled", actor="isis", resource="crude oil", share_percent=5.0),
               rec(3, "ResourceControlled", actor="isis", resource="crude oil", place="mosul", share_percent=60.0)]
        [actor] = render("arsenal", log)
        assert [(r["place"], r["place_name"], r["share_percent"]) for r in actor["resources"]] == \
            [(None, None, 5.0), ("mosul", "Mosul", 60.0)]


# -- deployments -------------------------------------------------------------------------------


class TestDeployments:
    def test_personnel_equipment_and_units_are_summed(self):
        log = [deployed(1, "us", "baghdad_airport", personnel=200, equipment={"AH-64 Apache": 6},
                        units={"SF team": 2}, purpose="Secure the airport"),
               deployed(2, "us", "baghdad_airport", "2014-06-15", personnel=100, equipment={"AH-64 Apache": 2},
                        units={"SF team": 4, "Marine platoon": 1}, purpose="Protect the embassy")]
        d = one("deployments", log)
        assert (d["personnel"], d["personnel_known_minimum"]) == (300, 300)
        assert d["equipment"] == {"AH-64 Apache": 8}
        assert d["units"] == {"Marine platoon": 1, "SF team": 6}
        assert (d["since"], d["since_precision"]) == ("2014-06-10", "day")
        assert d["purposes"] == ["Secure the airport", "Protect the embassy"]

    def test_withdrawals_are_subtracted(self):
        log = [deployed(1, "us", "erbil", personnel=300, equipment={"AH-64 Apache": 6}, units={"SF team": 6},
                        purpose="advise"),
               withdrawn(2, "us", "erbil", personnel=120, equipment={"AH-64 Apache": 2}, units={"SF team": 6},
                         purpose="rotation")]
        d = one("deployments", log)
        assert (d["personnel"], d["equipment"], d["units"]) == (180, {"AH-64 Apache": 4}, {"SF team": 0})
        assert d["purposes"] == ["advise"]  # a withdrawal's purpose is not a mission there
        assert one("deployments", log, as_of="2014-06-19")["personnel"] == 300

    def test_a_full_withdrawal_removes_the_entry(self):
        log = [deployed(1, "us", "erbil", personnel=300, equipment={"AH-64 Apache": 6}),
               withdrawn(2, "us", "erbil", personnel=300, equipment={"AH-64 Apache": 6})]
        assert render("deployments", log) == []
        assert render("deployments", log, as_of="2014-06-15") != []
        # a later day completes the withdrawal's day: answered from a checkpoint after it
        later = [*log, deployed(3, "us", "baghdad", "2014-06-25", personnel=10)]
        assert [d["place"] for d in render("deployments", later, as_of="2014-06-26")] == ["baghdad"]
        assert [d["place"] for d in render("deployments", later, as_of="2014-06-21")] == []
        # a fact pending at the date refolds its entry from before it: from nothing, since the withdrawal
        back = [*later, deployed(4, "us", "erbil", None, occurred_from="2014-06-24", occurred_to="2014-06-30",
                                 personnel=5)]
        for every in (1, 10_000):
            timeline = Timeline(every=every)
            timeline.add(back)
            state = timeline.state("deployments", "2014-06-26")
            assert state == replay(back, PROJECTIONS["deployments"], "2014-06-26") and ("us", "erbil") not in state

    def test_withdrawing_what_an_equipment_only_deployment_brought_removes_it(self):
        log = [deployed(1, "us", "erbil", equipment={"AH-64 Apache": 6}),
               withdrawn(2, "us", "erbil", equipment={"AH-64 Apache": 6})]
        assert render("deployments", log) == []

    def test_withdrawing_from_where_nothing_was_deployed_leaves_nothing(self):
        assert render("deployments", [withdrawn(1, "iraqi_army", "mosul")]) == []
        assert render("deployments", [withdrawn(1, "iraqi_army", "mosul", units={"2nd Division": 1})]) == []

    def test_equipment_alone_makes_no_claim_about_personnel(self):
        d = one("deployments", [deployed(1, "us", "baghdad_airport", equipment={"RQ-7 Shadow": None})])
        assert d["personnel"] is None and d["personnel_known_minimum"] is None
        assert d["equipment"] == {"RQ-7 Shadow": None}
        d = one("deployments", [deployed(1, "us", "baghdad_airport", equipment={"RQ-7 Shadow": 2}),
                                deployed(2, "us", "baghdad_airport", "2014-06-12", personnel=50)])
        assert (d["personnel"], d["personnel_known_minimum"]) == (50, 50)

    def test_unknown_personnel_is_null_with_a_known_minimum_where_it_can_be_bounded(self):
        base = [deployed(1, "us", "erbil", personnel=200), deployed(2, "us", "erbil", "2014-06-12")]
        d = one("deployments", base)  # 200 and some more
        assert (d["personnel"], d["personnel_known_minimum"]) == (None, 200)
        d = one("deployments", [*base, withdrawn(3, "us", "erbil", personnel=50)])
        assert (d["personnel"], d["personnel_known_minimum"]) == (None, 150)
        d = one("deployments", [*base, withdrawn(3, "us", "erbil", units={"SF team": None})])
        assert (d["personnel"], d["personnel_known_minimum"]) == (None, None)  # an unknown number left

    def test_only_unknown_personnel_is_never_shown_as_zero(self):
        d = one("deployments", [deployed(1, "iran", "samarra", purpose="advise")])
        assert d["personnel"] is None and d["personnel_known_minimum"] is None
        d = one("deployments", [deployed(1, "iran", "samarra"), deployed(2, "iran", "samarra")])
        assert d["personnel"] is None and d["personnel_known_minimum"] is None

    def test_an_unknown_withdrawal_keeps_the_entry(self):
        log = [deployed(1, "us", "erbil", personnel=200), withdrawn(2, "us", "erbil")]
        d = one("deployments", log)
        assert (d["personnel"], d["personnel_known_minimum"]) == (None, None)

    def test_deployments_are_per_actor_and_place(self):
        log = [registered(1, MOSUL), registered(2, ISIS), deployed(3, "isis", "mosul", personnel=1500),
               deployed(4, "isis", "tikrit", personnel=300), deployed(5, "iraqi_army", "mosul", personnel=25000)]
        got = [(d["actor"], d["actor_name"], d["place"], d["place_name"], d["personnel"])
               for d in render("deployments", log)]
        assert got == [("iraqi_army", "iraqi_army", "mosul", "Mosul", 25000),
                       ("isis", "Islamic State", "mosul", "Mosul", 1500),
                       ("isis", "Islamic State", "tikrit", "tikrit", 300)]


# -- render shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, collection", [("territory", "places"), ("arsenal", "actors"),
                                              ("deployments", "deployments")])
def test_a_timeline_answer_names_its_query_and_collection(name, collection):
    timeline = Timeline()
    timeline.add([captured(1, "mosul", "isis")])
    known_at = datetime(2014, 9, 1, tzinfo=UTC)
    answer = timeline.render(name, "2014-07-01", known_at)
    assert answer.keys() == {"projection", "as_of", "known_at", "recorded_at", "position", collection}
    assert (answer["projection"], answer["as_of"], answer["known_at"], answer["position"]) == \
        (name, "2014-07-01", known_at.isoformat(), 1)


def test_render_shapes_match_the_documented_fields():
    log = [registered(1, MOSUL), registered(2, ISIS), captured(3, "mosul", "isis", captured_from="iraqi_army"),
           assaulted(4, "mosul", "peshmerga"), seized(5, "isis", "Humvee", None, seized_from="iraqi_army"),
           rec(6, "ResourceControlled", actor="isis", resource="crude oil", output=30000, output_unit="barrels/day"),
           deployed(7, "us", "mosul", personnel=200, equipment={"AH-64 Apache": None}, units={"SF team": 6},
                    purpose="advise")]
    [place] = render("territory", log)
    assert place.keys() == {"place", "name", "kind", "country", "lat", "lon", "geo_precision", "approximate",
                            "controller", "controller_name", "since", "since_to", "since_precision", "since_text",
                            "contested_by", "contested", "pending", "from", "from_name", "claim_status",
                            "event", "event_position", "sources"}
    [actor] = render("arsenal", log)
    assert actor.keys() == {"actor", "name", "holdings", "resources", "pending"}
    [holding] = actor["holdings"]
    assert holding.keys() == {"asset", "quantity", "unit", "known_minimum", "at_least", "reports", "since", "since_to",
                             "since_text"}
    [resource] = actor["resources"]
    assert resource.keys() == {"resource", "place", "place_name", "share_percent", "at_least", "output", "output_unit",
                               "since", "since_to", "since_precision", "since_text", "claim_status"}
    [deployment] = render("deployments", log)
    # docs/events.md says `known_minimum`; the rendered key (read by tracker/tables.py) is `personnel_known_minimum`.
    assert deployment.keys() == {"actor", "actor_name", "place", "place_name", "personnel", "personnel_known_minimum",
                                 "equipment", "units", "since", "since_to", "since_precision", "since_text", "purposes",
                                 "pending"}
    assert (deployment["personnel"], deployment["equipment"], deployment["units"]) == \
        (200, {"AH-64 Apache": None}, {"SF team": 6})


def test_events_outside_the_projections_change_no_state():
    log = [rec(1, "CiviliansDisplaced", place="mosul", group="residents of Mosul", count=500000),
           rec(2, "AttackCarriedOut", place="camp_speicher", actor="isis", method="mass execution")]
    for name in PROJECTIONS:
        assert render(name, log) == []
