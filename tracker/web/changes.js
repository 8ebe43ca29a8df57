// "Changes since": what changed between a chosen date and the date shown, from the server's
// diff (GET /api/diff, as `tracker diff`): the places that changed hands or whose holding,
// contest or pending facts changed, the holdings, resources and deployments that changed, each
// with the facts behind it (names, not ids). The map and the tables mark what changed; the
// panel lists it. Off while the date is empty.
//
// Asked again when the chosen date or the view changes, after a pause (a slider dragged across a
// year asks once, where it stops), and when the log grows (at most every REFRESH_MS); a request
// the next one overtakes is aborted: an answer is shown only for the question still asked.

import { el } from "./dom.js";
import { isoDay } from "./format.js";

const $ = (sel) => document.querySelector(sel);
const WAIT_MS = 200;
const REFRESH_MS = 5000; // a busy live log asks again at most this often
const LISTED = 40; // items listed per kind; the rest are counted

/** What changed, as the views mark it: sets of keys. Empty when off. */
export function noChanges() {
  return { on: false, places: new Set(), actors: new Set(), holdings: new Set(), resources: new Set(),
    deployments: new Set(), answer: null };
}

export class Changes {
  /**
   * @param {(url: string, signal: AbortSignal) => Promise<object>} getJson reads a JSON route (with the token)
   * @param {(changes: object) => void} onChanges called with the marks (noChanges() shape) when they change
   * @param {(place: string) => void} onSelect a place named in the list was clicked
   */
  constructor(getJson, onChanges, onSelect) {
    this.getJson = getJson;
    this.onChanges = onChanges;
    this.onSelect = onSelect;
    this.since = null;
    this.view = { as_of: null, known_at: null, recorded_at: null };
    this.asked = null; // the query string last asked, and the log's head then
    this.askedAt = 0;
    this.head = null;
    this.timer = null;
    this.inFlight = null; // AbortController of the request on its way
    const input = $("#changes-since");
    input.addEventListener("change", () => this.setSince(input.value || null));
    $("#changes-off").addEventListener("click", () => {
      input.value = "";
      this.setSince(null);
    });
  }

  setSince(day) {
    this.since = day;
    this.schedule();
  }

  /** The view shown changed (date, known at, recorded at). */
  setView(view) {
    this.view = view;
    if (this.since) this.schedule();
  }

  /** The log grew to `head`: what changed may have too (not sooner than REFRESH_MS after the last ask). */
  setHead(head) {
    if (head === this.head) return;
    this.head = head;
    if (this.since && this.timer === null) this.schedule(Math.max(WAIT_MS, this.askedAt + REFRESH_MS - performance.now()));
  }

  schedule(wait = WAIT_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ask();
    }, this.since ? wait : 0);
  }

  async ask() {
    const panel = $("#changes");
    if (!this.since) {
      if (this.inFlight) this.inFlight.abort();
      this.inFlight = null;
      this.asked = null;
      panel.hidden = true;
      panel.dataset.state = "off";
      this.onChanges(noChanges());
      return;
    }
    const to = this.view.as_of || isoDay(new Date()); // live: today, as the server's live state
    const params = new URLSearchParams({ from: this.since, to });
    if (this.view.known_at) params.set("known_at", this.view.known_at);
    const query = params.toString();
    if (this.asked && this.asked.query === query && this.asked.head === this.head) return;
    this.asked = { query, head: this.head };
    this.askedAt = performance.now();
    if (this.inFlight) this.inFlight.abort();
    const controller = new AbortController();
    this.inFlight = controller;
    panel.hidden = false;
    panel.dataset.state = "loading";
    $("#changes-title").textContent = `Changes from ${this.since} to ${to}`;
    try {
      const answer = await this.getJson(`/api/diff?${query}`, controller.signal);
      if (controller !== this.inFlight) return; // overtaken by a newer question
      this.inFlight = null;
      this.show(answer);
    } catch (err) {
      if (err.name === "AbortError" || controller !== this.inFlight) return;
      this.inFlight = null;
      this.asked = null; // ask again at the next change
      panel.dataset.state = "failed";
      $("#changes-list").replaceChildren(el("li", { class: "error-text", text: `Could not read the changes: ${err.message}` }));
      this.onChanges(noChanges());
    }
  }

  show(answer) {
    const marks = { ...noChanges(), on: true, answer };
    for (const p of answer.places) marks.places.add(p.place);
    for (const h of answer.holdings) {
      marks.actors.add(h.actor);
      marks.holdings.add(`${h.actor}\u0000${h.asset}`);
    }
    for (const r of answer.resources) {
      marks.actors.add(r.actor);
      marks.resources.add(`${r.actor}\u0000${r.resource}`);
    }
    for (const d of answer.deployments) marks.deployments.add(`${d.actor}\u0000${d.place}`);
    const panel = $("#changes");
    panel.dataset.state = "ready";
    panel.dataset.from = answer.from;
    panel.dataset.to = answer.to;
    const c = answer.counts;
    $("#changes-title").textContent = `Changes from ${answer.from} to ${answer.to}`;
    $("#changes-summary").textContent = c.places + c.holdings + c.resources + c.deployments === 0
      ? "Nothing changed." + (this.view.recorded_at ? " (From the whole log: the diff has no recorded-at.)" : "")
      : `${c.changed_hands} place${c.changed_hands === 1 ? "" : "s"} changed hands; ${c.places} place${c.places === 1 ? "" : "s"}, `
        + `${c.holdings + c.resources} holding${c.holdings + c.resources === 1 ? "" : "s"} and ${c.deployments} `
        + `deployment${c.deployments === 1 ? "" : "s"} changed; ${c.facts} fact${c.facts === 1 ? "" : "s"} in between.`
        + (this.view.recorded_at ? " From the whole log (the diff has no recorded-at)." : "");
    const items = [
      ...listed(answer.places, (p) => this.placeItem(p)),
      ...listed(answer.holdings, (h) => item({ "data-actor": h.actor, "data-asset": h.asset },
        `${h.name}: ${h.asset} ${amount(h.from)} → ${amount(h.to)}`, h.events)),
      ...listed(answer.resources, (r) => item({ "data-actor": r.actor, "data-resource": r.resource },
        `${r.name}: ${r.resource}${r.place_name ? ` at ${r.place_name}` : ""} ${share(r.from)} → ${share(r.to)}`, r.events)),
      ...listed(answer.deployments, (d) => item({ "data-actor": d.actor, "data-place": d.place },
        `${d.actor_name} at ${d.place_name}: ${forces(d.from)} → ${forces(d.to)}`, d.events)),
    ];
    $("#changes-list").replaceChildren(...items);
    this.onChanges(marks);
  }

  placeItem(p) {
    const a = p.from;
    const b = p.to;
    let what = p.changed_hands
      ? `${a.controller_name || "no controller recorded"} → ${b.controller_name || "no controller"}`
      : `still ${b.controller_name || "no controller recorded"}`;
    if (b.contested_by_names.join() !== a.contested_by_names.join()) {
      what += `; contested by ${b.contested_by_names.join(", ") || "no one"}`;
    }
    for (const text of b.pending) what += `; ${text}`;
    const name = el("button", { type: "button", class: "linklike", text: p.name, "data-place": p.place });
    name.addEventListener("click", () => this.onSelect(p.place));
    const li = item({ "data-place": p.place, "data-changed-hands": String(p.changed_hands) }, null, p.events);
    li.querySelector(".what").append(name, `: ${what}`);
    return li;
  }
}

function listed(entries, build) {
  const out = entries.slice(0, LISTED).map(build);
  if (entries.length > LISTED) out.push(el("li", { class: "muted", text: `and ${entries.length - LISTED} more` }));
  return out;
}

/** A change: what it is, then the facts behind it (pending ones said so). */
function item(attrs, text, events) {
  const facts = el("ul", { class: "facts" }, ...(events || []).map((e) => el("li", { class: e.settled ? "" : "pending",
    "data-event": e.id || "" }, `${e.settled ? "" : "pending: "}${e.when}: ${e.summary}`)));
  return el("li", { ...attrs, class: "change" }, el("div", { class: "what", text }), facts);
}

function amount(h) {
  if (!h) return "none";
  if (h.quantity !== null && h.quantity !== undefined) return h.quantity.toLocaleString("en-US");
  return h.known_minimum ? `unknown (≥ ${h.known_minimum.toLocaleString("en-US")})` : "unknown";
}

function share(r) {
  if (!r) return "none";
  return r.share_percent === null || r.share_percent === undefined ? "share unknown" : `${r.share_percent}%`;
}

function forces(d) {
  if (!d) return "none";
  const parts = [d.personnel !== null && d.personnel !== undefined ? `${d.personnel.toLocaleString("en-US")} personnel`
    : "personnel unknown"];
  for (const [k, v] of Object.entries({ ...(d.equipment || {}), ...(d.units || {}) })) parts.push(`${k}: ${v ?? "unknown"}`);
  return parts.join(", ");
}
