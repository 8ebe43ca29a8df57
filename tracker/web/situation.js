// The situation over time, under the map: places held per actor (a step line each, in the map's
// colours), the facts known only within a window as hatched ranges, and the facts known to the
// day as bars per day, with a cursor at the date shown; a click on it shows that date. Drawn on
// one canvas from GET /api/chart (the numbers of `tracker chart`, kept per log head by the server).
//
// Asked for the slider's whole span and the view's "known at"; asked again, after a pause, when
// either changes or the log grows (at most every REFRESH_MS), and a request the next one
// overtakes is aborted. Moving the slider only moves the cursor.

import { el } from "./dom.js";
import { addDays, daysBetween } from "./format.js";

const $ = (sel) => document.querySelector(sel);
const WAIT_MS = 300;
const REFRESH_MS = 5000; // a busy live log redraws the chart at most this often
const HEIGHT = { held: 120, ranges: 56, perDay: 52, axis: 16 };
const LANES = 6; // rows of window ranges; those that fit in none are counted
const PAD = { left: 34, right: 8 };

export class SituationChart {
  /**
   * @param {(url: string, signal: AbortSignal) => Promise<object>} getJson
   * @param {(day: string) => void} onPick a day was clicked
   * @param {() => boolean} canAsk whether the server is reachable now (a request while it is not waits for the next want)
   */
  constructor(getJson, onPick, canAsk) {
    this.getJson = getJson;
    this.onPick = onPick;
    this.canAsk = canAsk;
    this.canvas = $("#situation-canvas");
    this.data = null;
    this.cursor = null;
    this.colourOf = () => "#555";
    this.wanted = null; // {query, head}
    this.asked = null;
    this.askedAt = 0;
    this.timer = null;
    this.inFlight = null;
    this.base = null; // the chart without its cursor, drawn once per data, colours and size
    this.width = 0; // the canvas's CSS width, as last observed (reading it in a draw forces a layout)
    this.canvas.addEventListener("click", (e) => {
      const day = this.dayAt(e.offsetX);
      if (day) {
        this.canvas.dataset.picked = day;
        this.onPick(day);
      }
    });
    this.canvas.addEventListener("mousemove", (e) => {
      const day = this.dayAt(e.offsetX);
      this.canvas.title = day ? `Show ${day}` : "";
    });
    new ResizeObserver(([entry]) => {
      const width = Math.round(entry.contentRect.width);
      if (width !== this.width) {
        this.width = width;
        this.base = null;
        this.draw();
      }
    }).observe(this.canvas);
  }

  /** What to chart: the slider's span, the view's known_at, the log's head (a new one asks again). */
  want(range, knownAt, head) {
    if (!range) return;
    const params = new URLSearchParams({ from: range.min, to: range.max });
    if (knownAt) params.set("known_at", knownAt);
    const query = params.toString();
    const same = (a) => a !== null && a.query === query && a.head === head;
    if (same(this.asked) || (this.timer !== null && same(this.wanted))) return; // answered, on its way, or due
    const sameQuestion = this.asked !== null && this.asked.query === query;
    this.wanted = { query, head };
    clearTimeout(this.timer);
    // the log grew: no sooner than REFRESH_MS after the last answer
    const wait = sameQuestion ? Math.max(WAIT_MS, this.askedAt + REFRESH_MS - performance.now())
      : this.asked === null ? 0 : WAIT_MS; // the first question at once: the page has just caught up
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ask();
    }, wait);
  }

  async ask() {
    if (!this.canAsk()) return;
    const { query, head } = this.wanted;
    if (this.inFlight) this.inFlight.abort();
    const controller = new AbortController();
    this.inFlight = controller;
    this.asked = { query, head };
    this.askedAt = performance.now();
    $("#situation").dataset.state = "loading";
    try {
      const data = await this.getJson(`/api/chart?${query}`, controller.signal);
      if (controller !== this.inFlight) return;
      this.inFlight = null;
      this.data = data;
      this.base = null;
      $("#situation").dataset.state = "ready";
      this.describe();
      this.draw();
    } catch (err) {
      if (err.name === "AbortError" || controller !== this.inFlight) return;
      this.inFlight = null;
      this.asked = null;
      $("#situation").dataset.state = "failed";
      $("#situation-summary").textContent = `The timeline could not be read: ${err.message}`;
    }
  }

  /** The date shown (null: live, the last day). */
  setCursor(day) {
    this.cursor = day;
    this.draw();
  }

  setColours(colourOfName) {
    this.colourOf = colourOfName;
    this.base = null;
    if (this.data) {
      this.describe();
      this.draw();
    }
  }

  /** The legend and a summary in words (the canvas says nothing to a screen reader). */
  describe() {
    const d = this.data;
    const held = Object.entries(d.held);
    const facts = d.per_day.reduce((n, [, count]) => n + count, 0);
    const section = $("#situation");
    section.dataset.from = d.from;
    section.dataset.to = d.to;
    section.dataset.held = JSON.stringify(Object.fromEntries(held.map(([name, counts]) => [name, Math.max(...counts)])));
    section.dataset.facts = String(facts);
    section.dataset.ranges = String(d.ranges_total);
    $("#situation-legend").replaceChildren(...held.map(([name]) => el("span", { class: "legend-row", "data-actor-name": name },
      el("span", { class: "line-swatch", style: `background:${this.colourOf(name)}`, "aria-hidden": "true" }), name)),
    el("span", { class: "legend-row" }, el("span", { class: "swatch hatched", "aria-hidden": "true" }), "known only within a window"),
    el("span", { class: "legend-row" }, el("span", { class: "bar-swatch", "aria-hidden": "true" }), "facts per day"));
    const most = held.map(([name, counts]) => `${name}: up to ${Math.max(...counts)} place${Math.max(...counts) === 1 ? "" : "s"}`);
    $("#situation-summary").textContent = `From ${d.from} to ${d.to}: ${most.join("; ") || "no place held"}; `
      + `${facts} fact${facts === 1 ? "" : "s"} dated to the day, ${d.ranges_total} known only within a window`
      + (d.ranges_total > d.ranges.length ? ` (the ${d.ranges.length} longest drawn)` : "") + ".";
  }

  /** Pixels per day and the x of a day (each day parsed once: a chart places tens of thousands). */
  scale(width) {
    const from = this.data.from;
    const days = Math.max(1, daysBetween(from, this.data.to));
    const span = width - PAD.left - PAD.right;
    const offsets = new Map();
    return (day) => {
      let n = offsets.get(day);
      if (n === undefined) {
        n = daysBetween(from, day);
        offsets.set(day, n);
      }
      return PAD.left + (n / days) * span;
    };
  }

  dayAt(x) {
    if (!this.data) return null;
    const width = this.width;
    const days = daysBetween(this.data.from, this.data.to);
    const f = (x - PAD.left) / (width - PAD.left - PAD.right);
    return addDays(this.data.from, Math.round(Math.max(0, Math.min(1, f)) * days));
  }

  /** The chart, its cursor over the base layer: a move of the date redraws only the cursor. */
  draw() {
    const canvas = this.canvas;
    const width = this.width;
    const height = HEIGHT.held + HEIGHT.ranges + HEIGHT.perDay + HEIGHT.axis;
    const ratio = window.devicePixelRatio || 1;
    const pixels = [Math.round(width * ratio), Math.round(height * ratio)];
    if (canvas.width !== pixels[0] || canvas.height !== pixels[1]) {
      [canvas.width, canvas.height] = pixels;
      this.base = null;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const d = this.data;
    if (!d || width <= PAD.left + PAD.right) return;
    if (this.base === null) {
      this.base = document.createElement("canvas");
      [this.base.width, this.base.height] = pixels;
      this.drawBase(this.base.getContext("2d"), width, ratio);
      canvas.dataset.baseDraws = String(Number(canvas.dataset.baseDraws || 0) + 1);
    }
    ctx.drawImage(this.base, 0, 0);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#5f6873";
    this.drawCursor(ctx, width, height);
    canvas.dataset.cursor = this.cursor || d.to;
    canvas.dataset.drawn = String(Object.keys(d.held).length);
  }

  /** Places held, windows and facts per day: all but the cursor and the axis's dates. */
  drawBase(ctx, width, ratio) {
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const d = this.data;
    const x = this.scale(width);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    // places held: a step line per actor
    const top = 6;
    const bottom = HEIGHT.held - 6;
    const held = Object.entries(d.held);
    const most = Math.max(1, ...held.map(([, counts]) => Math.max(...counts)));
    const y = (n) => bottom - (n / most) * (bottom - top);
    ctx.strokeStyle = "#d9dde2";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(PAD.left, bottom + 0.5);
    ctx.lineTo(width - PAD.right, bottom + 0.5);
    ctx.stroke();
    ctx.fillStyle = "#5f6873";
    ctx.textAlign = "right";
    ctx.fillText(String(most), PAD.left - 4, top);
    ctx.fillText("0", PAD.left - 4, bottom);
    ctx.lineWidth = 2;
    for (const [name, counts] of held) {
      ctx.strokeStyle = this.colourOf(name);
      ctx.beginPath();
      d.days.forEach((day, i) => {
        const px = x(day);
        if (i === 0) ctx.moveTo(px, y(counts[i]));
        else {
          ctx.lineTo(px, y(counts[i - 1]));
          ctx.lineTo(px, y(counts[i]));
        }
      });
      ctx.stroke();
    }
    // windows: hatched bars packed into lanes
    const rangesTop = HEIGHT.held;
    const laneHeight = HEIGHT.ranges / LANES;
    const ends = new Array(LANES).fill(-Infinity);
    let unplaced = d.ranges_total - d.ranges.length;
    ctx.lineWidth = 1;
    for (const r of d.ranges) {
      const x0 = x(r.from);
      const x1 = Math.max(x0 + 2, x(addDays(r.to, 1)));
      const lane = ends.findIndex((end) => end <= x0);
      if (lane < 0) {
        unplaced += 1;
        continue;
      }
      ends[lane] = x1 + 1;
      const y0 = rangesTop + lane * laneHeight + 1;
      ctx.fillStyle = r.actor ? this.colourOf(r.actor) : "#9aa0a6";
      ctx.globalAlpha = 0.35;
      ctx.fillRect(x0, y0, x1 - x0, laneHeight - 2);
      ctx.globalAlpha = 1;
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0, y0, x1 - x0, laneHeight - 2);
      ctx.clip();
      ctx.strokeStyle = "#333";
      ctx.beginPath();
      for (let h = x0 - laneHeight; h < x1; h += 4) {
        ctx.moveTo(h, y0 + laneHeight);
        ctx.lineTo(h + laneHeight, y0);
      }
      ctx.stroke();
      ctx.restore();
    }
    ctx.fillStyle = "#5f6873";
    ctx.textAlign = "right";
    if (unplaced > 0) ctx.fillText(`+${unplaced} more`, width - PAD.right, rangesTop + 6);
    // facts per day
    const barsBottom = HEIGHT.held + HEIGHT.ranges + HEIGHT.perDay - 2;
    const maxPerDay = Math.max(1, ...d.per_day.map(([, n]) => n));
    const barWidth = Math.max(1, (width - PAD.left - PAD.right) / Math.max(1, daysBetween(d.from, d.to) + 1) - 1);
    ctx.fillStyle = "#0b5cad";
    for (const [day, n] of d.per_day) {
      const h = (n / maxPerDay) * (HEIGHT.perDay - 6);
      ctx.fillRect(x(day), barsBottom - h, barWidth, h);
    }
    ctx.fillStyle = "#5f6873";
    ctx.textAlign = "right";
    ctx.fillText(String(maxPerDay), PAD.left - 4, barsBottom - HEIGHT.perDay + 8);
  }

  /** The axis's first and last days, unless the cursor's date is written over them; the cursor. */
  drawCursor(ctx, width, height) {
    const d = this.data;
    const x = this.scale(width);
    const axisY = height - HEIGHT.axis / 2;
    const at = this.cursor || d.to;
    const cx = Math.round(x(at)) + 0.5;
    const shown = at >= d.from && at <= d.to;
    ctx.textAlign = "left";
    if (!shown || cx - PAD.left > 140) ctx.fillText(d.from, PAD.left, axisY);
    ctx.textAlign = "right";
    if (!shown || width - PAD.right - cx > 140) ctx.fillText(d.to, width - PAD.right, axisY);
    // the cursor at the date shown
    if (shown) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(cx, 0);
      ctx.lineTo(cx, height - HEIGHT.axis);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.textAlign = "center";
      ctx.fillStyle = "#111";
      ctx.fillText(at, Math.min(width - 40, Math.max(PAD.left + 40, cx)), axisY);
    }
  }
}
