// The place panel: who holds the selected place, since when, its history of control with
// sources and quotes, and the reports about it.

import { el } from "./dom.js";
import { describeDate } from "./format.js";
import { feedItem, sourceLine } from "./feed.js";
import { feedRecords, projectionState } from "./state.js";
import { swatch } from "./tables.js";

const $ = (sel) => document.querySelector(sel);

export function renderPlace(state, look, id) {
  if (!id) return;
  const body = $("#place-detail-body");
  const p = projectionState(state, "territory")?.places.find((x) => x.place === id);
  const place = p || state.catalog.places[id];
  $("#place-detail-hint").hidden = true;
  if (!place) {
    body.replaceChildren(el("p", { class: "muted", text: `Unknown place ${id}.` }));
    return;
  }
  $("#place-detail-title").textContent = place.name;
  const parts = [el("p", { class: "muted" },
    `${place.kind}, ${[place.admin1, place.country].filter(Boolean).join(", ")}`,
    typeof place.lat === "number" ? ` · ${place.lat.toFixed(3)}, ${place.lon.toFixed(3)}${place.approximate ? " (approximate)" : ""}` : "")];
  if (p) parts.push(...control(state, look, p));
  const related = feedRecords(state).shown.filter((r) => r.event.place === id).slice(0, 30);
  parts.push(el("h3", { text: `Reports about ${place.name} (${related.length})` }));
  parts.push(related.length ? el("ol", { class: "feed compact" }, ...related.map((r) => feedItem(state, r, look)))
    : el("p", { class: "muted", text: "None in the log." }));
  body.replaceChildren(...parts);
  body.dataset.place = id;
}

function control(state, look, p) {
  const parts = [p.controller
    ? el("p", { class: "controller-now" }, swatch(look.colourOf(p.controller)),
      ` Held by ${p.controller_name || look.nameOf("actor", p.controller)} since ${p.since_text || describeDate(p.since, p.since_precision)}`)
    : el("p", { class: "controller-now" }, "No controller recorded" + (state.view.as_of ? ` as of ${state.view.as_of}` : ""))];
  if (p.contested_by && p.contested_by.length) {
    parts.push(el("p", { class: "contested" }, `Contested by ${p.contested_by.map((a) => look.nameOf("actor", a)).join(", ")}`));
  }
  parts.push(el("h3", { text: "History of control" }));
  if (!p.history || !p.history.length) {
    parts.push(el("p", { class: "muted", text: "No change of control recorded." }));
    return parts;
  }
  const list = el("ol", { class: "history" });
  for (const h of [...p.history].reverse()) {
    list.append(el("li", { "data-position": h.position },
      el("div", {}, swatch(look.colourOf(h.controller)),
        el("strong", { text: ` ${h.controller_name || look.nameOf("actor", h.controller)}` }),
        h.from ? ` took it from ${look.nameOf("actor", h.from)}` : " took control",
        `, ${describeDate(h.since, h.since_precision)}`),
      sourceLine(h.sources),
      ...(h.sources || []).filter((s) => s.quote).map((s) => el("blockquote", { text: s.quote }))));
  }
  parts.push(list);
  return parts;
}
