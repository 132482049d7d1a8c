// Form field specs built from the OpenAPI document's JSON Schema: bounds, defaults, enums and
// patterns come from the server's one definition of each field; nothing is repeated here.

import { resolve } from "./schema.js";

const WORDS = { led: "LED", fps: "FPS", dma: "DMA", rgbw: "RGBW", gpio: "GPIO", http: "HTTP", e131: "E1.31" };
const UNITS = { s: "(s)", ms: "(ms)" };

// "led_count" -> "LED count", "period_s" -> "Period (s)".
export function labelOf(name) {
  const parts = name.split("_");
  const unit = UNITS[parts[parts.length - 1]];
  if (unit) parts.pop();
  const words = parts.map((w, i) => WORDS[w] || (i === 0 ? w[0].toUpperCase() + w.slice(1) : w));
  return unit ? `${words.join(" ")} ${unit}` : words.join(" ");
}

// The non-null alternative of an optional field, and whether null is allowed.
function unwrap(doc, prop) {
  const schema = resolve(doc, prop) || {};
  const options = schema.anyOf || schema.oneOf;
  if (!options) return { schema, nullable: false };
  const real = options.map((o) => resolve(doc, o) || {}).filter((o) => o.type !== "null");
  return { schema: real.length === 1 ? { ...real[0], default: schema.default } : schema, nullable: real.length < options.length };
}

const isColor = (s) => s?.format === "color";

// One Form spec for field `name` of an object schema.
export function specFor(doc, name, prop, { value, required = false, prefix = "" } = {}) {
  const { schema, nullable } = unwrap(doc, prop);
  const base = {
    name: prefix + name,
    label: labelOf(name),
    value: value ?? schema.default,
    required,
    hint: schema.description,
  };
  if (schema.enum) {
    const options = schema.enum.filter((v) => v !== null).map((v) => [String(v), String(v)]);
    const numeric = schema.enum.every((v) => v === null || typeof v === "number");
    return { ...base, type: "select", numeric, options: nullable || !required && schema.default === undefined ? [["", "default"], ...options] : options };
  }
  if (schema.type === "boolean") return { ...base, type: "switch" };
  if (isColor(schema)) return { ...base, type: "color" };
  if (schema.type === "array" && isColor(resolve(doc, schema.items))) {
    return { ...base, type: "colors", minItems: schema.minItems, maxItems: schema.maxItems };
  }
  if (schema.type === "integer" || schema.type === "number") {
    const min = schema.minimum ?? schema.exclusiveMinimum;
    const max = schema.maximum ?? schema.exclusiveMaximum;
    const step = schema.type === "integer" ? (schema.multipleOf || 1) : "any";
    const small = min !== undefined && max !== undefined && (schema.type === "number" || max - min <= 1000);
    return { ...base, type: small ? "range" : "number", min, max, step, integer: schema.type === "integer" };
  }
  if (schema.type === "string") {
    return { ...base, type: "text", minLength: schema.minLength, maxLength: schema.maxLength, pattern: schema.pattern };
  }
  return { ...base, type: "json" };
}

// Specs for every property of an object schema (its tag field and `skip` left out).
export function specsFor(doc, objectSchema, { values = {}, prefix = "", skip = [], show } = {}) {
  const schema = resolve(doc, objectSchema) || {};
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties || {})
    .filter(([name]) => !skip.includes(name))
    .map(([name, prop]) => ({
      ...specFor(doc, name, prop, { value: values[name], required: required.has(name), prefix }),
      ...(show ? { show } : {}),
    }));
}

// The members of a tagged union (oneOf/anyOf of refs), keyed by their tag value.
export function unionMembers(doc, unionSchema, tagField) {
  const schema = resolve(doc, unionSchema) || {};
  const members = {};
  for (const option of schema.oneOf || schema.anyOf || []) {
    const member = resolve(doc, option) || {};
    const tag = member.properties?.[tagField]?.enum?.[0] ?? member.properties?.[tagField]?.const;
    if (tag !== undefined) members[tag] = member;
  }
  return members;
}

// A field's problem in words, from the browser's own constraint checks (empty when valid).
export function problemOf(spec, input) {
  const v = input.validity;
  if (v.valid) return "";
  if (v.valueMissing) return `${spec.label} is required`;
  if (v.badInput) return `${spec.label} must be a number`;
  if (v.rangeUnderflow) return `${spec.label} must be at least ${input.min}`;
  if (v.rangeOverflow) return `${spec.label} must be at most ${input.max}`;
  if (v.stepMismatch) return `${spec.label} must be a whole number`;
  if (v.tooShort) return `${spec.label} must have at least ${input.minLength} characters`;
  if (v.tooLong) return `${spec.label} must have at most ${input.maxLength} characters`;
  if (v.patternMismatch) {
    return spec.type === "color" || /#/.test(spec.pattern || "") ? "Colour must look like #ff8800"
      : `${spec.label} does not have the expected form`;
  }
  return input.validationMessage;
}
