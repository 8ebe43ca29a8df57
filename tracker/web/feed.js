// The event feed: newest first, each event's date, type, sources and the server's summary,
// its actor and place references shown by name (the message's summary_parts).

import { el } from "./dom.js";
import { describeDate, typeLabel } from "./format.js";
import { feedRecords, isRetracted, retractedBy } from "./state.js";

/** The publishers of a list of sources, linked where they have a URL. */
export function sourceLine(sources) {
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

/** The server's summary with each reference ({actor: id} or {place: id}) shown by its name. */
export function summaryText(record, nameOf) {
  return record.parts.map((p) => {
    if (typeof p === "string") return p;
    const [kind, id] = Object.entries(p)[0];
    return nameOf(kind, id);
  }).join("");
}

function feedSummary(state, record, look) {
  const target = retractedBy(state, record.event);
  if (target) return `Retracted #${target.position} (${summaryText(target, look.nameOf)}): ${record.event.reason}`;
  return summaryText(record, look.nameOf);
}

export function feedItem(state, record, look) {
  const e = record.event;
  const asOf = state.view.as_of;
  const after = asOf && e.occurred_on && e.occurred_on > asOf;
  const retracted = isRetracted(state, e);
  const date = e.occurred_on ? describeDate(e.occurred_on, e.precision)
    : e.reported_on ? `reported ${e.reported_on}` : `recorded ${(record.recorded_at || "").slice(0, 10)}`;
  return el("li", { class: `feed-item${after ? " after-view" : ""}${retracted ? " retracted" : ""}`,
    "data-position": record.position, "data-type": e.type, "data-id": e.id || "" },
  el("div", { class: "feed-head" },
    el("time", { datetime: e.occurred_on || "", class: "when", text: date }),
    el("span", { class: "type", text: typeLabel(e.type) }),
    retracted ? el("span", { class: "badge", text: "retracted" }) : null,
    after ? el("span", { class: "badge muted", text: "after the shown date" }) : null,
    el("span", { class: "pos muted", title: "log position", text: `#${record.position}` })),
  el("div", { class: "summary", text: feedSummary(state, record, look) }),
  sourceLine(e.sources));
}

/** The feed list: at most `limit` items; registrations only when `registrations`. */
export function renderFeed(state, look, { registrations, limit }) {
  const { shown, total } = feedRecords(state, { registrations, limit });
  const feed = document.querySelector("#feed");
  feed.replaceChildren(...shown.map((r) => feedItem(state, r, look)));
  document.querySelector("#feed-more").hidden = total <= shown.length;
  feed.dataset.position = String(state.log.last);
}
