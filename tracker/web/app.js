// The dashboard: one websocket connection (connection.js) feeding the map (map.js), the tables,
// the event feed and the date controls; the add-report form (form.js) appends over it.
//
// What the page holds, and how it stays right across reconnects:
// - the event log from position 1 up to `lastPosition`, from a subscription to the events
//   stream; a reconnect subscribes again after `lastPosition`, so nothing is missed or doubled;
// - one snapshot per projection for the current view (as_of, known_at), kept current by the
//   server's updates; a reconnect or a change of view takes new snapshots. Messages of a
//   subscription that is no longer current are ignored.

import { Connection } from "./connection.js";
import { el } from "./dom.js";
import { ReportForm } from "./form.js";
import { PlaceMap } from "./map.js";
import {
  UNCONTROLLED, addDays, assignColours, daysBetween, describeDate, formatCount, formatCounts, formatNumber,
  summarize, typeLabel,
} from "./format.js";

const PROJECTIONS = ["territory", "arsenal", "deployments"];
const COLLECTION = { territory: "places", arsenal: "actors", deployments: "deployments" };
const KEYS = { territory: ["place"], arsenal: ["actor"], deployments: ["actor", "place"] };
const REGISTRATIONS = new Set(["ActorRegistered", "PlaceRegistered"]);
const TOKEN_KEY = "tracker.writeToken";
const FEED_PAGE = 100;

const $ = (sel) => document.querySelector(sel);

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token then lasts for this page only
  }
}

const app = {
  conn: null,
  actors: new Map(), // id -> {actor, name, aliases, kind}
  places: new Map(), // id -> {place, name, kind, country, lat, lon, ...}
  records: [], // {position, recorded_at, event}, by position
  byId: new Map(), // event id -> record
  retracted: new Set(), // event ids retracted
  lastPosition: 0,
  caughtUp: false,
  catalogPending: false,
  eventsSub: null,
  eventsRef: null,
  view: { as_of: null, known_at: null },
  states: { territory: null, arsenal: null, deployments: null },
  subs: { territory: null, arsenal: null, deployments: null },
  gen: { territory: 0, arsenal: 0, deployments: 0 },
  pendingSubs: new Map(), // ref -> {projection, gen}
  nextRef: 1,
  range: null, // {min, max} dates of the slider
  colours: {},
  selectedPlace: null,
  feedLimit: FEED_PAGE,
  token: storedToken(),
  tokenWaiter: null,
  dirty: new Set(),
  renderTimer: null,
  map: null,
};

// ---------------------------------------------------------------- names and colours

function nameOf(kind, id) {
  if (id === null || id === undefined) return "";
  const entry = (kind === "actor" ? app.actors : app.places).get(id);
  return entry ? entry.name : id;
}

function colourOf(actor) {
  if (!actor) return UNCONTROLLED;
  if (!app.colours[actor]) app.colours = assignColours([...app.actors.keys(), actor, ...Object.keys(app.colours)]);
  return app.colours[actor];
}

function recolour() {
  app.colours = assignColours([...app.actors.keys()]);
}

function register(event) {
  if (event.type === "ActorRegistered") {
    app.actors.set(event.actor, { actor: event.actor, name: event.name, aliases: event.aliases || [], kind: event.kind });
    return true;
  }
  if (event.type === "PlaceRegistered") {
    const { type, id, sources, reported_on, occurred_on, precision, notes, ...rest } = event;
    app.places.set(event.place, rest);
    return true;
  }
  return false;
}

function applyCatalog(catalog) {
  for (const a of catalog.actors || []) app.actors.set(a.actor, a);
  for (const p of catalog.places || []) app.places.set(p.place, p);
  catalogChanged();
}

function catalogChanged() {
  recolour();
  fillPickers();
  markDirty("territory", "arsenal", "deployments", "feed", "detail");
}

function fillPickers() {
  const options = (map) => [...map.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => el("option", { value: e.actor || e.place, label: e.name }));
  $("#actor-options").replaceChildren(...options(app.actors));
  $("#place-options").replaceChildren(...options(app.places));
}

// ---------------------------------------------------------------- rendering, coalesced

function markDirty(...parts) {
  for (const p of parts) app.dirty.add(p);
  if (app.renderTimer === null) app.renderTimer = setTimeout(render, 20);
}

function render() {
  app.renderTimer = null;
  const dirty = new Set(app.dirty);
  app.dirty.clear();
  try {
    if (dirty.has("territory")) renderTerritory();
    if (dirty.has("arsenal")) renderArsenal();
    if (dirty.has("deployments")) renderDeployments();
    if (dirty.has("feed") && app.caughtUp) renderFeed();
    if (dirty.has("range")) renderRange();
    if (dirty.has("detail") || dirty.has("territory") || dirty.has("feed")) renderDetail();
  } catch (err) {
    console.warn("tracker: rendering failed", err);
  }
  $("#head-position").textContent = String(Math.max(app.lastPosition, ...PROJECTIONS.map((p) => app.states[p]?.position || 0)));
}

function viewLabel() {
  return app.view.as_of || "live";
}

function renderTerritory() {
  const state = app.states.territory;
  if (!state) return;
  const places = state.places;
  if (app.map) {
    app.map.update(places, colourOf, nameOf, viewLabel());
    const shown = new Set();
    for (const p of places) {
      if (p.controller) shown.add(p.controller);
      for (const a of p.contested_by || []) shown.add(a);
    }
    app.map.updateLegend([...shown].sort((a, b) => nameOf("actor", a).localeCompare(nameOf("actor", b)))
      .map((actor) => ({ actor, name: nameOf("actor", actor), colour: colourOf(actor) })));
  }
  const body = $("#places-table tbody");
  body.replaceChildren(...places.map((p) => {
    const button = el("button", { type: "button", class: "linklike", "data-place": p.place, text: p.name });
    button.addEventListener("click", () => selectPlace(p.place));
    const controller = p.controller
      ? el("span", {}, el("span", { class: "swatch", style: `background:${colourOf(p.controller)}`, "aria-hidden": "true" }),
        " " + (p.controller_name || nameOf("actor", p.controller)))
      : el("span", { class: "muted", text: "no one recorded" });
    return el("tr", { "data-place": p.place, "data-controller": p.controller || "" },
      el("td", {}, button, el("span", { class: "muted kind", text: ` ${p.kind}` })),
      el("td", { class: "controller" }, controller),
      el("td", { text: p.controller ? (p.since_text || describeDate(p.since, p.since_precision)) : "" }),
      el("td", { text: (p.contested_by || []).map((a) => nameOf("actor", a)).join(", ") }));
  }));
  $("#places-count").textContent = String(places.length);
  $("#places-table").dataset.asOf = viewLabel();
}

function renderArsenal() {
  const state = app.states.arsenal;
  if (!state) return;
  const rows = [];
  const resources = [];
  for (const a of state.actors) {
    const name = a.name || nameOf("actor", a.actor);
    for (const h of a.holdings || []) {
      rows.push(el("tr", { "data-actor": a.actor, "data-asset": h.asset },
        el("th", { scope: "row", text: name }),
        el("td", { text: h.asset }),
        el("td", { class: "num", text: formatCount(h.quantity, h.known_minimum) }),
        el("td", { text: h.unit || "" }),
        el("td", { class: "date", text: h.since ? describeDate(h.since, h.since_precision) : "" }),
        el("td", { class: "num", text: h.reports ?? "" })));
    }
    for (const r of a.resources || []) {
      const share = r.share_percent === null || r.share_percent === undefined ? "unknown"
        : `${r.at_least ? "≥ " : ""}${r.share_percent}%`;
      const output = r.output === null || r.output === undefined ? "unknown"
        : `${r.at_least ? "≥ " : ""}${formatNumber(r.output)}${r.output_unit ? " " + r.output_unit : ""}`;
      resources.push(el("tr", { "data-actor": a.actor, "data-resource": r.resource },
        el("th", { scope: "row", text: name }),
        el("td", { text: r.resource }),
        el("td", { text: r.place_name || (r.place ? nameOf("place", r.place) : "") }),
        el("td", { class: "num", text: share }),
        el("td", { class: "num", text: output }),
        el("td", { class: "date", text: r.since ? describeDate(r.since, r.since_precision) : "" })));
    }
  }
  const empty = (cols, text) => el("tr", { class: "empty" }, el("td", { colspan: cols, class: "muted", text }));
  $("#arsenal-table tbody").replaceChildren(...(rows.length ? rows : [empty(6, "No materiel recorded at this date.")]));
  $("#resources-table tbody").replaceChildren(...(resources.length ? resources : [empty(6, "No resources recorded at this date.")]));
  $("#arsenal-table").dataset.asOf = viewLabel();
}

function renderDeployments() {
  const state = app.states.deployments;
  if (!state) return;
  const rows = state.deployments.map((d) => el("tr", { "data-actor": d.actor, "data-place": d.place },
    el("th", { scope: "row", text: d.actor_name || nameOf("actor", d.actor) }),
    el("td", { text: d.place_name || nameOf("place", d.place) }),
    el("td", { class: "num personnel", text: formatCount(d.personnel, d.personnel_known_minimum) }),
    el("td", { class: "equipment", text: formatCounts(d.equipment) }),
    el("td", { class: "units", text: formatCounts(d.units) }),
    el("td", { class: "date", text: d.since ? describeDate(d.since, d.since_precision) : "" }),
    el("td", { class: "purpose", text: (d.purposes || []).join("; ") })));
  $("#deployments-table tbody").replaceChildren(...(rows.length ? rows
    : [el("tr", { class: "empty" }, el("td", { colspan: 7, class: "muted", text: "No deployments recorded at this date." }))]));
  $("#deployments-table").dataset.asOf = viewLabel();
}

function sourceLine(sources) {
  const line = el("div", { class: "sources" });
  const seen = new Set(); // one article quoted twice is one source here; the quotes differ
  (sources || []).filter((s) => {
    const key = JSON.stringify([s.publisher, s.title || "", s.url || ""]);
    return !seen.has(key) && seen.add(key);
  }).forEach((s, i) => {
    if (i) line.append(" · ");
    const who = s.url
      ? el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer", text: s.publisher })
      : el("span", { class: "publisher", text: s.publisher });
    line.append(who);
    if (s.title) line.append(el("span", { class: "muted", text: `: ${s.title}` }));
    if (s.published_on) line.append(el("span", { class: "muted", text: ` (${s.published_on})` }));
  });
  return line;
}

function feedItem(record) {
  const e = record.event;
  const after = app.view.as_of && e.occurred_on && e.occurred_on > app.view.as_of;
  const retracted = e.id && app.retracted.has(e.id);
  const date = e.occurred_on ? describeDate(e.occurred_on, e.precision)
    : e.reported_on ? `reported ${e.reported_on}` : `recorded ${(record.recorded_at || "").slice(0, 10)}`;
  const item = el("li", { class: `feed-item${after ? " after-view" : ""}${retracted ? " retracted" : ""}`,
    "data-position": record.position, "data-type": e.type, "data-id": e.id || "" },
  el("div", { class: "feed-head" },
    el("time", { datetime: e.occurred_on || "", class: "when", text: date }),
    el("span", { class: "type", text: typeLabel(e.type) }),
    retracted ? el("span", { class: "badge", text: "retracted" }) : null,
    after ? el("span", { class: "badge muted", text: "after the shown date" }) : null,
    el("span", { class: "pos muted", title: "log position", text: `#${record.position}` })),
  el("div", { class: "summary", text: feedSummary(e) }),
  sourceLine(e.sources));
  return item;
}

function feedSummary(e) {
  if (e.type === "EventRetracted" && app.byId.has(e.retracts)) {
    const target = app.byId.get(e.retracts);
    return `Retracted #${target.position} (${summarize(target.event, nameOf)}): ${e.reason}`;
  }
  return summarize(e, nameOf);
}

function renderFeed() {
  const showRegistrations = $("#feed-registrations").checked;
  const shown = [];
  for (let i = app.records.length - 1; i >= 0 && shown.length < app.feedLimit; i--) {
    const r = app.records[i];
    if (!showRegistrations && REGISTRATIONS.has(r.event.type)) continue;
    shown.push(r);
  }
  $("#feed").replaceChildren(...shown.map(feedItem));
  const total = app.records.filter((r) => showRegistrations || !REGISTRATIONS.has(r.event.type)).length;
  $("#feed-more").hidden = total <= shown.length;
  $("#feed").dataset.position = String(app.lastPosition);
}

function renderDetail() {
  const id = app.selectedPlace;
  const body = $("#place-detail-body");
  if (!id) return;
  const p = app.states.territory?.places.find((x) => x.place === id);
  const place = p || app.places.get(id);
  $("#place-detail-hint").hidden = true;
  if (!place) {
    body.replaceChildren(el("p", { class: "muted", text: `Unknown place ${id}.` }));
    return;
  }
  $("#place-detail-title").textContent = place.name;
  const facts = el("p", { class: "muted" },
    `${place.kind}, ${[place.admin1, place.country].filter(Boolean).join(", ")}`,
    typeof place.lat === "number" ? ` · ${place.lat.toFixed(3)}, ${place.lon.toFixed(3)}${place.approximate ? " (approximate)" : ""}` : "");
  const parts = [facts];
  if (p) {
    const now = p.controller
      ? el("p", { class: "controller-now" }, el("span", { class: "swatch", style: `background:${colourOf(p.controller)}`, "aria-hidden": "true" }),
        ` Held by ${p.controller_name || nameOf("actor", p.controller)} since ${p.since_text || describeDate(p.since, p.since_precision)}`)
      : el("p", { class: "controller-now" }, "No controller recorded" + (app.view.as_of ? ` as of ${app.view.as_of}` : ""));
    parts.push(now);
    if (p.contested_by && p.contested_by.length) {
      parts.push(el("p", { class: "contested" }, `Contested by ${p.contested_by.map((a) => nameOf("actor", a)).join(", ")}`));
    }
    parts.push(el("h3", { text: "History of control" }));
    if (!p.history || !p.history.length) {
      parts.push(el("p", { class: "muted", text: "No change of control recorded." }));
    } else {
      const list = el("ol", { class: "history" });
      for (const h of [...p.history].reverse()) {
        const who = h.controller_name || nameOf("actor", h.controller);
        list.append(el("li", { "data-position": h.position },
          el("div", {}, el("span", { class: "swatch", style: `background:${colourOf(h.controller)}`, "aria-hidden": "true" }),
            el("strong", { text: ` ${who}` }),
            h.from ? ` took it from ${nameOf("actor", h.from)}` : " took control",
            `, ${describeDate(h.since, h.since_precision)}`),
          sourceLine(h.sources),
          ...(h.sources || []).filter((s) => s.quote).map((s) => el("blockquote", { text: s.quote }))));
      }
      parts.push(list);
    }
  }
  const related = app.records.filter((r) => !REGISTRATIONS.has(r.event.type) && mentions(r.event, id)).reverse().slice(0, 30);
  parts.push(el("h3", { text: `Reports about ${place.name} (${related.length})` }));
  if (related.length) {
    parts.push(el("ol", { class: "feed compact" }, ...related.map(feedItem)));
  } else {
    parts.push(el("p", { class: "muted", text: "None in the log." }));
  }
  body.replaceChildren(...parts);
  body.dataset.place = id;
}

function mentions(e, place) {
  return e.place === place;
}

function selectPlace(id) {
  app.selectedPlace = id;
  if (app.map) app.map.highlight(id);
  renderDetail();
  const panel = $("#place-detail");
  panel.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- time: slider, date, known at, live

function eventDates() {
  let min = null;
  let max = null;
  for (const r of app.records) {
    const d = r.event.occurred_on;
    if (!d || REGISTRATIONS.has(r.event.type)) continue;
    if (min === null || d < min) min = d;
    if (max === null || d > max) max = d;
  }
  return min ? { min: addDays(min, -1), max } : null;
}

function renderRange() {
  const range = eventDates();
  const slider = $("#date-slider");
  if (!range) {
    slider.disabled = true;
    $("#slider-range").textContent = "no dated events yet";
    return;
  }
  app.range = range;
  slider.disabled = false;
  slider.min = "0";
  slider.max = String(daysBetween(range.min, range.max));
  $("#slider-range").textContent = `${range.min} – ${range.max}`;
  $("#as-of").min = range.min;
  syncTimeControls();
}

function syncTimeControls() {
  const slider = $("#date-slider");
  const live = app.view.as_of === null;
  $("#live").setAttribute("aria-pressed", String(live));
  $("#live").classList.toggle("on", live);
  if (app.range) {
    const at = live ? app.range.max : app.view.as_of;
    const idx = Math.max(0, Math.min(Number(slider.max), daysBetween(app.range.min, at)));
    slider.value = String(idx);
    slider.setAttribute("aria-valuetext", live ? `live (latest: ${app.range.max})` : app.view.as_of);
  }
  $("#as-of").value = app.view.as_of || "";
  $("#known-at").value = app.view.known_at || "";
  const known = app.view.known_at ? `, as known at the end of ${app.view.known_at}` : "";
  $("#view-label").textContent = live
    ? `Live: everything reported${known || " so far"}, following new reports`
    : `Replay: the situation as of ${app.view.as_of}${known}`;
  document.body.dataset.view = viewLabel();
}

function setView(as_of, known_at = app.view.known_at) {
  if (as_of === app.view.as_of && known_at === app.view.known_at) {
    syncTimeControls();
    return;
  }
  app.view = { as_of, known_at };
  syncTimeControls();
  resubscribeProjections();
  markDirty("feed");
}

let sliderTimer = null;

function setupTimeControls() {
  const slider = $("#date-slider");
  slider.addEventListener("input", () => {
    if (!app.range) return;
    const day = addDays(app.range.min, Number(slider.value));
    $("#as-of").value = day;
    slider.setAttribute("aria-valuetext", day);
    clearTimeout(sliderTimer);
    sliderTimer = setTimeout(() => setView(day), 120);
  });
  slider.addEventListener("change", () => {
    if (!app.range) return;
    clearTimeout(sliderTimer);
    setView(addDays(app.range.min, Number(slider.value)));
  });
  $("#as-of").addEventListener("change", (e) => {
    const value = e.target.value;
    setView(value || null);
  });
  $("#live").addEventListener("click", () => setView(null));
  $("#known-at").addEventListener("change", (e) => setView(app.view.as_of, e.target.value || null));
  $("#known-at-clear").addEventListener("click", () => setView(app.view.as_of, null));
}

// ---------------------------------------------------------------- the connection

function subscribeProjection(projection) {
  const ref = `sub-${projection}-${app.nextRef++}`;
  app.pendingSubs.set(ref, { projection, gen: app.gen[projection] });
  app.conn.send({ op: "subscribe", projection, as_of: app.view.as_of, known_at: app.view.known_at, ref });
}

function resubscribeProjections() {
  for (const p of PROJECTIONS) {
    app.gen[p] += 1;
    if (app.subs[p]) app.conn.send({ op: "unsubscribe", subscription: app.subs[p] });
    app.subs[p] = null;
    if (app.conn.isOpen) subscribeProjection(p);
  }
}

function onOpen(conn) {
  app.pendingSubs.clear();
  for (const p of PROJECTIONS) {
    app.gen[p] += 1;
    app.subs[p] = null;
  }
  app.eventsSub = null;
  if (app.token) {
    conn.request({ op: "auth", token: app.token }).catch((err) => {
      if (err.code === "unauthorized") {
        // the server's token changed: forget ours, and ask again at the next append
        app.token = null;
        storeToken(null);
      }
    });
  }
  conn.request({ op: "catalog" }).then(applyCatalog).catch(() => loadCatalogOverHttp());
  app.eventsRef = `events-${app.nextRef++}`;
  conn.send({ op: "subscribe", stream: "events", after: app.lastPosition, ref: app.eventsRef });
  for (const p of PROJECTIONS) subscribeProjection(p);
}

async function loadCatalogOverHttp() {
  try {
    const response = await fetch("/api/catalog");
    if (response.ok) applyCatalog(await response.json());
  } catch {
    // the events stream's registrations fill the catalog too
  }
}

function onMessage(m) {
  switch (m.type) {
    case "subscribed":
      if (m.ref === app.eventsRef) {
        app.eventsSub = m.subscription;
      } else if (app.pendingSubs.has(m.ref)) {
        const { projection, gen } = app.pendingSubs.get(m.ref);
        app.pendingSubs.delete(m.ref);
        if (gen === app.gen[projection]) app.subs[projection] = m.subscription;
        else app.conn.send({ op: "unsubscribe", subscription: m.subscription }); // superseded meanwhile
      }
      break;
    case "event":
      if (m.subscription === app.eventsSub) addRecord(m);
      break;
    case "caught_up":
      if (m.subscription === app.eventsSub) {
        app.caughtUp = true;
        if (app.catalogPending) {
          app.catalogPending = false;
          catalogChanged();
        }
        markDirty("feed", "range");
      }
      break;
    case "snapshot":
    case "update": {
      const projection = PROJECTIONS.find((p) => app.subs[p] === m.subscription);
      if (!projection) break; // an old subscription's last words
      if (m.type === "snapshot") app.states[projection] = m.state;
      else app.states[projection] = applyUpdate(projection, app.states[projection], m);
      markDirty(projection);
      break;
    }
    case "error":
      if (app.pendingSubs.has(m.ref)) {
        const { projection } = app.pendingSubs.get(m.ref);
        app.pendingSubs.delete(m.ref);
        $("#view-label").textContent = `Could not show ${projection}: ${m.message}`;
      } else if (m.ref === app.eventsRef) {
        console.warn("tracker: the events subscription was refused:", m.message);
      }
      break;
    default:
      break;
  }
}

function applyUpdate(projection, state, m) {
  if (!state) return state;
  const keyFields = m.key || KEYS[projection];
  const key = (e) => JSON.stringify(keyFields.map((f) => e[f] ?? null));
  const collection = COLLECTION[projection];
  const entries = new Map(state[collection].map((e) => [key(e), e]));
  for (const r of m.removed || []) entries.delete(key(r));
  for (const e of m.changed || []) entries.set(key(e), e);
  const sorted = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  return { ...state, position: m.position, [collection]: sorted };
}

function addRecord(m) {
  if (m.position <= app.lastPosition) return; // already held: a resumed stream never doubles
  const record = { position: m.position, recorded_at: m.recorded_at, event: m.event };
  app.records.push(record);
  app.lastPosition = m.position;
  const e = m.event;
  if (e.id) app.byId.set(e.id, record);
  if (e.type === "EventRetracted") app.retracted.add(e.retracts);
  if (register(e)) {
    if (app.caughtUp) catalogChanged();
    else app.catalogPending = true;
  }
  if (app.caughtUp) markDirty("feed", "range");
}

function onStatus(state, detail) {
  const box = $("#connection");
  box.dataset.state = state;
  const text = $("#connection-text");
  const again = $("#reconnect");
  if (state === "open") {
    text.textContent = "Connected: live updates";
    again.hidden = true;
  } else if (state === "connecting") {
    text.textContent = `Connecting…${detail ? ` (${detail})` : ""}`;
    again.hidden = true;
  } else {
    const secs = Math.max(1, Math.round(detail.retryIn / 1000));
    text.textContent = `Disconnected${detail.reason ? ` (${detail.reason})` : ""}; retrying in ${secs} s`;
    again.hidden = false;
  }
}

// ---------------------------------------------------------------- appending, with the write token

async function appendEvent(event) {
  try {
    return await app.conn.request({ op: "append", events: [event] });
  } catch (err) {
    if (err.code !== "unauthorized") throw err;
    app.token = null;
    storeToken(null);
    await askForToken(err.message);
    return await app.conn.request({ op: "append", events: [event] });
  }
}

function askForToken(reason) {
  const box = $("#token-box");
  box.hidden = false;
  $("#token-error").textContent = "";
  $("#token-prompt").textContent = "This server needs its write token to add reports. It is kept for this browser session only.";
  $("#form-status").textContent = "Waiting for the write token…";
  $("#f-token").focus();
  return new Promise((resolve, reject) => {
    app.tokenWaiter = { resolve, reject, reason };
  });
}

async function submitToken() {
  const input = $("#f-token");
  const token = input.value.trim();
  if (!token) {
    $("#token-error").textContent = "Enter the token.";
    return;
  }
  try {
    await app.conn.request({ op: "auth", token });
  } catch (err) {
    $("#token-error").textContent = err.code === "unauthorized"
      ? "The server refused this token. Check it and try again."
      : `Could not check the token: ${err.message}`;
    input.select();
    return;
  }
  app.token = token;
  storeToken(token);
  input.value = "";
  $("#token-box").hidden = true;
  const waiter = app.tokenWaiter;
  app.tokenWaiter = null;
  if (waiter) waiter.resolve();
}

function cancelToken() {
  $("#token-box").hidden = true;
  const waiter = app.tokenWaiter;
  app.tokenWaiter = null;
  if (waiter) {
    const err = new Error("no write token given");
    err.code = "unauthorized";
    waiter.reject(err);
  }
}

function setupToken() {
  $("#token-submit").addEventListener("click", submitToken);
  $("#token-cancel").addEventListener("click", cancelToken);
  $("#f-token").addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      submitToken();
    } else if (e.key === "Escape") {
      cancelToken();
    }
  });
}

// ---------------------------------------------------------------- start

function start() {
  try {
    app.map = new PlaceMap($("#map"), selectPlace);
  } catch (err) {
    $("#map").textContent = `The map could not be drawn (${err.message}); the tables below still work.`;
  }
  setupTimeControls();
  setupToken();
  $("#feed-registrations").addEventListener("change", () => markDirty("feed"));
  $("#feed-more").addEventListener("click", () => {
    app.feedLimit += FEED_PAGE;
    markDirty("feed");
  });
  $("#reconnect").addEventListener("click", () => app.conn.retryNow());
  new ReportForm($("#report-form"), appendEvent);
  syncTimeControls();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  app.conn = new Connection(`${scheme}://${location.host}/ws`, { onOpen, onMessage, onStatus });
  app.conn.start();
  window.addEventListener("pagehide", () => app.conn.stop());
  window.tracker = app; // for the curious, from the browser console
}

start();
