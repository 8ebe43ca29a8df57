// What the page knows, as a pure reducer: `step(state, input)` takes a server message (or one
// of the page's own inputs below) and returns {state, send, changed}: the next state, the
// requests to send, and which parts of the page to draw again. No DOM, no globals, no I/O:
// tests/js/state.test.mjs runs it under `node --test`.
//
// Inputs of the page's own: {type: "connection-open"}, {type: "connection-closed"},
// {type: "view", as_of, known_at, recorded_at}, {type: "registrations", registrations},
// {type: "head", position}, {type: "older", events}, {type: "select", place},
// {type: "history-more"}. Everything else is a message of docs/protocol.md.
//
// Built for big logs: the page never holds the whole log. It holds
// - the tail of the event log: the first connection asks the server's head (a `{fetch: "head"}`
//   request the shell answers with {type: "head", position} from /healthz) and subscribes after
//   `head - FEED_TAIL`; from then on the subscription's events, kept up to `log.keep` of them (the
//   oldest dropped), and older pages only when the reader asks (`{fetch: "older"}` answered by
//   {type: "older", events} from /api/events); a reconnect subscribes again after `log.last`, so
//   nothing is missed or doubled;
// - the selected place's history of control, from the server's `history` op, a page at a time
//   (`place`), asked again when the view changes or a report about the place arrives; the answer
//   to a request that is no longer the current one is ignored;
// - the span of dates the slider covers (`log.range`), widened by every event and state seen;
// - one snapshot per projection for the current view (as_of, known_at, recorded_at), kept current by the
//   server's updates, applied by the `key` and `collection` the snapshot names; a reconnect or
//   a change of view takes new snapshots; messages of a subscription that is no longer
//   current are ignored;
// - the catalog is the server's `catalog` answer, asked for again whenever the log shows a
//   registration newer than the catalog held.
// - the feed and the place panel list only the records the view's clocks admit (`admits`): known
//   by `known_at` (an event's knowledge time is its `reported_on` day start, else its
//   `recorded_at`) and recorded by `recorded_at`, as the server's projections do.
//
// The log's arrays and maps grow in place (they are append-only, and a state only reads them
// up to its own `log.last`): the rest of a state is never changed once returned.

export const PROJECTIONS = ["territory", "arsenal", "deployments"];
export const FEED_TAIL = 200; // the events asked for at the first connection: the feed's newest
export const FEED_KEEP = 1000; // the events kept (up to twice as many between trims; more once the reader asks for older ones)
export const HISTORY_PAGE = 20; // a place's history, a page at a time

// The one event semantics the page knows by name: a retraction withdraws the event it names.
const RETRACTION = { type: "EventRetracted", field: "retracts" };

/** The state before anything is known. `registrations` maps the event types that register
 *  catalog entries to "actor" | "place" (from the schema's x-registers). */
export function initialState({ registrations = {} } = {}) {
  const projections = {};
  // per projection: the request asking for it (ref), its subscription once acknowledged (sub),
  // the view it is for, whether its snapshot is still on its way (waiting), and the snapshot held
  for (const p of PROJECTIONS) projections[p] = { ref: null, sub: null, view: null, waiting: false, snapshot: null };
  return {
    open: false,
    nextRef: 1,
    registrations,
    view: { as_of: null, known_at: null, recorded_at: null }, // the view asked for
    viewBehind: false, // the subscriptions are for an older view (asked for once their snapshots come)
    catalog: { position: -1, actors: {}, places: {} },
    catalogRef: null,
    events: { ref: null, sub: null },
    log: emptyLog(),
    head: null, // the log's head when the page first connected (null: not asked yet)
    projections,
    place: noPlace(),
    problem: null, // the last refusal worth showing: {projection, message}
  };
}

function emptyLog() {
  return { records: [], byId: new Map(), retractions: new Map(), last: 0, first: null, caughtUp: false,
    lastRegistration: 0, keep: FEED_KEEP, range: null };
}

function noPlace() {
  return { id: null, ref: null, entries: [], nextBefore: null, loading: false, problem: null, more: false };
}

/** One step: {state, send: [requests], changed: [parts of the page to draw again]}. */
export function step(state, input) {
  const out = { state, send: [], changed: [] };
  const handler = HANDLERS[input.type];
  return handler ? handler(out, input) : out;
}

const HANDLERS = {
  "connection-open": (out) => {
    let s = { ...out.state, open: true, problem: null, viewBehind: false };
    const projections = {};
    for (const p of PROJECTIONS) projections[p] = { ...s.projections[p], ref: null, sub: null, waiting: false };
    s = { ...s, projections };
    s = request(s, out, (ref) => ({ op: "catalog", ref }), (st, ref) => ({ ...st, catalogRef: ref }), "catalog");
    if (s.log.last > 0 || s.head !== null) s = subscribeEvents(s, out);
    else {
      s = { ...s, events: { ref: null, sub: null } };
      out.send.push({ fetch: "head" });
    }
    for (const p of PROJECTIONS) s = subscribe(s, out, p);
    if (s.place.id !== null) s = askHistory(s, out, s.place.id);
    out.state = s;
    return out;
  },

  // which event types register catalog entries (from the schema, which may come after the first events)
  registrations: (out, { registrations = {} }) => {
    const s = out.state;
    let lastRegistration = 0;
    for (const r of s.log.records) if (registrations[r.event.type]) lastRegistration = r.position;
    out.state = { ...s, registrations, log: { ...s.log, lastRegistration: Math.max(s.log.lastRegistration, lastRegistration) } };
    out.changed.push("feed", "detail");
    return askCatalog(out);
  },

  // the log's head, from the shell's /healthz (null when it could not be read: everything then)
  head: (out, { position }) => {
    let s = out.state;
    if (!s.open || s.events.ref !== null || s.events.sub !== null) return out;
    s = { ...s, head: Number.isInteger(position) && position >= 0 ? position : 0 };
    out.state = subscribeEvents(s, out);
    return out;
  },

  // an older page of the log (/api/events), for the feed's "Show older events"
  older: (out, { events = [] }) => {
    const s = out.state;
    const first = s.log.first ?? s.log.last + 1;
    const records = events.filter((m) => m.position < first).map(toRecord);
    if (!records.length) return out;
    const log = { ...s.log, keep: s.log.keep + records.length, first: records[0].position,
      records: [...records, ...s.log.records], range: records.reduce((r, rec) => widen(r, rec, s.registrations), s.log.range) };
    log.byId = new Map(log.byId);
    log.retractions = new Map(log.retractions);
    for (const r of records) index(log, r);
    out.state = { ...s, log };
    out.changed.push("feed", "range", "detail");
    return out;
  },

  select: (out, { place }) => {
    let s = out.state;
    if (place === s.place.id) return out;
    s = { ...s, place: { ...noPlace(), id: place ?? null } };
    if (place !== null && place !== undefined && s.open) s = askHistory(s, out, place);
    out.state = s;
    out.changed.push("detail");
    return out;
  },

  "history-more": (out) => {
    const s = out.state;
    if (s.place.id === null || s.place.nextBefore === null || s.place.loading || !s.open) return out;
    out.state = askHistory(s, out, s.place.id, s.place.nextBefore);
    out.changed.push("detail");
    return out;
  },

  history: (out, m) => {
    const s = out.state;
    if (m.ref === undefined || m.ref !== s.place.ref) return out; // an answer for another place or view
    const entries = s.place.more ? [...s.place.entries, ...(m.entries || [])] : (m.entries || []);
    out.state = { ...s, place: { ...s.place, ref: null, loading: false, entries, nextBefore: m.next_before ?? null,
      problem: null } };
    out.changed.push("detail");
    return out;
  },

  "connection-closed": (out) => {
    out.state = { ...out.state, open: false, catalogRef: null };
    return out;
  },

  // A new view. While the snapshots of the previous one are on their way, nothing is asked: the
  // latest view is asked for once they have come (a slider dragged across a year asks for a few
  // dates, not for every day it crossed, and the server folds no state nobody will see).
  view: (out, { as_of = null, known_at = null, recorded_at = null }) => {
    let s = out.state;
    out.changed.push("view");
    if (as_of === s.view.as_of && known_at === s.view.known_at && recorded_at === s.view.recorded_at) return out;
    s = { ...s, view: { as_of, known_at, recorded_at }, viewBehind: true };
    if (s.open && s.place.id !== null) s = askHistory(s, out, s.place.id);
    out.state = s;
    out.changed.push("feed", "detail");
    return catchUpView(out);
  },

  subscribed: (out, m) => {
    const s = out.state;
    if (m.ref !== undefined && m.ref === s.events.ref) {
      out.state = { ...s, events: { ...s.events, sub: m.subscription } };
      return out;
    }
    const projection = PROJECTIONS.find((p) => s.projections[p].ref === m.ref);
    if (projection) {
      out.state = withProjection(s, projection, { sub: m.subscription });
    } else if (m.projection && m.subscription) {
      out.send.push({ op: "unsubscribe", subscription: m.subscription }); // superseded meanwhile
    }
    return out;
  },

  event: (out, m) => {
    const s = out.state;
    if (m.subscription !== s.events.sub || m.position <= s.log.last) return out; // held already: never doubled
    const record = toRecord(m);
    let log = { ...s.log, last: m.position, first: s.log.first ?? m.position, range: widen(s.log.range, record, s.registrations) };
    log.records.push(record);
    index(log, record);
    const e = m.event;
    if (s.registrations[e.type]) log.lastRegistration = m.position;
    if (log.records.length > 2 * log.keep) log = trim(log);
    out.state = { ...s, log };
    if (log.caughtUp) {
      out.changed.push("feed", "range");
      // a report about the selected place: its history may have changed
      if (s.place.id !== null && e.place === s.place.id && s.open) {
        out.state = askHistory(out.state, out, s.place.id);
        out.changed.push("detail");
      }
    }
    return askCatalog(out);
  },

  caught_up: (out, m) => {
    const s = out.state;
    if (m.subscription !== s.events.sub) return out;
    out.state = { ...s, log: { ...s.log, caughtUp: true } };
    out.changed.push("feed", "range");
    return askCatalog(out);
  },

  snapshot: (out, m) => {
    const projection = PROJECTIONS.find((p) => m.subscription && out.state.projections[p].sub === m.subscription);
    if (!projection) return out; // an old subscription's last words, or a query's answer
    out.state = withProjection(out.state, projection,
      { snapshot: { state: m.state, key: m.key, collection: m.collection, view: out.state.projections[projection].view },
        waiting: false });
    const range = widenByState(out.state.log.range, m.state?.[m.collection]);
    if (range !== out.state.log.range) {
      out.state = { ...out.state, log: { ...out.state.log, range } };
      out.changed.push("range");
    }
    out.changed.push(projection);
    return catchUpView(out);
  },

  update: (out, m) => {
    const projection = PROJECTIONS.find((p) => out.state.projections[p].sub === m.subscription);
    const held = projection && out.state.projections[projection].snapshot;
    if (!held) return out;
    const state = applyUpdate(held.state, held.key, held.collection, m);
    out.state = withProjection(out.state, projection, { snapshot: { ...held, state } });
    out.changed.push(projection);
    return out;
  },

  catalog: (out, m) => {
    let s = out.state;
    if (m.ref !== undefined && m.ref === s.catalogRef) s = { ...s, catalogRef: null };
    if ((m.position ?? 0) >= s.catalog.position) {
      const actors = Object.fromEntries((m.actors || []).map((a) => [a.actor, a]));
      const places = Object.fromEntries((m.places || []).map((p) => [p.place, p]));
      s = { ...s, catalog: { position: m.position ?? 0, actors, places } };
      out.changed.push("catalog");
    }
    out.state = s;
    return askCatalog(out);
  },

  error: (out, m) => {
    const s = out.state;
    const projection = PROJECTIONS.find((p) => m.ref !== undefined && s.projections[p].ref === m.ref);
    if (projection) {
      out.state = { ...withProjection(s, projection, { ref: null, waiting: false }), problem: { projection, message: m.message } };
      out.changed.push("problem");
      return catchUpView(out);
    } else if (m.ref !== undefined && m.ref === s.place.ref) {
      out.state = { ...s, place: { ...s.place, ref: null, loading: false, problem: m.message || m.code } };
      out.changed.push("detail");
    } else if (m.ref !== undefined && m.ref === s.catalogRef) {
      out.state = { ...s, catalogRef: null };
      // the same answer over HTTP, fed back as a catalog message; not when a token is missing:
      // the page asks for one, then opens again and asks for the catalog anew
      if (m.code !== "unauthorized") out.send.push({ fetch: "/api/catalog" });
    }
    return out;
  },
};

/** Apply an update to a projection's state: replace or insert each changed entry by its key,
 *  delete each removed one, take the update's position; entries in key order, as the server's
 *  (tracker/core/protocol.py apply_update). */
export function applyUpdate(state, key, collection, { changed = [], removed = [], position, as_of: asOf }) {
  const id = (e) => key.map((f) => (e[f] === null || e[f] === undefined ? "" : String(e[f])));
  const entries = new Map(state[collection].map((e) => [JSON.stringify(id(e)), e]));
  for (const r of removed) entries.delete(JSON.stringify(id(r)));
  for (const e of changed) entries.set(JSON.stringify(id(e)), e);
  const sorted = [...entries.values()].sort((a, b) => compareKeys(id(a), id(b)));
  // a view of today moves to the next day at midnight UTC: the update says its as_of
  return { ...state, position, ...(asOf ? { as_of: asOf } : {}), [collection]: sorted };
}

function compareKeys(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

function toRecord(m) {
  return { position: m.position, recorded_at: m.recorded_at, event: m.event, summary: m.summary,
    parts: m.summary_parts || [m.summary], when: m.when ?? null };
}

/** Index a record held by the log (by id; a retraction by the id it withdraws). Mutates `log`'s maps. */
function index(log, record) {
  const e = record.event;
  if (e.id) log.byId.set(e.id, record);
  if (e.type === RETRACTION.type) {
    const target = e[RETRACTION.field];
    if (!log.retractions.has(target)) log.retractions.set(target, []);
    log.retractions.get(target).push(record);
  }
}

/** Keep the newest `log.keep` records (amortized: done when twice as many are held). */
function trim(log) {
  const records = log.records.slice(log.records.length - log.keep);
  const kept = { ...log, records, first: records[0].position, byId: new Map(), retractions: new Map() };
  for (const r of records) index(kept, r);
  return kept;
}

/** The span of dates widened by a record's window (registrations aside). */
function widen(range, record, registrations) {
  const e = record.event;
  if (registrations[e.type]) return range;
  const from = e.occurred_from || e.occurred_on;
  if (!from) return range;
  const to = e.occurred_to || from;
  if (range && range.min <= from && range.max >= to) return range;
  return { min: range && range.min < from ? range.min : from, max: range && range.max > to ? range.max : to };
}

/** The span widened by the dates a state's entries carry (`since`, `since_to`): the dates of facts
 *  the page may not hold. The same object when nothing widens it. */
function widenByState(range, entries) {
  let out = range;
  for (const e of entries || []) {
    if (!e.since) continue;
    const to = e.since_to || e.since;
    if (!out || e.since < out.min || to > out.max) {
      out = { min: out && out.min < e.since ? out.min : e.since, max: out && out.max > to ? out.max : to };
    }
  }
  return out;
}

function subscribeEvents(s, out) {
  const after = s.log.last > 0 ? s.log.last : Math.max(0, (s.head ?? 0) - FEED_TAIL);
  return request(s, out, (ref) => ({ op: "subscribe", stream: "events", after, ref }),
    (st, ref) => ({ ...st, events: { ref, sub: null } }), "events");
}

function askHistory(s, out, place, before = null) {
  const { as_of, known_at, recorded_at } = s.view;
  const more = before !== null;
  return request(s, out, (ref) => ({ op: "history", projection: "territory", place, as_of, known_at, recorded_at,
    limit: HISTORY_PAGE, ...(more ? { before } : {}), ref }),
  (st, ref) => ({ ...st, place: { ...st.place, ref, loading: true, more, problem: null,
    ...(more ? {} : { nextBefore: null }) } }), "history");
}

function withProjection(s, projection, fields) {
  return { ...s, projections: { ...s.projections, [projection]: { ...s.projections[projection], ...fields } } };
}

function request(s, out, message, remember, name) {
  const ref = `${name}-${s.nextRef}`;
  out.send.push(message(ref));
  return remember({ ...s, nextRef: s.nextRef + 1 }, ref);
}

function subscribe(s, out, projection) {
  const { as_of, known_at, recorded_at } = s.view;
  return request(s, out, (ref) => ({ op: "subscribe", projection, as_of, known_at, recorded_at, ref }),
    (st, ref) => withProjection(st, projection, { ref, waiting: true, view: st.view }), `sub-${projection}`);
}

/** When the view asked for is newer than the subscriptions and none is waiting for its snapshot:
 *  drop them, subscribe for the view. */
function catchUpView(out) {
  let s = out.state;
  if (!s.viewBehind || !s.open || PROJECTIONS.some((p) => s.projections[p].waiting)) return out;
  s = { ...s, viewBehind: false };
  if (PROJECTIONS.every((p) => sameView(s.projections[p].view, s.view) && s.projections[p].ref !== null)) {
    out.state = s; // back where the subscriptions are: nothing to ask
    return out;
  }
  const projections = {};
  for (const p of PROJECTIONS) {
    const { sub } = s.projections[p];
    if (sub) out.send.push({ op: "unsubscribe", subscription: sub });
    projections[p] = { ...s.projections[p], ref: null, sub: null };
  }
  s = { ...s, projections };
  for (const p of PROJECTIONS) s = subscribe(s, out, p);
  out.state = s;
  return out;
}

function sameView(a, b) {
  return Boolean(a) && a.as_of === b.as_of && a.known_at === b.known_at && a.recorded_at === b.recorded_at;
}

/** Ask for the catalog when the log holds a registration newer than it, once caught up. */
function askCatalog(out) {
  const s = out.state;
  if (!s.open || !s.log.caughtUp || s.catalogRef !== null || s.log.lastRegistration <= s.catalog.position) return out;
  out.state = request(s, out, (ref) => ({ op: "catalog", ref }), (st, ref) => ({ ...st, catalogRef: ref }), "catalog");
  return out;
}

// ---------------------------------------------------------------- reading the state

/** The projection's state for the current view, or null before its snapshot. */
export function projectionState(state, projection) {
  return state.projections[projection].snapshot?.state ?? null;
}

/** The date the projection's shown state is for, as the page names it: "live" without one. */
export function shownAsOf(state, projection) {
  return state.projections[projection].snapshot?.view?.as_of || "live";
}

/** An actor's or place's name from the catalog; its id when unknown. */
export function nameOf(state, kind, id) {
  if (id === null || id === undefined) return "";
  const entry = (kind === "actor" ? state.catalog.actors : state.catalog.places)[id];
  return entry ? entry.name : id;
}

export function isRegistration(state, event) {
  return Boolean(state.registrations[event.type]);
}

// ---------------------------------------------------------------- the view's clocks

/** A clock's limit in milliseconds since the epoch: a date ("YYYY-MM-DD") is the end of that
 *  day, UTC; a time without a zone is UTC (as the server reads them); null for no limit. */
export function clockLimit(text) {
  if (text === null || text === undefined || text === "") return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return Date.parse(`${text}T23:59:59.999Z`);
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : ms;
}

/** When a record became known: its `reported_on` from 00:00 UTC, else when it was recorded. */
export function knownFrom(record) {
  const reported = record.event.reported_on;
  return reported ? Date.parse(`${reported}T00:00:00Z`) : Date.parse(record.recorded_at);
}

/** Why the view's clocks do not admit a record: "known" (not yet known at `known_at`),
 *  "recorded" (not yet in the log at `recorded_at`), or null when it is admitted. */
export function notYet(view, record) {
  const recordedBy = clockLimit(view.recorded_at);
  if (recordedBy !== null && Date.parse(record.recorded_at) > recordedBy) return "recorded";
  const knownBy = clockLimit(view.known_at);
  if (knownBy !== null && knownFrom(record) > knownBy) return "known";
  return null;
}

export function admits(view, record) {
  return notYet(view, record) === null;
}

/** Records newest first that `keep(record)` selects and the view admits: at most `limit` of them
 *  (`shown`), how many there are (`total`), and how many the view's clocks leave out (`hidden`). */
function listed(state, keep, limit) {
  const shown = [];
  let total = 0;
  let hidden = 0;
  for (let i = state.log.records.length - 1; i >= 0; i--) {
    const r = state.log.records[i];
    if (r.position > state.log.last || !keep(r)) continue;
    if (!admits(state.view, r)) {
      hidden += 1;
      continue;
    }
    total += 1;
    if (shown.length < limit) shown.push(r);
  }
  return { shown, total, hidden };
}

/** The feed: newest first, at most `limit`, registrations only if asked, only what the view's
 *  clocks admit; and how many there are, and how many are left out as not yet known or recorded. */
export function feedRecords(state, { registrations = false, limit = Infinity } = {}) {
  return listed(state, (r) => registrations || !isRegistration(state, r.event), limit);
}

/** The reports about a place (its `place` field), as the feed lists them. */
export function placeRecords(state, place, { limit = Infinity } = {}) {
  return listed(state, (r) => r.event.place === place && !isRegistration(state, r.event), limit);
}

/** The record a retraction withdraws, if the page holds it. */
export function retractedBy(state, event) {
  return event.type === RETRACTION.type ? state.log.byId.get(event[RETRACTION.field]) ?? null : null;
}

/** Is the event withdrawn by a retraction the view's clocks admit? */
export function isRetracted(state, event) {
  const by = event.id ? state.log.retractions.get(event.id) : undefined;
  return Boolean(by) && by.some((r) => r.position <= state.log.last && admits(state.view, r));
}

/** The first and last days of the dated facts' windows the page has seen (registrations aside):
 *  in the events it holds or held, and in the states' entries; or null. */
export function eventDates(state) {
  return state.log.range;
}

/** Does the page hold the log from its first position? (Else the feed is the log's tail.) */
export function holdsWholeLog(state) {
  return state.log.first === null || state.log.first <= 1;
}

/** Is the fact's window after the date shown (it starts later)? */
export function afterView(state, event) {
  const from = event.occurred_from || event.occurred_on;
  return Boolean(state.view.as_of && from && from > state.view.as_of);
}

/** The highest position the page has seen: the log's, or a projection's. */
export function headPosition(state) {
  return Math.max(state.log.last, ...PROJECTIONS.map((p) => projectionState(state, p)?.position || 0));
}
