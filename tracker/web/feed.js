// The event feed: newest first, each event's date (the server's `when`), type, sources and the
// server's summary, its actor and place references shown by name (the message's summary_parts).
// The page holds the log's tail (state.js): "Show older events" asks the server for the page
// before it. Only the reports the view's clocks admit are listed: those known at "known at" and recorded
// by "recorded at"; the others are left out, and the feed says how many.

import { el } from "./dom.js";
import { typeLabel } from "./format.js";
import { afterView, feedRecords, holdsWholeLog, isRetracted, retractedBy } from "./state.js";

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
  const after = afterView(state, e);
  const retracted = isRetracted(state, e);
  const timed = record.when && record.when !== "-";
  const date = timed ? record.when
    : e.reported_on ? `reported ${e.reported_on}` : `recorded ${(record.recorded_at || "").slice(0, 10)}`;
  return el("li", { class: `feed-item${after ? " after-view" : ""}${retracted ? " retracted" : ""}`,
    "data-position": record.position, "data-type": e.type, "data-id": e.id || "" },
  el("div", { class: "feed-head" },
    el("time", { datetime: e.occurred_from || e.occurred_on || "", class: "when", text: date }),
    el("span", { class: "type", text: typeLabel(e.type) }),
    retracted ? el("span", { class: "badge", text: "retracted" }) : null,
    after ? el("span", { class: "badge muted", text: "after the shown date" }) : null,
    el("span", { class: "pos muted", title: "log position", text: `#${record.position}` })),
  el("div", { class: "summary", text: feedSummary(state, record, look) }),
  sourceLine(e.sources));
}

/** What the view's clocks leave out, said: "3 reports not yet known at the end of 2014-07-22 are
 *  not listed." (empty when none are). */
export function hiddenNote(state, hidden) {
  if (!hidden) return "";
  const { known_at: known, recorded_at: recorded } = state.view;
  const clocks = [known ? `known at ${clockText(known)}` : null, recorded ? `recorded by ${clockText(recorded)}` : null];
  const n = hidden === 1 ? "1 report" : `${hidden} reports`;
  return `${n} not yet ${clocks.filter(Boolean).join(" or ")} ${hidden === 1 ? "is" : "are"} not listed.`;
}

/** "the end of 2014-07-22" for a date, the time itself (UTC) otherwise. */
export function clockText(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? `the end of ${text}` : `${text}${/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? "" : " UTC"}`;
}

/** The feed list: at most `limit` items; registrations only when `registrations`. */
export function renderFeed(state, look, { registrations, limit }) {
  const { shown, total, hidden } = feedRecords(state, { registrations, limit });
  const feed = document.querySelector("#feed");
  feed.replaceChildren(...shown.map((r) => feedItem(state, r, look)));
  document.querySelector("#feed-more").hidden = total <= shown.length && holdsWholeLog(state);
  const note = document.querySelector("#feed-hidden");
  note.textContent = hiddenNote(state, hidden);
  note.hidden = !hidden;
  feed.dataset.position = String(state.log.last);
  feed.dataset.hidden = String(hidden);
}
