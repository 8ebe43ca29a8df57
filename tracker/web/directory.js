// The directory: the registered actors and places (the catalog the page holds, as `tracker
// actors` and `tracker places` list them, and GET /api/actors and /api/places answer), searched
// by id, name or alias in any case. A place opens in the place panel; an actor says how many
// places it holds at the date shown.

import { el } from "./dom.js";
import { swatch } from "./tables.js";

const $ = (sel) => document.querySelector(sel);
const SHOWN = 50; // per list; a search narrows it

/** Draw the lists for `catalog` ({actors, places} by id), `held` (actor id -> places held). */
export function renderDirectory(catalog, held, look, onSelect) {
  const needle = $("#directory-search").value.trim().toLowerCase();
  const matches = (id, e) => !needle || [id, e.name, ...(e.aliases || [])].some((t) => String(t).toLowerCase().includes(needle));
  const byName = (a, b) => a[1].name.localeCompare(b[1].name);
  const actors = Object.entries(catalog.actors).filter(([id, a]) => matches(id, a)).sort(byName);
  const places = Object.entries(catalog.places).filter(([id, p]) => matches(id, p)).sort(byName);
  $("#directory-actors").replaceChildren(...actors.slice(0, SHOWN).map(([id, a]) => el("li", { "data-actor": id },
    swatch(look.colourOf(id)), " ", el("strong", { text: a.name }),
    el("span", { class: "muted", text: `${a.kind ? ` ${a.kind}` : ""}${(a.aliases || []).length ? ` · also ${a.aliases.join(", ")}` : ""}` }),
    el("span", { class: "held", text: ` · holds ${held.get(id) || 0} place${held.get(id) === 1 ? "" : "s"}` }))),
  ...more(actors.length));
  $("#directory-places").replaceChildren(...places.slice(0, SHOWN).map(([id, p]) => {
    const name = el("button", { type: "button", class: "linklike", "data-place": id, text: p.name });
    name.addEventListener("click", () => onSelect(id));
    return el("li", { "data-place": id }, name,
      el("span", { class: "muted", text: ` ${[p.kind, p.admin1, p.country].filter(Boolean).join(", ")}`
        + `${(p.aliases || []).length ? ` · also ${p.aliases.join(", ")}` : ""}` }));
  }), ...more(places.length));
  $("#directory-count").textContent = `${actors.length} actor${actors.length === 1 ? "" : "s"}, `
    + `${places.length} place${places.length === 1 ? "" : "s"}${needle ? " match" : ""}`;
}

function more(count) {
  return count > SHOWN ? [el("li", { class: "muted", text: `and ${count - SHOWN} more: search to narrow` })] : [];
}
