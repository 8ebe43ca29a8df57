// The "add report" form: one event at a time, its types and their fields built from the
// server's JSON Schema (schema.js describeSchema), collected into the event schema of
// docs/events.md, and the server's validation issues shown next to the fields they name. A
// fact's time is a day with its precision or a window (occurred_from .. occurred_to: "between
// 3 and 8 June"), and its claim status says how firm it is ("reportedly", claimed by a party).

import { el } from "./dom.js";
import { uuid4 } from "./format.js";

const COMMON_FIELDS = { occurred_on: "f-occurred_on", precision: "f-precision", reported_on: "f-reported_on",
  occurred_from: "f-occurred_from", occurred_to: "f-occurred_to", claim_status: "f-claim_status",
  claimed_by: "f-claimed_by", notes: "f-notes", sources: "f-source-publisher", type: "f-type" };
const CLAIM_LABELS = { confirmed: "confirmed", reported: "reportedly", claimed: "claimed by a party" };
const SOURCE_FIELDS = { publisher: "f-source-publisher", title: "f-source-title", url: "f-source-url",
  quote: "f-source-quote", published_on: "f-source-publisher" };


export class ReportForm {
  /**
   * @param {HTMLFormElement} form
   * @param {{types: object[], precisions: string[]}} described the event types, from describeSchema()
   * @param {(event: object, key: string) => Promise<object>} submit appends one event with an
   *   idempotency key (the server derives the event's id from it); resolves with the
   *   `appended` reply, rejects with an error carrying `code` and `details`.
   */
  constructor(form, described, submit) {
    this.form = form;
    this.submit = submit;
    this.types = new Map(described.types.map((t) => [t.type, t]));
    this.typeSelect = form.querySelector("#f-type");
    this.container = form.querySelector("#type-fields");
    this.status = form.querySelector("#form-status");
    this.errors = form.querySelector("#form-errors");
    // A fresh idempotency key per report, reused on its retries until it is stored: the server
    // derives the event's id from it, so a retry after a lost reply stores nothing new.
    this.idempotencyKey = uuid4();
    this.busy = false;
    for (const type of this.types.keys()) this.typeSelect.append(el("option", { value: type, text: type }));
    if (described.precisions.length) {
      form.querySelector("#f-precision").replaceChildren(...described.precisions.map((p) => el("option", { value: p, text: p })));
    }
    if (described.claims && described.claims.length) {
      form.querySelector("#f-claim_status").replaceChildren(el("option", { value: "", text: "as stated (not qualified)" }),
        ...described.claims.map((c) => el("option", { value: c, text: CLAIM_LABELS[c] || c })));
    }
    for (const radio of form.querySelectorAll('input[name="time-form"]')) {
      radio.addEventListener("change", () => this.showTimeForm());
    }
    form.querySelector("#f-claim_status").addEventListener("change", () => this.showClaimedBy());
    this.showTimeForm();
    this.showClaimedBy();
    this.typeSelect.addEventListener("change", () => this.renderType());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.send();
    });
    form.addEventListener("input", (e) => this.clearFieldError(e.target));
    this.renderType();
  }

  get type() {
    return this.typeSelect.value;
  }

  /** "day" (occurred_on with a precision) or "window" (occurred_from .. occurred_to). */
  get timeForm() {
    return this.form.querySelector("#f-time-window").checked ? "window" : "day";
  }

  showTimeForm() {
    for (const row of this.form.querySelectorAll("[data-time]")) row.hidden = row.dataset.time !== this.timeForm;
  }

  showClaimedBy() {
    this.form.querySelector("#f-claimed_by-field").hidden = this.form.querySelector("#f-claim_status").value !== "claimed";
  }

  renderType() {
    const spec = this.types.get(this.type);
    this.container.replaceChildren();
    this.form.querySelector("#type-help").textContent = spec.help;
    const dateLabel = this.form.querySelector('label[for="f-occurred_on"]');
    dateLabel.textContent = spec.dateOptional ? "Date (optional)" : "Date";
    this.form.querySelector("#f-when legend").textContent = spec.dateOptional ? "When it happened (optional)" : "When it happened";
    for (const { name, kind, label, required } of spec.fields) this.container.append(this.fieldFor(name, kind, label, required));
    this.clearErrors();
  }

  fieldFor(name, kind, label, required) {
    const id = `f-${name}`;
    const wrap = el("div", { class: `field field-${kind}`, "data-field": name });
    const text = kind === "list" ? `${label} (comma separated)` : label;
    if (kind === "bool") {
      wrap.append(el("label", { class: "check" }, el("input", { type: "checkbox", id, name }), " " + text));
    } else if (kind === "counts") {
      const fs = el("fieldset", { class: "counts", id, "aria-describedby": `${id}-error` },
        el("legend", { text: `${label} (name and count; blank count = unknown)` }));
      const rows = el("div", { class: "count-rows" });
      const add = el("button", { type: "button", class: "small", text: `Add ${label.toLowerCase()} row` });
      add.addEventListener("click", () => rows.append(this.countRow(name, rows.children.length)));
      rows.append(this.countRow(name, 0));
      fs.append(rows, add);
      wrap.append(fs);
    } else {
      wrap.append(el("label", { for: id }, text, required ? null : el("span", { class: "muted", text: " (optional)" })));
      const attrs = { id, name, autocomplete: "off", required: required || null, "aria-describedby": `${id}-error` };
      if (kind === "actor") Object.assign(attrs, { list: "actor-options", placeholder: "id, name or alias" });
      if (kind === "place") Object.assign(attrs, { list: "place-options", placeholder: "id, name or alias" });
      if (kind === "count") Object.assign(attrs, { type: "number", min: "0", step: "1", placeholder: "unknown" });
      if (kind === "number") Object.assign(attrs, { type: "number", step: "any" });
      if (kind === "event") Object.assign(attrs, { placeholder: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" });
      wrap.append(el("input", attrs));
    }
    wrap.append(el("div", { class: "error-text field-error", id: `${id}-error`, role: "alert" }));
    return wrap;
  }

  countRow(name, index) {
    const row = el("div", { class: "count-row" });
    const nameId = `f-${name}-${index}-name`;
    const countId = `f-${name}-${index}-count`;
    row.append(
      el("label", { for: nameId, class: "visually-hidden", text: `${name} ${index + 1}: name` }),
      el("input", { id: nameId, class: "count-name", placeholder: "name, e.g. AH-64 Apache", autocomplete: "off" }),
      el("label", { for: countId, class: "visually-hidden", text: `${name} ${index + 1}: count` }),
      el("input", { id: countId, class: "count-value", type: "number", min: "0", step: "1", placeholder: "unknown" }),
    );
    const remove = el("button", { type: "button", class: "small", "aria-label": `Remove ${name} row ${index + 1}`, text: "×" });
    remove.addEventListener("click", () => row.remove());
    row.append(remove);
    return row;
  }

  /** The event as the schema wants it, with blanks left out. Client-side problems are returned
   *  as issues in the server's shape, so that they are shown the same way. */
  collect() {
    const spec = this.types.get(this.type);
    const issues = [];
    const event = { type: this.type };
    const value = (id) => this.form.querySelector(`#${id}`)?.value.trim() ?? "";
    if (this.timeForm === "window") {
      const from = value("f-occurred_from");
      const to = value("f-occurred_to");
      if (from) event.occurred_from = from;
      if (to) event.occurred_to = to;
      if ((from || to || !spec.dateOptional) && !(from && to)) {
        if (!from) issues.push({ field: "occurred_from", reason: "required: the earliest day the fact may have happened" });
        if (!to) issues.push({ field: "occurred_to", reason: "required: the latest day the fact may have happened" });
      } else if (from && to && from > to) {
        issues.push({ field: "occurred_to", reason: `the window ends (${to}) before it starts (${from})` });
      }
    } else {
      const occurred = value("f-occurred_on");
      if (occurred) event.occurred_on = occurred;
      else if (!spec.dateOptional) issues.push({ field: "occurred_on", reason: "required: the date of the fact" });
      const precision = value("f-precision");
      if (precision && precision !== "day") event.precision = precision;
    }
    const reported = value("f-reported_on");
    if (reported) event.reported_on = reported;
    const claim = value("f-claim_status");
    if (claim) event.claim_status = claim;
    const claimedBy = value("f-claimed_by");
    if (claim === "claimed" && claimedBy) event.claimed_by = claimedBy;
    for (const { name, kind, required } of spec.fields) {
      const id = `f-${name}`;
      if (kind === "bool") {
        if (this.form.querySelector(`#${id}`).checked) event[name] = true;
        continue;
      }
      if (kind === "counts") {
        const counts = {};
        for (const row of this.form.querySelectorAll(`#${id} .count-row`)) {
          const key = row.querySelector(".count-name").value.trim();
          const n = row.querySelector(".count-value").value.trim();
          if (!key && !n) continue;
          if (!key) {
            issues.push({ field: name, reason: "a count without a name" });
            continue;
          }
          counts[key] = n === "" ? null : Number(n);
          if (n !== "" && !(Number.isInteger(counts[key]) && counts[key] >= 0)) {
            issues.push({ field: `${name}.${key}`, reason: `expected a whole number >= 0, got ${n}` });
          }
        }
        if (Object.keys(counts).length) event[name] = counts;
        continue;
      }
      const input = this.form.querySelector(`#${id}`);
      const raw = input.value.trim();
      if (kind === "count" || kind === "number") {
        if (input.validity && input.validity.badInput) {
          issues.push({ field: name, reason: "not a number" });
          continue;
        }
        if (raw === "") {
          if (required) issues.push({ field: name, reason: "required field is missing" });
          continue;
        }
        const num = Number(raw);
        if (kind === "count" && !(Number.isInteger(num) && num >= 0)) {
          issues.push({ field: name, reason: `expected a whole number >= 0, got ${raw}` });
          continue;
        }
        event[name] = num;
        continue;
      }
      if (raw === "") {
        if (required) issues.push({ field: name, reason: "required field is missing" });
        continue;
      }
      event[name] = kind === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : raw;
    }
    const source = {};
    for (const [key, id] of Object.entries(SOURCE_FIELDS)) {
      if (key === "published_on") continue;
      const v = value(id);
      if (v) source[key] = v;
    }
    if (!source.publisher) issues.push({ field: "sources[0].publisher", reason: "required: who published the report" });
    event.sources = [source];
    const notes = value("f-notes");
    if (notes) event.notes = notes;
    return { event, issues };
  }

  async send() {
    if (this.busy) return;
    this.clearErrors();
    const { event, issues } = this.collect();
    if (issues.length) {
      this.showIssues(issues);
      this.setStatus("Not sent: please fix the marked fields.", "error");
      return;
    }
    this.busy = true;
    this.form.querySelector("#report-submit").disabled = true;
    this.setStatus("Sending…", "");
    try {
      const reply = await this.submit(event, this.idempotencyKey);
      const pos = reply.positions && reply.positions.length ? reply.positions[0] : "?";
      this.setStatus(reply.new === 0 ? `Already stored at position ${pos}.` : `Added at position ${pos}.`, "ok");
      this.idempotencyKey = uuid4();
      this.resetTypeFields();
    } catch (err) {
      this.showError(err);
    } finally {
      this.busy = false;
      this.form.querySelector("#report-submit").disabled = false;
    }
  }

  showError(err) {
    if (err.code === "validation_error" && Array.isArray(err.details?.issues)) {
      this.showIssues(err.details.issues);
      this.setStatus("Not stored: the server refused the report (see the marked fields).", "error");
    } else if (err.code === "unauthorized") {
      this.setStatus("Not stored: the write token is needed.", "error");
    } else if (err.code === "conflict") {
      this.setStatus(`Not stored: ${err.message}`, "error");
      this.showGeneral([err.message]);
      this.idempotencyKey = uuid4(); // an id clash: a new key lets the user try again
    } else if (err.code === "disconnected") {
      this.setStatus("Not confirmed: the connection was lost. Submit again when reconnected; " +
        "it is safe, the report keeps its idempotency key and is stored once.", "error");
    } else {
      this.setStatus(`Not stored: ${err.message || err}`, "error");
      if (err.code === "bad_request" && err.details?.field) this.showIssues([{ field: err.details.field, reason: err.message }]);
    }
  }

  resetTypeFields() {
    this.renderType(); // keeps type, date, source and notes, which often repeat for the next fact
  }

  setStatus(text, kind) {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  /** The form control that a server issue's `field` names ("place", "sources[0].url",
   *  "equipment.AH-64"), or null. */
  controlFor(field) {
    if (!field) return null;
    const src = /^sources(?:\[0\])?(?:\.(\w+))?/.exec(field);
    if (src) return this.form.querySelector(`#${SOURCE_FIELDS[src[1]] || "f-source-publisher"}`);
    const root = field.split(/[.[]/)[0];
    if (COMMON_FIELDS[root]) return this.form.querySelector(`#${COMMON_FIELDS[root]}`);
    return this.form.querySelector(`#f-${CSS.escape(root)}`);
  }

  showIssues(issues) {
    const general = [];
    for (const issue of issues) {
      const text = issue.reason + (issue.suggestion ? ` (${issue.suggestion})` : "");
      const control = this.controlFor(issue.field);
      if (!control) {
        general.push(issue.field ? `${issue.field}: ${text}` : text);
        continue;
      }
      control.setAttribute("aria-invalid", "true");
      let box = this.form.querySelector(`#${control.id}-error`);
      if (!box) {
        box = el("div", { class: "error-text field-error", id: `${control.id}-error`, role: "alert" });
        control.insertAdjacentElement("afterend", box);
        control.setAttribute("aria-describedby", box.id);
      }
      const sub = issue.field && issue.field.includes(".") && !issue.field.startsWith("sources") ? `${issue.field}: ` : "";
      box.textContent = box.textContent ? `${box.textContent}; ${sub}${text}` : sub + text;
    }
    this.showGeneral(general);
    const first = this.form.querySelector('[aria-invalid="true"]');
    if (first && typeof first.focus === "function") first.focus();
  }

  showGeneral(lines) {
    if (!lines.length) return;
    this.errors.hidden = false;
    this.errors.replaceChildren(el("p", { text: "The server refused the report:" }),
      el("ul", {}, ...lines.map((l) => el("li", { text: l }))));
  }

  clearFieldError(control) {
    if (!control || !control.id || control.getAttribute("aria-invalid") !== "true") return;
    control.removeAttribute("aria-invalid");
    const box = this.form.querySelector(`#${control.id}-error`);
    if (box) box.textContent = "";
  }

  clearErrors() {
    for (const c of this.form.querySelectorAll('[aria-invalid="true"]')) c.removeAttribute("aria-invalid");
    for (const box of this.form.querySelectorAll(".field-error")) box.textContent = "";
    this.errors.hidden = true;
    this.errors.replaceChildren();
  }
}
