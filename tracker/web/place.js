// The place panel: who holds the selected place, since when, the facts about it still pending
// at the date shown, its history of control with sources and quotes, and the recent reports
// about it that the view's clocks admit.
//
// A state entry carries the place's current holding only; its history comes from the server's
// `history` op (state.js asks for it when a place is selected or the view changes, a page at a
// time: "Show earlier" asks for the next). The reports listed are those among the events the
// page holds (the log's tail), said so when the page does not hold the whole log.

import { el } from "./dom.js";
import { feedItem, hiddenNote, sourceLine, summaryText } from "./feed.js";
import { typeLabel } from "./format.js";
import { holdsWholeLog, placeRecords, projectionState } from "./state.js";
import { swatch } from "./tables.js";

const $ = (sel) => document.querySelector(sel);
const REPORTS_SHOWN = 30;
const STATUS = { pending: "pending at this date", retracted: "retracted" };

/** Draw the panel for place `id`; `onMore()` asks for the next page of its history. */
export function renderPlace(state, look, id, onMore) {
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
  parts.push(...history(state, look, id, onMore));
  const { shown, total, hidden } = placeRecords(state, id, { limit: REPORTS_SHOWN });
  const whole = holdsWholeLog(state);
  parts.push(el("h3", { text: `${whole ? "Reports" : "Recent reports"} about ${place.name} (${total})` }));
  if (!whole) {
    parts.push(el("p", { class: "muted", text: `Among the latest ${state.log.records.length.toLocaleString("en-US")} `
      + "events the page holds; its history of control above is the server's, complete." }));
  }
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
  if (p.controller && p.from) {
    parts.push(el("p", { class: "muted taken-from" },
      `Taken from ${p.from_name || look.nameOf("actor", p.from)}${claim(p.claim_status)}`));
  }
  if (p.controller && p.sources && p.sources.length) parts.push(sourceLine(p.sources));
  if (p.contested_by && p.contested_by.length) {
    parts.push(el("p", { class: "contested" }, `Contested by ${p.contested_by.map((a) => look.nameOf("actor", a)).join(", ")}`));
  }
  if (p.pending_text && p.pending_text.length) {
    parts.push(el("h3", { text: "Pending at this date" }),
      el("p", { class: "muted", text: "Facts whose window holds the date shown: they may or may not have happened yet." }),
      el("ul", { class: "pending-list" }, ...p.pending_text.map((text) => el("li", { class: "pending", text }))));
  }
  return parts;
}

/** The place's history from the server's `history` answers held in `state.place`. */
function history(state, look, id, onMore) {
  const held = state.place;
  const parts = [el("h3", { text: "History of control" })];
  if (held.id !== id) return parts;
  if (held.problem) parts.push(el("p", { class: "error-text", text: `The history could not be read: ${held.problem}` }));
  if (!held.entries.length) {
    parts.push(el("p", { class: "muted history-status", text: held.loading ? "Loading…" : "No change of control recorded." }));
    return parts;
  }
  const list = el("ol", { class: "history", "data-place": id });
  for (const h of held.entries) {
    const e = h.event;
    const holder = e.captured_by || e.attacker || null;
    list.append(el("li", { class: `history-item status-${h.status}`, "data-position": h.position, "data-status": h.status,
      "data-type": e.type },
    el("div", { class: "feed-head" },
      el("time", { datetime: e.occurred_from || e.occurred_on || "", class: "when", text: h.when }),
      el("span", { class: "type", text: typeLabel(e.type) }),
      STATUS[h.status] ? el("span", { class: "badge", text: STATUS[h.status] }) : null,
      el("span", { class: "pos muted", title: "log position", text: `#${h.position}` })),
    el("div", { class: "summary" }, holder ? swatch(look.colourOf(holder)) : null,
      ` ${summaryText({ parts: h.summary_parts || [h.summary] }, look.nameOf)}${claim(e.claim_status)}`),
    sourceLine(e.sources),
    ...(e.sources || []).filter((s) => s.quote).map((s) => el("blockquote", { text: s.quote })),
    h.recorded_by ? el("div", { class: "muted recorded-by", text: `recorded by ${h.recorded_by}` }) : null));
  }
  parts.push(list);
  if (held.nextBefore !== null) {
    const more = el("button", { type: "button", class: "small history-more", text: held.loading ? "Loading…" : "Show earlier" });
    if (held.loading) more.disabled = true;
    more.addEventListener("click", () => onMore());
    parts.push(more);
  }
  return parts;
}

function claim(status) {
  if (status === "reported") return " (reportedly)";
  if (status === "claimed") return " (claimed)";
  return "";
}
