// The map: Natural Earth country borders (world-atlas TopoJSON, converted by topojson-client)
// as a Leaflet GeoJSON layer, with no tile layer, so it works offline; places as circle
// markers coloured by controller, a dashed ring around contested ones, a hatched cover with a
// dashed outline on places with pending facts (their window holds the date shown: the place
// may have changed hands), a solid magenta ring on the places that changed since the date
// chosen under "Changes since" (changes.js), and a legend. The hatching is the SVG pattern #pending-hatch of
// index.html.
//
// Built for thousands of places: up to SVG_LIMIT places, each is an SVG path of its own (a
// keyboard-reachable button with its label), touched only when what it shows changed (each
// marker keeps the signature of what it last drew); past that, every place is painted on one
// canvas (canvas_places.js), and the places table is the list to reach them by keyboard.

/* global L, topojson */

import { CanvasPlaces } from "./canvas_places.js";
import { UNCONTROLLED } from "./format.js";

export const SVG_LIMIT = 400;
export const CHANGED = "#c2185b"; // the ring of a place that changed since the chosen date

const BORDERS_URL = "/static/vendor/world-atlas/countries-50m.json";

const RADIUS = { city: 8, country: 0 };
const DEFAULT_RADIUS = 6;

export class PlaceMap {
  /**
   * @param {HTMLElement} element
   * @param {(place: string) => void} onSelect called when a place is clicked or activated by keyboard
   */
  constructor(element, onSelect) {
    this.element = element;
    this.onSelect = onSelect;
    this.markers = new Map(); // place id -> {marker, ring, hatch, label, signature} (SVG mode)
    this.canvas = null; // the CanvasPlaces layer (canvas mode)
    this.fitted = false;
    this.selected = null;
    this.changed = new Set(); // places that changed since the chosen date
    this.changedSince = null;
    this.map = L.map(element, { minZoom: 2, maxZoom: 11, zoomSnap: 0.5, worldCopyJump: false,
      attributionControl: false, keyboard: true });
    L.control.attribution({ prefix: false })
      .addAttribution("Borders: Natural Earth (public domain) · Leaflet")
      .addTo(this.map);
    this.map.setView([34, 41], 5);
    this.map.createPane("borders").style.zIndex = 250;
    this.map.createPane("places").style.zIndex = 450;
    this.bordersRenderer = L.canvas({ pane: "borders", padding: 0.5 });
    this.placesRenderer = L.svg({ pane: "places", padding: 0.5 });
    this.layer = L.layerGroup().addTo(this.map);
    this.legend = L.control({ position: "bottomright" });
    this.legend.onAdd = () => {
      const div = L.DomUtil.create("div", "legend");
      div.id = "legend";
      div.setAttribute("role", "group");
      div.setAttribute("aria-label", "Legend");
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    this.legend.addTo(this.map);
    this.bordersLoaded = null; // loaded once the first places are drawn: the state first, the borders after
    setTimeout(() => this.ensureBorders(), 1500);
  }

  async loadBorders() {
    try {
      const response = await fetch(BORDERS_URL);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const topo = await response.json();
      const countries = topojson.feature(topo, topo.objects.countries);
      L.geoJSON(countries, {
        pane: "borders",
        renderer: this.bordersRenderer,
        interactive: false,
        style: { color: "#7d7f82", weight: 0.8, fillColor: "#f3f0e8", fillOpacity: 1 },
      }).addTo(this.map);
      this.element.dataset.borders = String(countries.features.length);
    } catch (err) {
      this.element.dataset.borders = "failed";
      console.warn(`tracker: country borders could not be loaded (${err.message}); places are still shown`);
    }
  }

  /**
   * Show places from a territory state.
   * @param {object[]} places state.places
   * @param {(id: string|null) => string} colourOf
   * @param {(kind: string, id: string) => string} nameOf
   * @param {string} viewLabel e.g. "live" or "2014-05-31", kept as data-as-of for readers and tests
   */
  update(places, colourOf, nameOf, viewLabel) {
    const plotted = places.filter((p) => p.kind !== "country" && typeof p.lat === "number" && typeof p.lon === "number");
    if (plotted.length > SVG_LIMIT) this.updateCanvas(plotted, colourOf, nameOf);
    else this.updateSvg(plotted, colourOf, nameOf);
    this.element.dataset.asOf = viewLabel;
    this.element.dataset.render = this.canvas ? "canvas" : "svg";
    this.element.dataset.places = String(this.canvas ? plotted.length : this.markers.size);
    if (!this.fitted && plotted.length) {
      this.fit(plotted);
      this.fitted = true;
    }
    this.ensureBorders();
  }

  /** Load the borders once: after the first places are drawn, or a moment after the start. */
  ensureBorders() {
    if (!this.bordersLoaded) this.bordersLoaded = new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.loadBorders());
    return this.bordersLoaded;
  }

  updateCanvas(plotted, colourOf, nameOf) {
    this.removeMarkers(new Set());
    if (!this.canvas) {
      this.canvas = new CanvasPlaces(this.onSelect);
      this.canvas.addTo(this.map);
      this.canvas.setSelected(this.selected);
      this.canvas.setChanged(this.changed);
    }
    this.canvas.setPoints(plotted.map((p) => ({ id: p.place, lat: p.lat, lon: p.lon, colour: colourOf(p.controller),
      radius: RADIUS[p.kind] ?? DEFAULT_RADIUS, contested: Boolean(p.contested),
      pending: Boolean(p.pending_text && p.pending_text.length), label: labelOf(p, nameOf) })));
  }

  updateSvg(plotted, colourOf, nameOf) {
    if (this.canvas) {
      this.canvas.remove();
      this.canvas = null;
    }
    const seen = new Set();
    for (const p of plotted) {
      seen.add(p.place);
      const colour = colourOf(p.controller);
      let item = this.markers.get(p.place);
      const radius = RADIUS[p.kind] ?? DEFAULT_RADIUS;
      const pending = p.pending_text || [];
      const label = labelOf(p, nameOf);
      const signature = JSON.stringify([p.lat, p.lon, p.name, p.kind, colour, p.controller, p.contested, label]);
      if (item && item.signature === signature) continue; // drawn already as it is: nothing to touch
      if (!item) {
        const marker = L.circleMarker([p.lat, p.lon], { renderer: this.placesRenderer, pane: "places", radius,
          weight: 1.5, color: "#222", fillOpacity: 0.92, className: "place-marker" });
        marker.on("click", () => this.onSelect(p.place));
        marker.addTo(this.layer);
        const el = marker.getElement();
        el.setAttribute("role", "button");
        el.setAttribute("tabindex", "0");
        el.dataset.place = p.place;
        el.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            this.onSelect(p.place);
          }
        });
        item = { marker, ring: null, hatch: null };
        this.markers.set(p.place, item);
      }
      item.signature = signature;
      item.marker.setLatLng([p.lat, p.lon]);
      item.marker.setStyle({ fillColor: colour, radius });
      item.marker.setRadius(radius);
      const el = item.marker.getElement();
      el.setAttribute("aria-label", label);
      el.dataset.controller = p.controller || "";
      el.dataset.colour = colour;
      el.dataset.contested = p.contested ? "true" : "false";
      el.dataset.pending = String(pending.length);
      item.marker.unbindTooltip();
      item.marker.bindTooltip(label, { direction: "top", offset: [0, -radius] });
      if (p.kind === "city") {
        if (!item.label) {
          item.label = L.tooltip({ permanent: true, direction: "right", offset: [radius, 0], className: "place-label",
            interactive: false }).setLatLng([p.lat, p.lon]).setContent(p.name);
          item.label.addTo(this.map);
        } else {
          item.label.setLatLng([p.lat, p.lon]).setContent(p.name);
        }
      }
      if (p.contested) {
        if (!item.ring) {
          item.ring = L.circleMarker([p.lat, p.lon], { renderer: this.placesRenderer, pane: "places", radius: radius + 5,
            fill: false, color: "#111", weight: 2, dashArray: "4 3", interactive: false, className: "contested-ring" });
          item.ring.addTo(this.layer);
          item.ring.getElement().dataset.place = p.place;
        }
        item.ring.setLatLng([p.lat, p.lon]);
        item.ring.setRadius(radius + 5);
      } else if (item.ring) {
        item.ring.remove();
        item.ring = null;
      }
      this.hatch(item, p, radius, pending);
    }
    this.removeMarkers(seen);
    this.highlight(this.selected);
    this.ringChanged();
  }

  /** Mark the places in `ids` as changed since `since` (an empty set and null: none). */
  setChanged(ids, since) {
    this.changed = ids;
    this.changedSince = since;
    if (this.canvas) this.canvas.setChanged(ids);
    this.ringChanged();
    this.element.dataset.changed = String(ids.size);
  }

  /** The SVG markers' rings for the changed places. */
  ringChanged() {
    for (const [id, item] of this.markers) {
      const changed = this.changed.has(id);
      const el = item.marker.getElement();
      if (el) el.dataset.changed = String(changed);
      if (!changed) {
        if (item.changedRing) item.changedRing.remove();
        item.changedRing = null;
        continue;
      }
      const at = item.marker.getLatLng();
      const radius = item.marker.getRadius() + 9;
      if (!item.changedRing) {
        item.changedRing = L.circleMarker(at, { renderer: this.placesRenderer, pane: "places", radius, fill: false,
          color: CHANGED, weight: 3, interactive: false, className: "changed-ring" });
        item.changedRing.addTo(this.layer);
        item.changedRing.getElement().dataset.place = id;
      }
      item.changedRing.setLatLng(at);
      item.changedRing.setRadius(radius);
    }
  }

  /** Remove the SVG markers of places not in `keep`. */
  removeMarkers(keep) {
    for (const [id, item] of this.markers) {
      if (keep.has(id)) continue;
      item.marker.remove();
      if (item.ring) item.ring.remove();
      if (item.hatch) item.hatch.remove();
      if (item.label) item.label.remove();
      if (item.changedRing) item.changedRing.remove();
      this.markers.delete(id);
    }
  }

  /** A pending fact on the place: a hatched cover over its marker, with a dashed outline. */
  hatch(item, p, radius, pending) {
    if (!pending.length) {
      if (item.hatch) item.hatch.remove();
      item.hatch = null;
      return;
    }
    if (!item.hatch) {
      item.hatch = L.circleMarker([p.lat, p.lon], { renderer: this.placesRenderer, pane: "places", radius,
        fill: true, fillColor: "url(#pending-hatch)", fillOpacity: 1, color: "#111", weight: 1.5, dashArray: "3 2",
        interactive: false, className: "pending-hatch" });
      item.hatch.addTo(this.layer);
      item.hatch.getElement().dataset.place = p.place;
    }
    item.hatch.setLatLng([p.lat, p.lon]);
    item.hatch.setRadius(radius);
    item.hatch.getElement().dataset.pending = pending.join("; ");
  }

  fit(plotted) {
    if (!plotted.length) return;
    const bounds = L.latLngBounds(plotted.map((p) => [p.lat, p.lon]));
    this.map.fitBounds(bounds.pad(0.15), { maxZoom: 7 });
  }

  highlight(place) {
    this.selected = place;
    if (this.canvas) this.canvas.setSelected(place);
    for (const [id, item] of this.markers) {
      const el = item.marker.getElement();
      if (el) el.classList.toggle("selected", id === place);
    }
  }

  /** The legend: one entry per actor shown, then uncontrolled and contested. */
  updateLegend(entries) {
    const div = document.getElementById("legend");
    if (!div) return;
    div.replaceChildren();
    const title = document.createElement("div");
    title.className = "legend-title";
    title.textContent = "Controlled by";
    div.append(title);
    const row = (swatchClass, colour, text, actor) => {
      const r = document.createElement("div");
      r.className = "legend-row";
      if (actor !== undefined) r.dataset.actor = actor;
      const s = document.createElement("span");
      s.className = `swatch ${swatchClass}`;
      if (colour) {
        s.style.background = colour;
        s.dataset.colour = colour;
      }
      s.setAttribute("aria-hidden", "true");
      const t = document.createElement("span");
      t.textContent = text;
      r.append(s, t);
      div.append(r);
    };
    for (const { actor, name, colour } of entries) row("", colour, name, actor);
    row("", UNCONTROLLED, "No controller recorded", "");
    row("ring", null, "Contested (under assault)");
    row("hatched", null, "Pending: may have changed hands by this date");
    if (this.changedSince) row("changed", null, `Changed since ${this.changedSince}`);
  }
}

/** What a place's marker says: its name, who holds it since when, who contests it, what is pending. */
function labelOf(p, nameOf) {
  const holder = p.controller ? nameOf("actor", p.controller) : "no controller recorded";
  const contested = p.contested_by && p.contested_by.length
    ? `; contested by ${p.contested_by.map((a) => nameOf("actor", a)).join(", ")}` : "";
  const since = p.controller && p.since_text ? `, captured ${p.since_text}` : "";
  return `${p.name}: ${p.controller ? "held by " : ""}${holder}${since}${contested}`
    + (p.pending_text || []).map((text) => `; ${text}`).join("");
}
