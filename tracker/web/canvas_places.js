// Places drawn on one canvas, for maps of thousands: a Leaflet layer that paints every point
// itself (no DOM node, no SVG path per place), redrawn when the map moves or the places
// change, with clicks and hovers found by a scan of the points' screen positions. What the
// SVG markers say (controller colour, a dashed ring when contested, a hatch when pending, the
// selected one outlined) it says the same way; the places table stays the accessible list.

/* global L */

const HIT_SLOP = 3; // pixels beyond a point's radius that still select it
const CHANGED = "#c2185b"; // as map.js's ring of a place changed since the chosen date

/** One path of circles `gap` pixels outside the points `indices`, stroked as set before. */
function ringed(ctx, screen, points, indices, gap) {
  ctx.beginPath();
  for (const i of indices) {
    const r = points[i].radius + gap;
    ctx.moveTo(screen[2 * i] + r, screen[2 * i + 1]);
    ctx.arc(screen[2 * i], screen[2 * i + 1], r, 0, 2 * Math.PI);
  }
  ctx.stroke();
}

export const CanvasPlaces = L.Layer.extend({
  initialize(onSelect) {
    this.onSelect = onSelect;
    this.points = []; // {id, lat, lon, colour, radius, contested, pending, label}
    this.selected = null;
    this.changed = new Set(); // ids ringed as changed since the chosen date
    this.screen = null; // Float64Array of x, y per point, at the last draw
    this.frame = null;
  },

  onAdd(map) {
    this.canvas = L.DomUtil.create("canvas", "places-canvas leaflet-zoom-hide");
    this.canvas.setAttribute("aria-hidden", "true");
    map.getPane("places").appendChild(this.canvas);
    map.on("moveend zoomend resize viewreset", this.reset, this);
    map.on("click", this.click, this);
    map.on("mousemove", this.hover, this);
    this.reset();
  },

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this.reset, this);
    map.off("click", this.click, this);
    map.off("mousemove", this.hover, this);
    this.canvas.remove();
  },

  setPoints(points) {
    this.points = points;
    this.schedule();
  },

  setChanged(ids) {
    this.changed = ids;
    this.schedule();
  },

  setSelected(id) {
    if (id === this.selected) return;
    this.selected = id;
    this.schedule();
  },

  schedule() {
    if (this.frame !== null || !this._map) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  },

  reset() {
    const map = this._map;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    L.DomUtil.setPosition(this.canvas, map.containerPointToLayerPoint([0, 0]));
    this.canvas.width = Math.round(size.x * ratio);
    this.canvas.height = Math.round(size.y * ratio);
    this.canvas.style.width = `${size.x}px`;
    this.canvas.style.height = `${size.y}px`;
    this.draw();
  },

  draw() {
    const map = this._map;
    if (!map) return;
    const ctx = this.canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const size = map.getSize();
    ctx.clearRect(0, 0, size.x, size.y);
    const screen = new Float64Array(this.points.length * 2);
    const byColour = new Map(); // one path per colour: thousands of points in a few fills
    const rings = [];
    const hatched = [];
    const changed = [];
    let chosen = -1;
    this.points.forEach((p, i) => {
      const pt = map.latLngToContainerPoint([p.lat, p.lon]);
      screen[2 * i] = pt.x;
      screen[2 * i + 1] = pt.y;
      if (pt.x < -20 || pt.y < -20 || pt.x > size.x + 20 || pt.y > size.y + 20) return;
      if (!byColour.has(p.colour)) byColour.set(p.colour, []);
      byColour.get(p.colour).push(i);
      if (p.contested) rings.push(i);
      if (p.pending) hatched.push(i);
      if (this.changed.has(p.id)) changed.push(i);
      if (p.id === this.selected) chosen = i;
    });
    this.screen = screen;
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#222";
    for (const [colour, members] of byColour) {
      ctx.beginPath();
      for (const i of members) {
        const r = this.points[i].radius;
        ctx.moveTo(screen[2 * i] + r, screen[2 * i + 1]);
        ctx.arc(screen[2 * i], screen[2 * i + 1], r, 0, 2 * Math.PI);
      }
      ctx.fillStyle = colour;
      ctx.globalAlpha = 0.92;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.stroke();
    }
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#111";
    ringed(ctx, screen, this.points, rings, 5);
    ctx.setLineDash([3, 2]);
    ctx.lineWidth = 1.5;
    for (const i of hatched) {
      const x = screen[2 * i];
      const y = screen[2 * i + 1];
      const r = this.points[i].radius;
      ctx.save();
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.clip();
      ctx.setLineDash([]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let d = -2 * r; d <= 2 * r; d += 3) {
        ctx.moveTo(x + d - r, y + r);
        ctx.lineTo(x + d + r, y - r);
      }
      ctx.stroke();
      ctx.restore();
    }
    ctx.setLineDash([]);
    if (changed.length) {
      ctx.lineWidth = 3;
      ctx.strokeStyle = CHANGED;
      ringed(ctx, screen, this.points, changed, 9);
    }
    if (chosen >= 0) {
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.arc(screen[2 * chosen], screen[2 * chosen + 1], this.points[chosen].radius + 2, 0, 2 * Math.PI);
      ctx.stroke();
    }
    this.canvas.dataset.drawn = String(this.points.length);
    this.canvas.dataset.changed = String(changed.length);
  },

  /** The index of the point under a container point, nearest first; -1 when none. */
  pointAt(x, y) {
    if (!this.screen || this.screen.length !== this.points.length * 2) return -1;
    let best = -1;
    let bestDistance = Infinity;
    for (let i = 0; i < this.points.length; i++) {
      const dx = this.screen[2 * i] - x;
      const dy = this.screen[2 * i + 1] - y;
      const d = dx * dx + dy * dy;
      const reach = this.points[i].radius + HIT_SLOP;
      if (d <= reach * reach && d < bestDistance) {
        best = i;
        bestDistance = d;
      }
    }
    return best;
  },

  click(e) {
    const i = this.pointAt(e.containerPoint.x, e.containerPoint.y);
    if (i >= 0) this.onSelect(this.points[i].id);
  },

  hover(e) {
    const i = this.pointAt(e.containerPoint.x, e.containerPoint.y);
    const container = this._map.getContainer();
    container.style.cursor = i >= 0 ? "pointer" : "";
    container.title = i >= 0 ? this.points[i].label : "";
  },
});
