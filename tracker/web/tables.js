// The tables: places (territory), materiel and resources (arsenal), deployments. Each draws
// one projection's state; `look` gives names, colours and the view's label (app.js). Dates are
// the server's phrases (`since_text`); an entry's pending facts (`pending_text`: their window
// holds the date shown) are said apart, hatched, and an entry with pending facts only is listed.

import { el } from "./dom.js";
import { formatCount, formatCounts, formatNumber } from "./format.js";

const $ = (sel) => document.querySelector(sel);

// Built for thousands of entries: a table shows its first ROWS_SHOWN rows (a last row offers
// the next ones), and a row is built once per entry as drawn: an entry that comes back the same
// (most of them, when the date moves by a little) reuses its row instead of building it again.
const ROWS_SHOWN = 100;
const shownRows = { places: ROWS_SHOWN, deployments: ROWS_SHOWN, arsenal: ROWS_SHOWN, resources: ROWS_SHOWN };
const rowCache = { places: new Map(), deployments: new Map(), arsenal: new Map(), resources: new Map() };
const PART = { places: "territory", deployments: "deployments", arsenal: "arsenal", resources: "arsenal" };

/** The rows for `entries` (at most `shownRows[table]`, then a "show more" row), built by
 *  `build(entry)` unless the cache holds one drawn from the same `signature(entry)`. */
function cachedRows(table, entries, signature, build, cols, look) {
  const limit = shownRows[table];
  const cache = rowCache[table];
  const next = new Map();
  const rows = [];
  for (const entry of entries.length > limit ? entries.slice(0, limit) : entries) {
    const key = signature(entry);
    const built = (!next.has(key) && cache.get(key)) || build(entry); // a row is in one place only: twins build anew
    next.set(key, built);
    rows.push(...built);
  }
  rowCache[table] = next;
  if (entries.length > limit) {
    const more = el("button", { type: "button", class: "small", text: `Show ${Math.min(ROWS_SHOWN, entries.length - limit)} more` });
    more.addEventListener("click", () => {
      shownRows[table] += ROWS_SHOWN;
      look.redraw(PART[table]);
    });
    rows.push(el("tr", { class: "more-row" }, el("td", { colspan: cols, class: "muted" },
      `Showing ${limit.toLocaleString("en-US")} of ${entries.length.toLocaleString("en-US")}. `, more)));
  }
  return rows;
}

export function swatch(colour) {
  return el("span", { class: "swatch", style: `background:${colour}`, "aria-hidden": "true" });
}

function empty(cols, text) {
  return el("tr", { class: "empty" }, el("td", { colspan: cols, class: "muted", text }));
}

/** The pending facts of an entry, one line each ("possibly captured by ... between ..."). */
export function pendingLines(entry) {
  return (entry.pending_text || []).map((text) => el("div", { class: "pending", text }));
}

/** A row saying an entry's pending facts: `head` cells, then the lines across `cols` columns. */
function pendingRow(attrs, head, cols, entry) {
  return el("tr", { ...attrs, class: "pending-row" }, ...head, el("td", { colspan: cols }, ...pendingLines(entry)));
}

/** The places table; `onSelect(place)` when a place's name is clicked. */
export function renderPlaces(state, look, onSelect) {
  const places = state.places;
  const signature = (p) => JSON.stringify([p, look.colourOf(p.controller), look.nameOf("actor", p.controller)]);
  $("#places-table tbody").replaceChildren(...cachedRows("places", places, signature, (p) => {
    const button = el("button", { type: "button", class: "linklike", "data-place": p.place, text: p.name });
    button.addEventListener("click", () => onSelect(p.place));
    const controller = p.controller
      ? el("span", {}, swatch(look.colourOf(p.controller)), " " + (p.controller_name || look.nameOf("actor", p.controller)))
      : el("span", { class: "muted", text: "no controller recorded" });
    return [el("tr", { "data-place": p.place, "data-controller": p.controller || "",
      "data-pending": String((p.pending_text || []).length) },
      el("td", {}, button, el("span", { class: "muted kind", text: ` ${p.kind}` })),
      el("td", { class: "controller" }, controller, ...pendingLines(p)),
      el("td", { text: p.controller ? p.since_text : "" }),
      el("td", { text: (p.contested_by || []).map((a) => look.nameOf("actor", a)).join(", ") }))];
  }, 4, look));
  $("#places-count").textContent = String(places.length);
  $("#places-table").dataset.asOf = look.viewLabel;
}

export function renderArsenal(state, look) {
  const held = []; // {a, name, h} per holding, {a, name, pending: true} after an actor's holdings
  const resources = []; // {a, name, r}
  for (const a of state.actors) {
    const name = a.name || look.nameOf("actor", a.actor);
    for (const h of a.holdings || []) held.push({ a, name, h });
    if (a.pending_text && a.pending_text.length) held.push({ a, name, pending: true });
    for (const r of a.resources || []) resources.push({ a, name, r });
  }
  const rows = cachedRows("arsenal", held, ({ a, name, h }) => JSON.stringify([a.actor, name, h ?? [a.pending_text, (a.holdings || []).length]]),
    ({ a, name, h }) => [h ? holdingRow(a, name, h) // pending: alone when the actor has none settled
      : pendingRow({ "data-actor": a.actor, "data-pending": String(a.pending_text.length) },
        [el("th", { scope: "row", text: (a.holdings || []).length ? "" : name })], 5, a)], 6, look);
  const resourceRows = cachedRows("resources", resources, ({ a, name, r }) => JSON.stringify([a.actor, name, r]),
    ({ a, name, r }) => [resourceRow(a, name, r, look)], 6, look);
  $("#arsenal-table tbody").replaceChildren(...(rows.length ? rows : [empty(6, "No materiel recorded at this date.")]));
  $("#resources-table tbody").replaceChildren(...(resourceRows.length ? resourceRows
    : [empty(6, "No resources recorded at this date.")]));
  $("#arsenal-table").dataset.asOf = look.viewLabel;
}

function holdingRow(a, name, h) {
  return el("tr", { "data-actor": a.actor, "data-asset": h.asset },
    el("th", { scope: "row", text: name }),
    el("td", { text: h.asset }),
    el("td", { class: "num", text: formatCount(h.quantity, h.known_minimum) }),
    el("td", { text: h.unit || "" }),
    el("td", { class: "date", text: h.since_text || "" }),
    el("td", { class: "num", text: h.reports ?? "" }));
}

function resourceRow(a, name, r, look) {
  const share = r.share_percent === null || r.share_percent === undefined ? "unknown"
    : `${r.at_least ? "≥ " : ""}${r.share_percent}%`;
  const output = r.output === null || r.output === undefined ? "unknown"
    : `${r.at_least ? "≥ " : ""}${formatNumber(r.output)}${r.output_unit ? " " + r.output_unit : ""}`;
  return el("tr", { "data-actor": a.actor, "data-resource": r.resource },
    el("th", { scope: "row", text: name }),
    el("td", { text: r.resource }),
    el("td", { text: r.place_name || (r.place ? look.nameOf("place", r.place) : "") }),
    el("td", { class: "num", text: share }),
    el("td", { class: "num", text: output }),
    el("td", { class: "date", text: r.since_text || "" }));
}

export function renderDeployments(state, look) {
  const signature = (d) => JSON.stringify([d, look.nameOf("actor", d.actor), look.nameOf("place", d.place)]);
  const rows = cachedRows("deployments", state.deployments, signature, (d) => deploymentRows(d, look), 7, look);
  $("#deployments-table tbody").replaceChildren(...(rows.length ? rows : [empty(7, "No deployments recorded at this date.")]));
  $("#deployments-table").dataset.asOf = look.viewLabel;
}

function deploymentRows(d, look) {
  const rows = [];
  const attrs = { "data-actor": d.actor, "data-place": d.place };
  const head = () => [el("th", { scope: "row", text: d.actor_name || look.nameOf("actor", d.actor) }),
    el("td", { text: d.place_name || look.nameOf("place", d.place) })];
  const pending = (d.pending_text || []).length;
  if (d.since === null && pending) { // pending facts only: nothing settled to count
    rows.push(pendingRow({ ...attrs, "data-pending": String(pending) }, head(), 5, d));
    return rows;
  }
  rows.push(el("tr", attrs, ...head(),
    el("td", { class: "num personnel", text: formatCount(d.personnel, d.personnel_known_minimum) }),
    el("td", { class: "equipment", text: formatCounts(d.equipment) }),
    el("td", { class: "units", text: formatCounts(d.units) }),
    el("td", { class: "date", text: d.since_text || "" }),
    el("td", { class: "purpose", text: (d.purposes || []).join("; ") })));
  if (pending) { // a row of its own, after the entry's (which keeps the entry's data attributes)
    rows.push(pendingRow({ "data-pending-actor": d.actor, "data-pending-place": d.place, "data-pending": String(pending) },
      [el("th", { scope: "row" }), el("td")], 5, d));
  }
  return rows;
}

/** Mark the rows of what changed since the chosen date (changes.js's marks; empty sets: none). */
export function markChanged(marks) {
  const toggle = (selector, changed) => {
    for (const row of document.querySelectorAll(selector)) row.classList.toggle("changed", changed(row.dataset));
  };
  const key = (a, b) => `${a}\u0000${b}`;
  toggle("#places-table tbody tr[data-place]", (d) => marks.places.has(d.place));
  toggle("#arsenal-table tbody tr[data-asset]", (d) => marks.holdings.has(key(d.actor, d.asset)));
  toggle("#resources-table tbody tr[data-resource]", (d) => marks.resources.has(key(d.actor, d.resource)));
  toggle("#deployments-table tbody tr[data-place]", (d) => marks.deployments.has(key(d.actor, d.place)));
}
