// The event types and their fields, read from the server's JSON Schema (GET /api/schema,
// the same as `tracker schema`): `$defs.Event` lists the types (its `type` enum), each type's
// fields are under `$defs`. Pure: no DOM, no fetch.

// Fields every event has: the form has fixed inputs for these, not per-type ones (the time as a
// day with its precision or as a window, and how firm the claim is).
const COMMON = new Set(["type", "id", "occurred_on", "precision", "occurred_from", "occurred_to", "reported_on",
  "claim_status", "claimed_by", "sources", "notes",
  // not offered by the form yet (per-figure "at least", deaths, geo precision): reports that
  // need them are appended as files or over the websocket; external_id is set by imports (ACLED)
  "at_least", "deaths", "geo_precision", "external_id"]);

/** The parts of a property schema that are not null: [{type, format, ...}]. */
function variants(prop) {
  return (prop.anyOf || [prop]).filter((v) => v.type !== "null");
}

/** The form's kind of input for a property: actor | place (a reference, with a picker),
 *  event (an event id), bool, count (a whole number >= 0, blank = unknown), number,
 *  counts (name -> count rows), list (comma separated), text. */
export function fieldKind(prop) {
  if (prop["x-reference"]) return prop["x-reference"];
  const [v = {}] = variants(prop);
  if (v.type === "boolean") return "bool";
  if (v.type === "integer") return "count";
  if (v.type === "number") return "number";
  if (v.type === "object") return "counts";
  if (v.type === "array") return "list";
  if (v.format === "uuid") return "event";
  return "text";
}

/** "captured_by" -> "Captured by". */
export function fieldLabel(name) {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * What the form and the page need from the schema:
 * {types: [{type, help, dateOptional, fields: [{name, kind, label, required}]}],
 *  registrations: {type: "actor" | "place"}, precisions: [...], claims: [...] (claim_status values)}
 */
export function describeSchema(schema) {
  const defs = schema.$defs || {};
  const types = [];
  const registrations = {};
  let precisions = [];
  let claims = [];
  for (const name of defs.Event?.properties?.type?.enum || []) { // in the schema's own order
    const def = defs[name];
    const type = def?.properties?.type?.const;
    if (!type) continue;
    const required = new Set(def.required || []);
    const props = def.properties || {};
    if (def["x-registers"]) registrations[type] = def["x-registers"];
    if (props.precision?.enum) precisions = props.precision.enum;
    const claim = variants(props.claim_status || {}).find((v) => v.enum);
    if (claim) claims = claim.enum;
    types.push({
      type,
      help: def.description || "",
      dateOptional: Boolean(def["x-untimed"]),
      fields: Object.entries(props).filter(([name]) => !COMMON.has(name))
        .map(([name, prop]) => ({ name, kind: fieldKind(prop), label: fieldLabel(name), required: required.has(name) })),
    });
  }
  return { types, registrations, precisions, claims };
}
