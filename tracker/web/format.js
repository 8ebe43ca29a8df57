// Pure helpers for display: day arithmetic for the date slider, counts that may be unknown,
// stable colours per actor. No DOM here. What an event says in prose, and when it happened,
// are the server's: each event message carries its `summary` and `when`, and each state entry
// its `since_text` and `pending_text` (tracker/core/summary.py, tracker/core/dates.py).

/** Parse "YYYY-MM-DD" as a UTC date (midnight). */
export function parseDay(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

/** Format a Date (UTC) as "YYYY-MM-DD". */
export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(text, days) {
  const d = parseDay(text);
  d.setUTCDate(d.getUTCDate() + days);
  return isoDay(d);
}

export function daysBetween(a, b) {
  return Math.round((parseDay(b) - parseDay(a)) / 86400000);
}

const NUMBERS = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 }); // one formatter: toLocaleString builds one per call

export function formatNumber(n) {
  return NUMBERS.format(Number(n));
}

/** A count that may be unknown: the number, "≥ N" when only a lower bound is known, else "unknown".
 *  Never 0 for unknown. */
export function formatCount(value, knownMinimum = null) {
  if (value !== null && value !== undefined) return formatNumber(value);
  if (knownMinimum !== null && knownMinimum !== undefined && knownMinimum > 0) return `≥ ${formatNumber(knownMinimum)}`;
  return "unknown";
}

/** "AH-64 Apache: 6, RQ-7 Shadow: unknown" from {name: count|null}. */
export function formatCounts(counts) {
  const entries = Object.entries(counts || {});
  if (!entries.length) return "";
  return entries.map(([name, n]) => `${name}: ${formatCount(n)}`).join(", ");
}

/** Split "CityCaptured" into "City captured" for labels. */
export function typeLabel(type) {
  return type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/ ([A-Z])/g, (_, c) => " " + c.toLowerCase());
}

// Stable colours: an actor's colour depends on its id only (a hash into a palette chosen for
// contrast on the map), with probing so that the actors known at once get distinct colours.
export const UNCONTROLLED = "#9aa0a6";
const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#e377c2", "#17becf",
  "#393b79", "#637939", "#843c39", "#e7ba52"];

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Colours for a set of actor ids: {id: colour}. The same ids always give the same colours. */
export function assignColours(ids) {
  const out = {};
  const used = new Set();
  for (const id of [...new Set(ids)].sort()) {
    let i = hash(id) % PALETTE.length;
    for (let tries = 0; tries < PALETTE.length && used.has(i); tries++) i = (i + 1) % PALETTE.length;
    if (used.has(i)) {
      out[id] = `hsl(${hash(id) % 360}, 55%, 45%)`; // more actors than palette entries
    } else {
      used.add(i);
      out[id] = PALETTE[i];
    }
  }
  return out;
}

/** A random UUID (v4), also where crypto.randomUUID is missing (a page over plain http off loopback). */
export function uuid4() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
