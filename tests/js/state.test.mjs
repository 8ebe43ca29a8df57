// The dashboard's state module, without a DOM: node --test tests/js/
// (run by tests/test_dashboard_state.py). With TRACKER_UPDATE_CASES naming a JSON file of
// real projection states and the server's diffs between them (written by that test from
// tracker/core/protocol.py), applyUpdate must give exactly the state the server renders.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { describeSchema, fieldKind } from "../../tracker/web/schema.js";
import {
  FEED_KEEP, FEED_TAIL, HISTORY_PAGE, admits, afterView, applyUpdate, clockLimit, eventDates, feedRecords, headPosition,
  holdsWholeLog, initialState, isRetracted, knownFrom, nameOf, notYet, placeRecords, projectionState, retractedBy, shownAsOf,
  step,
} from "../../tracker/web/state.js";

const REGISTRATIONS = { ActorRegistered: "actor", PlaceRegistered: "place" };

/** Run inputs through step(); the last state, and everything sent and changed on the way. */
function run(inputs, state = initialState({ registrations: REGISTRATIONS })) {
  const sent = [];
  const changed = [];
  for (const input of inputs) {
    const out = step(state, input);
    state = out.state;
    sent.push(...out.send);
    changed.push(...out.changed);
  }
  return { state, sent, changed };
}

/** Open a connection (the shell answering its head request with `head`) and acknowledge every
 *  subscription it asks for. */
function connected(state, head = 0) {
  const opened = run([{ type: "connection-open" }, { type: "head", position: head }], state);
  // the events' subscription is s1, the projections' s2, s3, s4
  const subscribes = opened.sent.filter((m) => m.op === "subscribe");
  const ordered = [...subscribes.filter((m) => m.stream), ...subscribes.filter((m) => !m.stream)];
  const acks = ordered.map((m, i) => ({
    type: "subscribed", ref: m.ref, subscription: `s${i + 1}`, ...(m.stream ? { stream: m.stream } : { projection: m.projection }),
  }));
  // and a first (empty) snapshot for each projection: nothing is on its way
  const snapshots = acks.filter((a) => a.projection).map((a) => ({ type: "snapshot", subscription: a.subscription,
    projection: a.projection, key: ["place"], collection: "places", state: { position: 0, places: [] } }));
  const done = run([...acks, ...snapshots], opened.state);
  return { ...done, sent: opened.sent };
}

const event = (position, e, summary = e.type) => ({
  type: "event", subscription: "s1", position, recorded_at: "2026-01-01T00:00:00+00:00", event: e, summary,
  summary_parts: [summary],
});

test("opening asks for the catalog, the log's head, a snapshot per projection, then the events near the head", () => {
  const { sent, state } = connected(undefined);
  assert.deepEqual(sent.map((m) => (m.fetch ? `fetch:${m.fetch}` : m.op + ":" + (m.stream || m.projection || ""))),
    ["catalog:", "fetch:head", "subscribe:territory", "subscribe:arsenal", "subscribe:deployments", "subscribe:events"]);
  assert.equal(sent[5].after, 0);
  assert.equal(state.events.sub, "s1");
  assert.equal(state.projections.territory.sub, "s2");
  const requests = sent.filter((m) => !m.fetch);
  assert.equal(new Set(requests.map((m) => m.ref)).size, requests.length, "every request has its own ref");
});

test("a big log: the feed subscribes to its tail, holds a bounded window, and pages older events in on request", () => {
  const opened = run([{ type: "connection-open" }, { type: "head", position: 1_000_000 }]);
  const sub = opened.sent.find((m) => m.stream === "events");
  assert.equal(sub.after, 1_000_000 - FEED_TAIL);
  assert.deepEqual(run([{ type: "head", position: 5 }], opened.state).sent, [], "one subscription, not two");
  let state = run([{ type: "subscribed", ref: sub.ref, subscription: "s1", stream: "events" }], opened.state).state;
  const after = sub.after;
  const tail = [];
  for (let p = after + 1; p <= after + 3 * FEED_KEEP; p++) tail.push(event(p, { type: "AttackCarriedOut", id: `e${p}`, place: "mosul" }));
  ({ state } = run([...tail, { type: "caught_up", subscription: "s1", position: after + 3 * FEED_KEEP }], state));
  assert.ok(state.log.records.length <= 2 * FEED_KEEP, `held ${state.log.records.length}`);
  assert.equal(state.log.records.at(-1).position, after + 3 * FEED_KEEP);
  assert.ok(!holdsWholeLog(state));
  assert.ok(!state.log.byId.has(`e${after + 1}`), "the index forgets what the window dropped");
  assert.deepEqual(feedRecords(state, { limit: 2 }).shown.map((r) => r.position), [after + 3000, after + 2999]);
  // "Show older events": the page before the oldest held, prepended (and what is held already, not doubled)
  const first = state.log.first;
  const older = run([{ type: "older", events: [event(first - 2, { type: "AssetSeized" }), event(first - 1, { type: "AssetSeized" }),
    event(first, { type: "AssetSeized" })] }], state);
  assert.deepEqual(older.state.log.records.slice(0, 3).map((r) => r.position), [first - 2, first - 1, first]);
  assert.equal(older.state.log.first, first - 2);
  assert.ok(older.changed.includes("feed"));
  // a reconnect resumes after the last position held, without asking the head again
  const again = run([{ type: "connection-closed" }, { type: "connection-open" }], older.state);
  assert.equal(again.sent.find((m) => m.stream === "events").after, after + 3 * FEED_KEEP);
  assert.ok(!again.sent.some((m) => m.fetch === "head"));
});

test("a place's history: asked on selection, paged by next_before, stale answers ignored, asked again on a new view", () => {
  let { state } = connected(undefined);
  let out = run([{ type: "select", place: "mosul" }], state);
  const first = out.sent[0];
  assert.deepEqual({ ...first, ref: undefined }, { op: "history", projection: "territory", place: "mosul", as_of: null,
    known_at: null, recorded_at: null, limit: HISTORY_PAGE, ref: undefined });
  assert.ok(out.state.place.loading);
  // another place is selected before the answer: the answer for mosul is not tikrit's
  out = run([{ type: "select", place: "tikrit" }], out.state);
  const second = out.sent.at(-1);
  assert.equal(second.place, "tikrit");
  const entry = (position) => ({ position, event: { type: "CityCaptured", place: "tikrit" }, status: "settled" });
  out = run([{ type: "history", ref: first.ref, entries: [entry(99)], next_before: null }], out.state);
  assert.deepEqual(out.state.place.entries, [], "the answer for the place selected before is ignored");
  out = run([{ type: "history", ref: second.ref, entries: [entry(40), entry(30)], next_before: 30 }], out.state);
  assert.deepEqual(out.state.place.entries.map((e) => e.position), [40, 30]);
  assert.equal(out.state.place.nextBefore, 30);
  assert.ok(out.changed.includes("detail"));
  // "Show earlier": the next page, after those held
  const more = run([{ type: "history-more" }], out.state);
  assert.equal(more.sent[0].before, 30);
  assert.deepEqual(run([{ type: "history-more" }], more.state).sent, [], "one page at a time");
  out = run([{ type: "history", ref: more.sent[0].ref, entries: [entry(20)], next_before: null }], more.state);
  assert.deepEqual(out.state.place.entries.map((e) => e.position), [40, 30, 20]);
  assert.deepEqual(run([{ type: "history-more" }], out.state).sent, [], "no page after the last");
  // a new view asks the first page again, at the new date
  const moved = run([{ type: "view", as_of: "2014-06-20" }], out.state);
  const again = moved.sent.find((m) => m.op === "history");
  assert.deepEqual([again.place, again.as_of, again.before], ["tikrit", "2014-06-20", undefined]);
  out = run([{ type: "history", ref: again.ref, entries: [entry(30)], next_before: null }], moved.state);
  assert.deepEqual(out.state.place.entries.map((e) => e.position), [30]);
  // a refusal is said; a report about the place, once caught up, asks again
  const refused = run([{ type: "history-more" }, { type: "select", place: "homs" }], out.state);
  const failed = run([{ type: "error", ref: refused.sent.at(-1).ref, code: "bad_request", message: "unknown place" }], refused.state);
  assert.equal(failed.state.place.problem, "unknown place");
  const caught = run([{ type: "caught_up", subscription: "s1", position: 0 }, event(1, { type: "CityCaptured", place: "homs" })],
    failed.state);
  assert.deepEqual(caught.sent.filter((m) => m.op === "history").map((m) => m.place), ["homs"]);
});

test("events are kept once, in order; a reconnect resumes after the last one", () => {
  let { state } = connected(undefined);
  ({ state } = run([event(1, { type: "CityCaptured", id: "a", place: "mosul" }), event(2, { type: "AssetSeized" }),
    event(2, { type: "AssetSeized" }), event(1, { type: "CityCaptured" })], state));
  assert.deepEqual(state.log.records.map((r) => r.position), [1, 2]);
  const again = run([{ type: "connection-closed" }, { type: "connection-open" }], state);
  assert.equal(again.sent.find((m) => m.stream === "events").after, 2);
  // a message of the old events subscription is not the new one's
  const stale = run([{ ...event(3, { type: "AssetSeized" }), subscription: "old" }], again.state);
  assert.equal(stale.state.log.last, 2);
});

test("the feed shows the server's summary, newest first, registrations only when asked", () => {
  let { state } = connected(undefined);
  ({ state } = run([
    event(1, { type: "ActorRegistered", actor: "isis" }),
    { ...event(2, { type: "CityCaptured", id: "x", place: "mosul", occurred_on: "2014-06-10" }), summary: "isis captured mosul",
      summary_parts: [{ actor: "isis" }, " captured ", { place: "mosul" }] },
    event(3, { type: "EventRetracted", retracts: "x", reason: "wrong", occurred_on: "2014-06-12" }),
    { type: "caught_up", subscription: "s1", position: 3 },
  ], state));
  assert.deepEqual(feedRecords(state).shown.map((r) => r.position), [3, 2]);
  assert.deepEqual(feedRecords(state, { registrations: true, limit: 2 }), {
    shown: [state.log.records[2], state.log.records[1]], total: 3, hidden: 0 });
  assert.equal(state.log.records[1].summary, "isis captured mosul");
  assert.equal(retractedBy(state, state.log.records[2].event).position, 2);
  assert.deepEqual(state.log.retractions.get("x").map((r) => r.position), [3]);
  assert.ok(isRetracted(state, state.log.records[1].event));
  assert.deepEqual(eventDates(state), { min: "2014-06-10", max: "2014-06-12" });
});

test("each event keeps the server's `when`; the slider spans the facts' windows", () => {
  let { state } = connected(undefined);
  ({ state } = run([
    { ...event(1, { type: "CityCaptured", place: "mosul", occurred_on: "2014-06-01", precision: "month",
      occurred_from: "2014-06-01", occurred_to: "2014-06-30" }), when: "June 2014" },
    { ...event(2, { type: "AssaultRepelled", place: "tikrit", occurred_from: "2014-07-15", occurred_to: "2014-07-20" }),
      when: "between 15 and 20 July 2014" },
  ], state));
  assert.deepEqual(state.log.records.map((r) => r.when), ["June 2014", "between 15 and 20 July 2014"]);
  assert.deepEqual(eventDates(state), { min: "2014-06-01", max: "2014-07-20" });
  // the states' dates widen it too: facts the page does not hold (the log's tail only)
  const snapshot = { type: "snapshot", subscription: "s2", projection: "territory", key: ["place"], collection: "places",
    state: { position: 2, places: [{ place: "a", since: "2013-02-01", since_to: "2013-02-03" }, { place: "b", since: null }] } };
  const wider = run([snapshot], state);
  assert.deepEqual(eventDates(wider.state), { min: "2013-02-01", max: "2014-07-20" });
  assert.ok(wider.changed.includes("range"));
  const past = run([{ type: "view", as_of: "2014-07-01" }], state).state;
  assert.deepEqual(state.log.records.map((r) => afterView(past, r.event)), [false, true]);
});

test("the view's clocks: known at (reported_on's day start, else recorded_at) and recorded at", () => {
  assert.equal(clockLimit(null), null);
  assert.equal(clockLimit("2014-07-22"), Date.parse("2014-07-22T23:59:59.999Z"), "a date: the end of that day, UTC");
  assert.equal(clockLimit("2026-01-01T10:00:00"), Date.parse("2026-01-01T10:00:00Z"), "a time without a zone: UTC");
  assert.equal(clockLimit("2026-01-01T12:00:00+02:00"), Date.parse("2026-01-01T10:00:00Z"));
  assert.equal(clockLimit("yesterday"), null);
  const reported = { recorded_at: "2026-01-01T09:30:00.123456+00:00", event: { reported_on: "2014-07-23" } };
  const unreported = { recorded_at: "2026-01-01T09:30:00.123456+00:00", event: {} };
  assert.equal(knownFrom(reported), Date.parse("2014-07-23T00:00:00Z"));
  assert.equal(knownFrom(unreported), Date.parse("2026-01-01T09:30:00.123Z"));
  const view = (known_at, recorded_at = null) => ({ as_of: null, known_at, recorded_at });
  assert.equal(notYet(view("2014-07-22"), reported), "known");
  assert.equal(notYet(view("2014-07-23"), reported), null, "known from 00:00 that day");
  assert.equal(notYet(view("2025-12-31"), unreported), "known", "no reported_on: known when recorded");
  assert.equal(notYet(view(null, "2026-01-01T09:30:00"), reported), "recorded");
  assert.equal(notYet(view(null, "2026-01-01T09:30:01"), reported), null);
  assert.ok(admits(view(null), reported));
});

test("the feed and a place's reports list only what the view's clocks admit, and count the rest", () => {
  let { state } = connected(undefined);
  const at = (t) => `2026-01-01T${t}+00:00`;
  ({ state } = run([
    event(1, { type: "PlaceRegistered", place: "mosul" }),
    { ...event(2, { type: "CityCaptured", id: "c", place: "mosul", reported_on: "2014-07-23" }), recorded_at: at("10:00:00") },
    { ...event(3, { type: "AttackCarriedOut", place: "mosul", reported_on: "2014-07-25" }), recorded_at: at("11:00:00") },
    { ...event(4, { type: "AttackCarriedOut", place: "baghdad" }), recorded_at: at("12:00:00") },
    { ...event(5, { type: "EventRetracted", retracts: "c", reported_on: "2014-07-26" }), recorded_at: at("13:00:00") },
    { type: "caught_up", subscription: "s1", position: 5 },
  ], state));
  const positions = (list) => ({ shown: list.shown.map((r) => r.position), total: list.total, hidden: list.hidden });
  assert.deepEqual(positions(feedRecords(state)), { shown: [5, 4, 3, 2], total: 4, hidden: 0 });
  assert.deepEqual(positions(placeRecords(state, "mosul")), { shown: [3, 2], total: 2, hidden: 0 });
  assert.ok(isRetracted(state, state.log.records[1].event));

  const known = run([{ type: "view", as_of: null, known_at: "2014-07-24" }], state);
  assert.ok(known.changed.includes("feed"), "a change of clocks draws the feed again");
  // reported on the 25th and 26th: not yet known; the attack with no reported_on was recorded in 2026
  assert.deepEqual(positions(feedRecords(known.state)), { shown: [2], total: 1, hidden: 3 });
  assert.deepEqual(positions(placeRecords(known.state, "mosul")), { shown: [2], total: 1, hidden: 1 });
  assert.ok(!isRetracted(known.state, state.log.records[1].event), "a retraction not yet known withdraws nothing");

  const recorded = run([{ type: "view", as_of: null, known_at: null, recorded_at: "2026-01-01T11:30:00" }], state);
  assert.deepEqual(recorded.sent.filter((m) => m.op === "subscribe").map((m) => m.recorded_at),
    ["2026-01-01T11:30:00", "2026-01-01T11:30:00", "2026-01-01T11:30:00"]);
  assert.deepEqual(recorded.state.view, { as_of: null, known_at: null, recorded_at: "2026-01-01T11:30:00" });
  assert.deepEqual(positions(feedRecords(recorded.state)), { shown: [3, 2], total: 2, hidden: 2 });
  const same = run([{ type: "view", as_of: null, known_at: null, recorded_at: "2026-01-01T11:30:00" }], recorded.state);
  assert.deepEqual(same.sent, [], "the same clocks again: nothing asked");
});

test("the catalog is the server's answer, asked again when a newer registration arrives", () => {
  let { state, sent } = connected(undefined);
  const catalogRef = sent[0].ref;
  let out = run([{ type: "catalog", ref: catalogRef, position: 1, actors: [{ actor: "isis", name: "ISIS" }],
    places: [{ place: "mosul", name: "Mosul" }] }, event(1, { type: "ActorRegistered", actor: "isis" }),
  { type: "caught_up", subscription: "s1", position: 1 }], state);
  assert.equal(nameOf(out.state, "actor", "isis"), "ISIS");
  assert.equal(nameOf(out.state, "place", "kirkuk"), "kirkuk");
  assert.deepEqual(out.sent, [], "the catalog held already has position 1");
  out = run([event(2, { type: "PlaceRegistered", place: "kirkuk" }), event(3, { type: "ActorRegistered" })], out.state);
  assert.deepEqual(out.sent.map((m) => m.op), ["catalog"], "one request at a time");
  out = run([{ type: "catalog", ref: out.sent[0].ref, position: 3, actors: [], places: [{ place: "kirkuk", name: "Kirkuk" }] }],
    out.state);
  assert.equal(nameOf(out.state, "place", "kirkuk"), "Kirkuk");
  assert.deepEqual(out.sent, []);
  // an older answer never replaces a newer one; a refused request falls back to HTTP
  assert.equal(nameOf(run([{ type: "catalog", position: 2, actors: [], places: [] }], out.state).state, "place", "kirkuk"),
    "Kirkuk");
  const refused = run([event(4, { type: "ActorRegistered" })], out.state);
  assert.deepEqual(run([{ type: "error", ref: refused.sent[0].ref, code: "unavailable" }], refused.state).sent,
    [{ fetch: "/api/catalog" }]);
});

test("snapshots and updates by the key and collection the snapshot names; old subscriptions ignored", () => {
  let { state } = connected(undefined);
  const snapshot = { type: "snapshot", subscription: "s4", projection: "deployments", position: 5, key: ["actor", "place"],
    collection: "deployments", state: { projection: "deployments", position: 5, deployments: [
      { actor: "us", place: "iraq", personnel: 1 }, { actor: "us", place: "mosul", personnel: 2 }] } };
  ({ state } = run([snapshot, { type: "update", subscription: "s4", projection: "deployments", position: 7,
    changed: [{ actor: "iran", place: "iraq", personnel: 3 }, { actor: "us", place: "iraq", personnel: 4 }],
    removed: [{ actor: "us", place: "mosul" }] }], state));
  assert.deepEqual(projectionState(state, "deployments").deployments,
    [{ actor: "iran", place: "iraq", personnel: 3 }, { actor: "us", place: "iraq", personnel: 4 }]);
  assert.equal(headPosition(state), 7);
  // a new view: the old subscriptions are dropped, their messages ignored, new ones taken
  const moved = run([{ type: "view", as_of: "2014-06-20", known_at: null }], state);
  assert.deepEqual(moved.sent.filter((m) => m.op === "unsubscribe").map((m) => m.subscription), ["s2", "s3", "s4"]);
  assert.deepEqual(moved.sent.filter((m) => m.op === "subscribe").map((m) => m.as_of), ["2014-06-20", "2014-06-20", "2014-06-20"]);
  const late = run([{ ...snapshot, state: { ...snapshot.state, deployments: [] } }], moved.state);
  assert.equal(projectionState(late.state, "deployments").deployments.length, 2, "the old subscription's last words");
  // the view changes again while those snapshots are on their way: nothing is asked until they come,
  // then only the latest view (the dates crossed meanwhile are never asked for)
  const ref = (p) => moved.sent.find((m) => m.projection === p).ref;
  let out = run([{ type: "subscribed", ref: ref("territory"), subscription: "s5", projection: "territory" },
    { type: "subscribed", ref: ref("arsenal"), subscription: "s6", projection: "arsenal" },
    { type: "subscribed", ref: ref("deployments"), subscription: "s7", projection: "deployments" },
    { type: "view", as_of: "2014-06-21" }, { type: "view", as_of: "2014-06-22" }], moved.state);
  assert.deepEqual(out.sent.filter((m) => m.op === "subscribe" || m.op === "unsubscribe"), []);
  assert.equal(out.state.view.as_of, "2014-06-22");
  const snap = (sub, projection) => ({ type: "snapshot", subscription: sub, projection, key: ["place"], collection: "places",
    state: { position: 5, as_of: "2014-06-20", places: [] } });
  out = run([snap("s5", "territory"), snap("s6", "arsenal")], out.state);
  assert.deepEqual(out.sent, [], "one snapshot still on its way");
  assert.equal(shownAsOf(out.state, "territory"), "2014-06-20", "what is shown is labelled with its own date");
  out = run([snap("s7", "deployments")], out.state);
  assert.deepEqual(out.sent.filter((m) => m.op === "unsubscribe").map((m) => m.subscription), ["s5", "s6", "s7"]);
  assert.deepEqual(out.sent.filter((m) => m.op === "subscribe").map((m) => m.as_of), ["2014-06-22", "2014-06-22", "2014-06-22"]);
  // a subscription acknowledged after it was superseded (a reconnect meanwhile) is dropped at once
  const reopened = run([{ type: "connection-closed" }, { type: "connection-open" }], out.state);
  const stray = run([{ type: "subscribed", ref: out.sent.find((m) => m.projection === "arsenal").ref,
    subscription: "s9", projection: "arsenal" }], reopened.state);
  assert.deepEqual(stray.sent, [{ op: "unsubscribe", subscription: "s9" }]);
  // back to the view subscribed while its snapshots are on their way: nothing more is asked
  const back = run([{ type: "view", as_of: "2014-06-23" }, { type: "view", as_of: "2014-06-22" }], reopened.state);
  assert.deepEqual(back.sent, []);
});

test("applyUpdate orders entries by key as the server does, null keys first", () => {
  const state = { position: 1, places: [{ place: "b" }, { place: "a b" }] };
  const out = applyUpdate(state, ["place"], "places", { changed: [{ place: "a" }, { place: null }], removed: [], position: 2 });
  assert.deepEqual(out.places.map((p) => p.place), [null, "a", "a b", "b"]);
  assert.equal(out.position, 2);
  assert.deepEqual(state.places.map((p) => p.place), ["b", "a b"], "the old state is left as it was");
});

test("the server's updates between real states give the server's states", { skip: !process.env.TRACKER_UPDATE_CASES }, () => {
  const cases = JSON.parse(readFileSync(process.env.TRACKER_UPDATE_CASES, "utf8"));
  assert.ok(cases.length > 10);
  for (const c of cases) {
    assert.deepEqual(applyUpdate(c.old, c.key, c.collection, c.update), c.new, c.name);
  }
});

test("the form's types and fields come from the JSON Schema", { skip: !process.env.TRACKER_SCHEMA }, () => {
  const schema = JSON.parse(readFileSync(process.env.TRACKER_SCHEMA, "utf8"));
  const described = describeSchema(schema);
  assert.equal(described.types[0].type, "CityCaptured");
  assert.deepEqual(described.types.map((t) => t.type).sort(), [...schema.$defs.Event.properties.type.enum].sort());
  assert.deepEqual(described.registrations, REGISTRATIONS);
  const capture = described.types.find((t) => t.type === "CityCaptured");
  assert.deepEqual(capture.fields.map((f) => [f.name, f.kind, f.required]),
    [["place", "place", true], ["captured_by", "actor", true], ["captured_from", "actor", false]]);
  const deployed = described.types.find((t) => t.type === "ForcesDeployed");
  assert.deepEqual(Object.fromEntries(deployed.fields.map((f) => [f.name, f.kind])),
    { actor: "actor", place: "place", personnel: "count", equipment: "counts", units: "counts", purpose: "text" });
  assert.equal(described.types.find((t) => t.type === "EventRetracted").fields[0].kind, "event");
  assert.ok(described.types.find((t) => t.type === "PlaceRegistered").dateOptional);
  // the time (a day with its precision, or a window) and the claim have the form's fixed inputs
  for (const t of described.types) {
    for (const name of ["occurred_from", "occurred_to", "claim_status", "claimed_by", "precision", "occurred_on"]) {
      assert.ok(!t.fields.some((f) => f.name === name), `${t.type}.${name} is a fixed input, not a type's field`);
    }
  }
  assert.deepEqual(described.claims, ["confirmed", "reported", "claimed"]);
  assert.equal(fieldKind({ anyOf: [{ type: "boolean" }, { type: "null" }] }), "bool");
});

test("the registrations may come after the first events: the feed and the catalog follow", () => {
  let { state } = connected(initialState());
  ({ state } = run([event(1, { type: "ActorRegistered", actor: "isis" }), event(2, { type: "AttackCarriedOut", place: "mosul" }),
    { type: "caught_up", subscription: "s1", position: 2 }], state));
  assert.deepEqual(feedRecords(state).shown.map((r) => r.position), [2, 1], "no schema yet: every event is listed");
  const out = run([{ type: "registrations", registrations: REGISTRATIONS }], state);
  assert.deepEqual(feedRecords(out.state).shown.map((r) => r.position), [2]);
  assert.equal(out.state.log.lastRegistration, 1);
  assert.ok(out.changed.includes("feed"));
});
