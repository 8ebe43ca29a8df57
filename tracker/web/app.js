// The dashboard's wiring: the connection (connection.js) feeds the state (state.js, a pure
// reducer); each step's requests are sent and the parts it changed are drawn again, coalesced,
// by the views: the map (map.js), the tables (tables.js), the feed (feed.js), the place panel
// (place.js) and the time controls (timebar.js); beside them, what changed since a chosen date
// (changes.js), the situation over time (situation.js) and the directory of actors and places
// (directory.js), read over HTTP. The add-report form (form.js) is built from
// the server's JSON Schema and appends over the same connection, asking for the write token
// (token.js) when the server wants one.

import { Changes, noChanges } from "./changes.js";
import { Connection } from "./connection.js";
import { renderDirectory } from "./directory.js";
import { el } from "./dom.js";
import { renderFeed } from "./feed.js";
import { ReportForm } from "./form.js";
import { UNCONTROLLED, assignColours } from "./format.js";
import { PlaceMap } from "./map.js";
import { renderPlace } from "./place.js";
import { describeSchema } from "./schema.js";
import { eventDates, feedRecords, headPosition, initialState, nameOf, projectionState, shownAsOf, step } from "./state.js";
import { SituationChart } from "./situation.js";
import { markChanged, renderArsenal, renderDeployments, renderPlaces } from "./tables.js";
import { TimeBar } from "./timebar.js";
import { TokenPrompt, storeToken, storedToken } from "./token.js";

const FEED_PAGE = 100;
const OLDER_PAGE = 200;
const $ = (sel) => document.querySelector(sel);

const page = {
  state: initialState(),
  conn: null,
  map: null,
  timebar: null,
  changes: null, // the "Changes since" control (changes.js)
  marks: noChanges(), // what changed since its date, marked on the map and in the tables
  chart: null, // the situation over time (situation.js)
  tokens: null,
  colours: {},
  feedLimit: FEED_PAGE,
  dirty: new Set(),
  renderTimer: null,
  renders: [], // the last drawings: {parts, ms}
};

// ---------------------------------------------------------------- state in, requests out

function dispatch(input) {
  const { state, send, changed } = step(page.state, input);
  page.state = state;
  for (const message of send) {
    if (message.fetch === "head") loadHead();
    else if (message.fetch === "older") loadOlder();
    else if (message.fetch) loadCatalogOverHttp(message.fetch);
    else page.conn.send(message);
  }
  if (changed.length) markDirty(...changed);
}

async function loadCatalogOverHttp(url) {
  try {
    const response = await fetch(url, authHeaders());
    if (response.ok) dispatch({ type: "catalog", ...(await response.json()) });
  } catch {
    // the next registration or reconnection asks again
  }
}

/** A JSON read over HTTP (with the token, if any), abortable; an error reply throws its message. */
async function getJson(url, signal) {
  const response = await fetch(url, { ...authHeaders(), signal });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function authHeaders() {
  const token = storedToken();
  return token ? { headers: { Authorization: `Bearer ${token}` } } : {};
}

/** The log's head (/healthz, which needs no token), so that the feed subscribes near it: at a
 *  million events the page asks for the tail, not the whole log. */
async function loadHead() {
  let position = null;
  try {
    const response = await fetch("/healthz");
    const body = await response.json();
    position = body.head ?? body.position ?? null; // a server catching up says its store's head
  } catch {
    // the feed then starts from the beginning: slower on a big log, still right
  }
  dispatch({ type: "head", position });
}

/** The page of the log before the oldest event held, for "Show older events". */
let loadingOlder = false;
let olderAgain = false; // asked for while a page was loading: load the next one after it
async function loadOlder() {
  const first = page.state.log.first;
  if (first === null || first <= 1) return;
  if (loadingOlder) {
    olderAgain = true;
    return;
  }
  loadingOlder = true;
  let loaded = false;
  try {
    const after = Math.max(0, first - 1 - OLDER_PAGE);
    const response = await fetch(`/api/events?after=${after}&limit=${first - 1 - after}`, authHeaders());
    if (response.ok) {
      dispatch({ type: "older", events: (await response.json()).events });
      loaded = true;
    }
  } catch {
    // the button stays: the reader may try again
  } finally {
    loadingOlder = false;
  }
  const again = olderAgain && loaded;
  olderAgain = false;
  if (again && feedWantsOlder()) loadOlder();
}

/** Whether the feed holds fewer events than the reader asked to see: then the page before is wanted. */
function feedWantsOlder() {
  return feedRecords(page.state, { registrations: $("#feed-registrations").checked }).total < page.feedLimit;
}

// Reads refused for want of a token (a server whose store has tokens, without --public-read):
// ask once, then subscribe again with it.
let askingToRead = false;

function onMessage(input) {
  if (input.type === "error" && input.code === "unauthorized" && input.details?.need === "reader" && !askingToRead) {
    askingToRead = true;
    storeToken(null);
    page.tokens.ask("read").then(() => dispatch({ type: "connection-open" }), () => {})
      .finally(() => { askingToRead = false; });
  }
  dispatch(input);
}

function onOpen(conn) {
  const token = storedToken();
  if (token) {
    conn.request({ op: "auth", token }).catch((err) => {
      if (err.code === "unauthorized") storeToken(null); // the server's token changed: ask at the next append
    });
  }
  dispatch({ type: "connection-open" });
}

function onStatus(state, detail) {
  if (state !== "open") dispatch({ type: "connection-closed" });
  $("#connection").dataset.state = state;
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

async function appendEvent(event, key) {
  const request = { op: "append", events: [event], idempotency_key: key };
  try {
    return await page.conn.request(request);
  } catch (err) {
    if (err.code !== "unauthorized") throw err;
    storeToken(null);
    await page.tokens.ask();
    return await page.conn.request(request);
  }
}

// ---------------------------------------------------------------- drawing, coalesced

function markDirty(...parts) {
  for (const p of parts) page.dirty.add(p);
  if (page.renderTimer === null) page.renderTimer = setTimeout(render, 20);
}

function colourOf(actor) {
  if (!actor) return UNCONTROLLED;
  if (!page.colours[actor]) {
    page.colours = assignColours([...Object.keys(page.state.catalog.actors), actor, ...Object.keys(page.colours)]);
  }
  return page.colours[actor];
}

function look() {
  return { nameOf: (kind, id) => nameOf(page.state, kind, id), colourOf, viewLabel: page.state.view.as_of || "live",
    redraw: (part) => markDirty(part) };
}

function render() {
  page.renderTimer = null;
  const dirty = new Set(page.dirty);
  page.dirty.clear();
  const state = page.state;
  if (dirty.has("catalog")) {
    page.colours = assignColours(Object.keys(state.catalog.actors));
    fillPickers();
    for (const part of ["territory", "arsenal", "deployments", "feed", "directory"]) dirty.add(part);
    if (page.chart) page.chart.setColours(colourOfName);
  }
  const shown = look();
  const started = performance.now();
  try {
    if (dirty.has("view")) {
      page.timebar.sync(state.view);
      if (page.changes) page.changes.setView(state.view);
      if (page.chart) page.chart.setCursor(state.view.as_of);
    }
    if (dirty.has("problem") && state.problem) {
      $("#view-label").textContent = `Could not show ${state.problem.projection}: ${state.problem.message}`;
    }
    // each part labelled with the date of the state it shows (the view asked for may be newer)
    const of = (projection) => ({ ...shown, viewLabel: shownAsOf(state, projection) });
    const territory = projectionState(state, "territory");
    if (dirty.has("territory") && territory) {
      drawMap(territory, of("territory"));
      renderPlaces(territory, of("territory"), selectPlace);
      page.timebar.showClocks(territory);
      dirty.add("directory");
    }
    const arsenal = projectionState(state, "arsenal");
    if (dirty.has("arsenal") && arsenal) renderArsenal(arsenal, of("arsenal"));
    const deployments = projectionState(state, "deployments");
    if (dirty.has("deployments") && deployments) renderDeployments(deployments, of("deployments"));
    if (dirty.has("feed") && state.log.caughtUp) {
      renderFeed(state, shown, { registrations: $("#feed-registrations").checked, limit: page.feedLimit });
    }
    if (dirty.has("range")) page.timebar.setRange(eventDates(state));
    if (page.changes && dirty.has("feed") && state.log.caughtUp) page.changes.setHead(headPosition(state));
    if (page.chart && state.open && state.log.caughtUp && ["range", "view", "feed"].some((part) => dirty.has(part))) {
      page.chart.want(page.timebar.range, state.view.known_at, headPosition(state));
    }
    if (dirty.has("changes") && page.map) page.map.setChanged(page.marks.places, page.marks.on ? page.marks.answer.from : null);
    if (dirty.has("changes") || dirty.has("territory")) drawLegend(territory, shown);
    if (["changes", "territory", "arsenal", "deployments"].some((part) => dirty.has(part))) markChanged(page.marks);
    if (dirty.has("directory") && $("#directory").open) {
      renderDirectory(state.catalog, heldBy(territory), shown, selectPlace);
    }
    if (dirty.has("detail") || dirty.has("territory") || dirty.has("feed")) renderPlace(state, shown, state.place.id, moreHistory);
  } catch (err) {
    console.warn("tracker: rendering failed", err);
  }
  $("#head-position").textContent = String(headPosition(state));
  // how long each drawing took, for the curious and the benchmark (benchmarks/dashboard.py)
  page.renders.push({ parts: [...dirty].join(" "), ms: Math.round((performance.now() - started) * 10) / 10 });
  if (page.renders.length > 500) page.renders.shift();
}

function drawMap(territory, shown) {
  if (!page.map) return;
  page.map.update(territory.places, colourOf, shown.nameOf, shown.viewLabel);
}

/** A colour by actor name (the chart's series are named): the actor's whose name it is. */
function colourOfName(name) {
  const actor = Object.values(page.state.catalog.actors).find((a) => a.name === name);
  return colourOf(actor ? actor.actor : name);
}

/** Places held per actor id at the date shown. */
function heldBy(territory) {
  const held = new Map();
  for (const p of territory?.places || []) if (p.controller) held.set(p.controller, (held.get(p.controller) || 0) + 1);
  return held;
}

function drawLegend(territory, shown) {
  if (!page.map || !territory) return;
  const actors = new Set();
  for (const p of territory.places) {
    if (p.controller) actors.add(p.controller);
    for (const a of p.contested_by || []) actors.add(a);
  }
  page.map.updateLegend([...actors].sort((a, b) => shown.nameOf("actor", a).localeCompare(shown.nameOf("actor", b)))
    .map((actor) => ({ actor, name: shown.nameOf("actor", actor), colour: colourOf(actor) })));
}

function fillPickers() {
  const options = (entries) => Object.values(entries)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => el("option", { value: e.actor || e.place, label: e.name }));
  $("#actor-options").replaceChildren(...options(page.state.catalog.actors));
  $("#place-options").replaceChildren(...options(page.state.catalog.places));
}

function selectPlace(id) {
  dispatch({ type: "select", place: id });
  if (page.map) page.map.highlight(id);
  renderPlace(page.state, look(), id, moreHistory);
  $("#place-detail").scrollIntoView({ block: "nearest" });
}

function moreHistory() {
  dispatch({ type: "history-more" });
}

// ---------------------------------------------------------------- start

async function loadSchema() {
  try {
    const response = await fetch("/api/schema");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return describeSchema(await response.json());
  } catch (err) {
    $("#form-status").textContent = `The event types could not be loaded (${err.message}): reload to add reports.`;
    return { types: [], registrations: {}, precisions: [], claims: [] };
  }
}

async function start() {
  try {
    page.map = new PlaceMap($("#map"), selectPlace);
  } catch (err) {
    $("#map").textContent = `The map could not be drawn (${err.message}); the tables below still work.`;
  }
  page.timebar = new TimeBar((view) => dispatch({ type: "view", ...view }));
  page.timebar.sync(page.state.view);
  page.changes = new Changes(getJson, (marks) => {
    page.marks = marks;
    markDirty("changes");
  }, selectPlace);
  page.chart = new SituationChart(getJson, (day) => dispatch({ type: "view", ...page.state.view, as_of: day }),
    () => page.conn !== null && page.conn.isOpen);
  $("#directory").addEventListener("toggle", () => markDirty("directory"));
  $("#directory-search").addEventListener("input", () => markDirty("directory"));
  $("#feed-registrations").addEventListener("change", () => markDirty("feed"));
  $("#feed-more").addEventListener("click", () => {
    page.feedLimit += FEED_PAGE;
    // past the events held: the page before them, from the server
    if (feedWantsOlder()) loadOlder();
    markDirty("feed");
  });
  // the schema (for the form, and which event types are registrations) and the connection at
  // once: the state is drawn without waiting for the form
  const schema = loadSchema();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  page.conn = new Connection(`${scheme}://${location.host}/ws`, { onOpen, onMessage, onStatus });
  page.tokens = new TokenPrompt((token) => page.conn.request({ op: "auth", token }));
  $("#reconnect").addEventListener("click", () => page.conn.retryNow());
  page.conn.start();
  window.addEventListener("pagehide", () => page.conn.stop());
  window.tracker = page; // for the curious, from the browser console
  const described = await schema;
  dispatch({ type: "registrations", registrations: described.registrations });
  if (described.types.length) new ReportForm($("#report-form"), described, appendEvent);
}

start();
