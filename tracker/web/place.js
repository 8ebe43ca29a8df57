// The place panel: who holds the selected place, since when, the facts about it still pending
// at the date shown, its history of control with sources and quotes, and the reports about it
// that the view's clocks admit (known at "known at", recorded by "recorded at"; the others are
// left out, and the panel says how many).

import { el } from "./dom.js";
import { feedItem, hiddenNote, sourceLine } from "./feed.js";
import { placeRecords, projectionState } from "./state.js";
import { swatch } from "./tables.js";

const $ = (sel) => document.querySelector(sel);
const REPORTS_SHOWN = 30;

export function renderPlace(state, look, id) {
  if (!id) return;
  const body = $("#place-detail-body");
  const territory = projectionState(state, "territory");
  const p = territory?.places.find((x) => x.place === id);
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
  if (p) parts.push(...control(look, p, territory));
  const { shown, total, hidden } = placeRecords(state, id, { limit: REPORTS_SHOWN });
  parts.push(el("h3", { text: `Reports about ${place.name} (${total})` }));
  parts.push(shown.length ? el("ol", { class: "feed compact" }, ...shown.map((r) => feedItem(state, r, look)))
    : el("p", { class: "muted", text: hidden ? "None known at this view's clocks." : "None in the log." }));
  if (hidden) parts.push(el("p", { class: "muted hidden-note", text: hiddenNote(state, hidden) }));
  body.replaceChildren(...parts);
  body.dataset.place = id;
  body.dataset.reports = String(total);
  body.dataset.hidden = String(hidden);
}

function control(look, p, territory) {
  const at = ` as of ${territory.as_of}`;
  const parts = [p.controller
    ? el("p", { class: "controller-now" }, swatch(look.colourOf(p.controller)),
      ` Held by ${p.controller_name || look.nameOf("actor", p.controller)}, captured ${p.since_text}${at}`)
    : el("p", { class: "controller-now" }, `No controller recorded${at}`)];
  if (p.contested_by && p.contested_by.length) {
    parts.push(el("p", { class: "contested" }, `Contested by ${p.contested_by.map((a) => look.nameOf("actor", a)).join(", ")}`));
  }
  if (p.pending_text && p.pending_text.length) {
    parts.push(el("h3", { text: "Pending at this date" }),
      el("p", { class: "muted", text: "Facts whose window holds the date shown: they may or may not have happened yet." }),
      el("ul", { class: "pending-list" }, ...p.pending_text.map((text) => el("li", { class: "pending", text }))));
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
        `, ${h.since_text}`, claim(h.claim_status)),
      sourceLine(h.sources),
      ...(h.sources || []).filter((s) => s.quote).map((s) => el("blockquote", { text: s.quote }))));
  }
  parts.push(list);
  return parts;
}

function claim(status) {
  if (status === "reported") return " (reportedly)";
  if (status === "claimed") return " (claimed)";
  return "";
}
