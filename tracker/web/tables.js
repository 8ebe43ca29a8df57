// The tables: places (territory), materiel and resources (arsenal), deployments. Each draws
// one projection's state; `look` gives names, colours and the view's label (app.js). Dates are
// the server's phrases (`since_text`); an entry's pending facts (`pending_text`: their window
// holds the date shown) are said apart, hatched, and an entry with pending facts only is listed.

import { el } from "./dom.js";
import { formatCount, formatCounts, formatNumber } from "./format.js";

const $ = (sel) => document.querySelector(sel);

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
  $("#places-table tbody").replaceChildren(...places.map((p) => {
    const button = el("button", { type: "button", class: "linklike", "data-place": p.place, text: p.name });
    button.addEventListener("click", () => onSelect(p.place));
    const controller = p.controller
      ? el("span", {}, swatch(look.colourOf(p.controller)), " " + (p.controller_name || look.nameOf("actor", p.controller)))
      : el("span", { class: "muted", text: "no controller recorded" });
    return el("tr", { "data-place": p.place, "data-controller": p.controller || "",
      "data-pending": String((p.pending_text || []).length) },
      el("td", {}, button, el("span", { class: "muted kind", text: ` ${p.kind}` })),
      el("td", { class: "controller" }, controller, ...pendingLines(p)),
      el("td", { text: p.controller ? p.since_text : "" }),
      el("td", { text: (p.contested_by || []).map((a) => look.nameOf("actor", a)).join(", ") }));
  }));
  $("#places-count").textContent = String(places.length);
  $("#places-table").dataset.asOf = look.viewLabel;
}

export function renderArsenal(state, look) {
  const rows = [];
  const resources = [];
  for (const a of state.actors) {
    const name = a.name || look.nameOf("actor", a.actor);
    const holdings = a.holdings || [];
    for (const h of holdings) {
      rows.push(el("tr", { "data-actor": a.actor, "data-asset": h.asset },
        el("th", { scope: "row", text: name }),
        el("td", { text: h.asset }),
        el("td", { class: "num", text: formatCount(h.quantity, h.known_minimum) }),
        el("td", { text: h.unit || "" }),
        el("td", { class: "date", text: h.since_text || "" }),
        el("td", { class: "num", text: h.reports ?? "" })));
    }
    if (a.pending_text && a.pending_text.length) { // after its holdings; alone when it has none settled
      rows.push(pendingRow({ "data-actor": a.actor, "data-pending": String(a.pending_text.length) },
        [el("th", { scope: "row", text: holdings.length ? "" : name })], 5, a));
    }
    for (const r of a.resources || []) {
      const share = r.share_percent === null || r.share_percent === undefined ? "unknown"
        : `${r.at_least ? "≥ " : ""}${r.share_percent}%`;
      const output = r.output === null || r.output === undefined ? "unknown"
        : `${r.at_least ? "≥ " : ""}${formatNumber(r.output)}${r.output_unit ? " " + r.output_unit : ""}`;
      resources.push(el("tr", { "data-actor": a.actor, "data-resource": r.resource },
        el("th", { scope: "row", text: name }),
        el("td", { text: r.resource }),
        el("td", { text: r.place_name || (r.place ? look.nameOf("place", r.place) : "") }),
        el("td", { class: "num", text: share }),
        el("td", { class: "num", text: output }),
        el("td", { class: "date", text: r.since_text || "" })));
    }
  }
  $("#arsenal-table tbody").replaceChildren(...(rows.length ? rows : [empty(6, "No materiel recorded at this date.")]));
  $("#resources-table tbody").replaceChildren(...(resources.length ? resources : [empty(6, "No resources recorded at this date.")]));
  $("#arsenal-table").dataset.asOf = look.viewLabel;
}

export function renderDeployments(state, look) {
  const rows = [];
  for (const d of state.deployments) {
    const attrs = { "data-actor": d.actor, "data-place": d.place };
    const head = () => [el("th", { scope: "row", text: d.actor_name || look.nameOf("actor", d.actor) }),
      el("td", { text: d.place_name || look.nameOf("place", d.place) })];
    const pending = (d.pending_text || []).length;
    if (d.since === null && pending) { // pending facts only: nothing settled to count
      rows.push(pendingRow({ ...attrs, "data-pending": String(pending) }, head(), 5, d));
      continue;
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
  }
  $("#deployments-table tbody").replaceChildren(...(rows.length ? rows : [empty(7, "No deployments recorded at this date.")]));
  $("#deployments-table").dataset.asOf = look.viewLabel;
}
