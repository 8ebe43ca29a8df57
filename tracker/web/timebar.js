// The time controls: the date slider over the log's dated facts, the "as of" and "known at"
// dates, and Live. `onView(as_of, known_at)` asks for another view; `sync` shows the current one.

import { addDays, daysBetween } from "./format.js";

const $ = (sel) => document.querySelector(sel);

export class TimeBar {
  constructor(onView) {
    this.onView = onView;
    this.range = null; // {min, max} dates of the slider
    this.view = { as_of: null, known_at: null };
    let timer = null;
    const slider = $("#date-slider");
    slider.addEventListener("input", () => {
      if (!this.range) return;
      const day = addDays(this.range.min, Number(slider.value));
      $("#as-of").value = day;
      slider.setAttribute("aria-valuetext", day);
      clearTimeout(timer);
      timer = setTimeout(() => this.onView(day, this.view.known_at), 120);
    });
    slider.addEventListener("change", () => {
      if (!this.range) return;
      clearTimeout(timer);
      this.onView(addDays(this.range.min, Number(slider.value)), this.view.known_at);
    });
    $("#as-of").addEventListener("change", (e) => this.onView(e.target.value || null, this.view.known_at));
    $("#live").addEventListener("click", () => this.onView(null, this.view.known_at));
    $("#known-at").addEventListener("change", (e) => this.onView(this.view.as_of, e.target.value || null));
    $("#known-at-clear").addEventListener("click", () => this.onView(this.view.as_of, null));
  }

  /** The slider's span: the day before the first dated fact to the last (state.eventDates). */
  setRange(dates) {
    const slider = $("#date-slider");
    if (!dates) {
      slider.disabled = true;
      $("#slider-range").textContent = "no dated events yet";
      return;
    }
    this.range = { min: addDays(dates.min, -1), max: dates.max };
    slider.disabled = false;
    slider.min = "0";
    slider.max = String(daysBetween(this.range.min, this.range.max));
    $("#slider-range").textContent = `${this.range.min} – ${this.range.max}`;
    $("#as-of").min = this.range.min;
    this.sync(this.view);
  }

  sync(view) {
    this.view = view;
    const slider = $("#date-slider");
    const live = view.as_of === null;
    $("#live").setAttribute("aria-pressed", String(live));
    $("#live").classList.toggle("on", live);
    if (this.range) {
      const at = live ? this.range.max : view.as_of;
      const idx = Math.max(0, Math.min(Number(slider.max), daysBetween(this.range.min, at)));
      slider.value = String(idx);
      slider.setAttribute("aria-valuetext", live ? `live (latest: ${this.range.max})` : view.as_of);
    }
    $("#as-of").value = view.as_of || "";
    $("#known-at").value = view.known_at || "";
    const known = view.known_at ? `, as known at the end of ${view.known_at}` : "";
    $("#view-label").textContent = live
      ? `Live: everything reported${known || " so far"}, following new reports`
      : `Replay: the situation as of ${view.as_of}${known}`;
    document.body.dataset.view = view.as_of || "live";
  }
}
