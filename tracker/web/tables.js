// The tables: places (territory), materiel and resources (arsenal), deployments. Each draws
// one projection's state; `look` gives names, colours and the view's label (app.js).

import { el } from "./dom.js";
import { describeDate, formatCount, formatCounts, formatNumber } from "./format.js";

const $ = (sel) => document.querySelector(sel);

export function swatch(colour) {
  return el("span", { class: "swatch", style: `background:${colour}`, "aria-hidden": "true" });
}

function empty(cols, text) {
  return el("tr", { class: "empty" }, el("td", { colspan: cols, class: "muted", text }));
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
    const pending = (p.pending_text || []).map((text) => el("div", { class: "muted pending", text }));
    return el("tr", { "data-place": p.place, "data-controller": p.controller || "" },
      el("td", {}, button, el("span", { class: "muted kind", text: ` ${p.kind}` })),
      el("td", { class: "controller" }, controller, ...pending),
      el("td", { text: p.controller ? (p.since_text || describeDate(p.since, p.since_precision)) : "" }),
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
        el("td", { text: r.place_name || (r.place ? look.nameOf("place", r.place) : "") }),
        el("td", { class: "num", text: share }),
        el("td", { class: "num", text: output }),
        el("td", { class: "date", text: r.since ? describeDate(r.since, r.since_precision) : "" })));
    }
  }
  $("#arsenal-table tbody").replaceChildren(...(rows.length ? rows : [empty(6, "No materiel recorded at this date.")]));
  $("#resources-table tbody").replaceChildren(...(resources.length ? resources : [empty(6, "No resources recorded at this date.")]));
  $("#arsenal-table").dataset.asOf = look.viewLabel;
}

export function renderDeployments(state, look) {
  const rows = state.deployments.map((d) => el("tr", { "data-actor": d.actor, "data-place": d.place },
    el("th", { scope: "row", text: d.actor_name || look.nameOf("actor", d.actor) }),
    el("td", { text: d.place_name || look.nameOf("place", d.place) }),
    el("td", { class: "num personnel", text: formatCount(d.personnel, d.personnel_known_minimum) }),
    el("td", { class: "equipment", text: formatCounts(d.equipment) }),
    el("td", { class: "units", text: formatCounts(d.units) }),
    el("td", { class: "date", text: d.since ? describeDate(d.since, d.since_precision) : "" }),
    el("td", { class: "purpose", text: (d.purposes || []).join("; ") })));
  $("#deployments-table tbody").replaceChildren(...(rows.length ? rows : [empty(7, "No deployments recorded at this date.")]));
  $("#deployments-table").dataset.asOf = look.viewLabel;
}
