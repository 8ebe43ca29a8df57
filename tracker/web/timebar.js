// The time controls: the date slider over the log's dated facts, the "as of" date, the "known
// at" date, the "recorded at" date or time, and Live. `onView({as_of, known_at, recorded_at})`
// asks for another view; `sync` shows the current one; `showClocks` says which clocks the
// server's answer is at (its state's resolved as_of, known_at, recorded_at and position).

import { clockText } from "./feed.js";
import { addDays, daysBetween } from "./format.js";
import { clockLimit } from "./state.js";

const $ = (sel) => document.querySelector(sel);

export class TimeBar {
  constructor(onView) {
    this.onView = onView;
    this.range = null; // {min, max} dates of the slider
    this.view = { as_of: null, known_at: null, recorded_at: null };
    const ask = (changes) => this.onView({ ...this.view, ...changes });
    let timer = null;
    const slider = $("#date-slider");
    slider.addEventListener("input", () => {
      if (!this.range) return;
      const day = addDays(this.range.min, Number(slider.value));
      $("#as-of").value = day;
      slider.setAttribute("aria-valuetext", day);
      clearTimeout(timer);
      timer = setTimeout(() => ask({ as_of: day }), 120);
    });
    slider.addEventListener("change", () => {
      if (!this.range) return;
      clearTimeout(timer);
      ask({ as_of: addDays(this.range.min, Number(slider.value)) });
    });
    $("#as-of").addEventListener("change", (e) => ask({ as_of: e.target.value || null }));
    $("#live").addEventListener("click", () => ask({ as_of: null }));
    $("#known-at").addEventListener("change", (e) => ask({ known_at: e.target.value || null }));
    $("#known-at-clear").addEventListener("click", () => ask({ known_at: null }));
    const recorded = $("#recorded-at");
    const takeRecorded = () => {
      const text = recorded.value.trim().replace(" ", "T");
      if (text && clockLimit(text) === null) {
        recorded.setAttribute("aria-invalid", "true");
        return;
      }
      recorded.removeAttribute("aria-invalid");
      if ((text || null) !== this.view.recorded_at) ask({ recorded_at: text || null });
    };
    recorded.addEventListener("change", takeRecorded);
    recorded.addEventListener("keydown", (e) => {
      if (e.key === "Enter") takeRecorded();
    });
    $("#recorded-at-clear").addEventListener("click", () => {
      recorded.removeAttribute("aria-invalid");
      ask({ recorded_at: null });
    });
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
    if (document.activeElement !== $("#recorded-at")) $("#recorded-at").value = view.recorded_at || "";
    const known = view.known_at ? `, as known at the end of ${view.known_at}` : "";
    const recorded = view.recorded_at ? `, from the log as recorded by ${clockText(view.recorded_at)}` : "";
    $("#view-label").textContent = live
      ? `Live: everything reported${known || " so far"}${recorded}, following new reports`
      : `Replay: the situation as of ${view.as_of}${known}${recorded}`;
    document.body.dataset.view = view.as_of || "live";
  }

  /** The clocks the shown state answers at, from the server's state (its as_of is resolved). */
  showClocks(state) {
    const clocks = $("#clocks");
    if (!state) return;
    const known = state.known_at ? `known at ${state.known_at}` : "known at: now (everything reported)";
    const recorded = state.recorded_at ? `recorded at ${state.recorded_at}` : "recorded at: now (the whole log)";
    clocks.textContent = `Answering as of ${state.as_of} · ${known} · ${recorded} · log position ${state.position}`;
    clocks.dataset.asOf = state.as_of;
    clocks.dataset.knownAt = state.known_at || "";
    clocks.dataset.recordedAt = state.recorded_at || "";
  }
}
