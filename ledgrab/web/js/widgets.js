// Page building blocks: forms whose fields show the API's validation messages, placeholders.

import { ApiError, fieldErrors } from "./api.js";
import { h } from "./dom.js";
import { problemOf } from "./schema-form.js";

let uid = 0;

export function notOffered(what) {
  return h("p", { class: "empty" }, `${what} is not available on this server version.`);
}

// A section whose route this server does not have says so instead of showing an error.
export function unavailable(what, err) {
  if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return notOffered(what);
  return h("p", { class: "error", role: "alert" }, `${what}: ${err.message}`);
}

// A list of colour pickers (a gradient's stops) with add and remove; its value is an array.
function colorList(spec, common) {
  const box = h("div", { class: "color-list", id: common.id, dataset: { name: spec.name } });
  const add = h("button", { type: "button", class: "small", onclick: () => { addStop("#ffffff"); changed(); } }, "+");
  function changed() {
    box.dispatchEvent(new Event("input", { bubbles: true }));
    add.disabled = spec.maxItems !== undefined && box.querySelectorAll("input").length >= spec.maxItems;
    for (const b of box.querySelectorAll("button.remove")) {
      b.disabled = spec.minItems !== undefined && box.querySelectorAll("input").length <= spec.minItems;
    }
  }
  function addStop(color) {
    const input = h("input", { type: "color", value: color, "aria-label": `${spec.label} stop`, oninput: changed });
    const remove = h("button", { type: "button", class: "small remove", "aria-label": "Remove this colour",
      onclick: () => { item.remove(); changed(); } }, "−");
    const item = h("span", { class: "color-stop" }, input, remove);
    box.insertBefore(item, add);
  }
  box.append(add);
  for (const color of spec.value || []) addStop(color);
  Object.defineProperty(box, "value", { get: () => [...box.querySelectorAll("input")].map((i) => i.value) });
  box.validity = { valid: true };
  box.setCustomValidity = () => {};
  changed();
  return box;
}

// A slider with its number beside it; the number input is the field's input (typed, checked).
function slider(spec, common) {
  const number = h("input", { ...common, type: "number", value: spec.value ?? "", min: spec.min, max: spec.max,
    step: spec.step, required: spec.required, class: "slider-number" });
  const range = h("input", { type: "range", min: spec.min, max: spec.max, step: spec.step, value: spec.value ?? spec.min,
    "aria-label": `${spec.label} slider`, tabindex: -1,
    oninput: () => { number.value = range.value; number.dispatchEvent(new Event("input", { bubbles: true })); } });
  number.addEventListener("input", () => { if (number.value !== "") range.value = number.value; });
  number.slider = h("div", { class: "slider" }, range, number);
  return number;
}

function control(spec, id) {
  const common = { id, name: spec.name, "aria-describedby": `${id}-err`, disabled: spec.disabled };
  if (spec.type === "colors") return colorList(spec, common);
  if (spec.type === "range") return slider(spec, common);
  if (spec.type === "color") {
    return h("input", { ...common, type: "color", value: spec.value || "#000000" });
  }
  if (spec.type === "select") {
    const select = h("select", common,
      spec.options.map(([value, label]) => h("option", { value }, label ?? value)));
    if (spec.value !== undefined && spec.value !== null) select.value = String(spec.value);
    return select;
  }
  if (spec.type === "checkbox" || spec.type === "switch") {
    return h("input", { ...common, type: "checkbox", role: spec.type === "switch" ? "switch" : undefined,
      class: spec.type === "switch" ? "switch" : undefined, checked: Boolean(spec.value) });
  }
  if (spec.type === "textarea") {
    return h("textarea", { ...common, rows: 4, spellcheck: "false", class: "mono", placeholder: spec.placeholder },
      spec.value ?? "");
  }
  if (spec.type === "json") {
    return h("textarea", { ...common, rows: 3, spellcheck: "false", class: "mono" },
      spec.value === undefined ? "" : JSON.stringify(spec.value));
  }
  return h("input", {
    ...common,
    type: spec.type || "text",
    value: spec.value ?? "",
    min: spec.min, max: spec.max, step: spec.step,
    minlength: spec.minLength, maxlength: spec.maxLength, pattern: spec.pattern,
    required: spec.required, placeholder: spec.placeholder,
    autocomplete: "off", spellcheck: "false",
  });
}

export class Form {
  // fields: [{name, label, type, value, options, hint, min, max, step, required, show(values)}]
  constructor(fields, { onSubmit, submitLabel = "Save", extraButtons = [] } = {}) {
    this.fields = new Map();
    this.onSubmit = onSubmit;
    const grid = h("div", { class: "form-grid" });
    for (const spec of fields) {
      const id = `f${++uid}-${spec.name}`;
      const input = control(spec, id);
      const error = h("p", { class: "field-error", id: `${id}-err`, role: "alert" });
      const hint = spec.hint ? h("p", { class: "hint" }, spec.hint) : null;
      const shown = input.slider || input;
      const wrap = spec.type === "checkbox" || spec.type === "switch"
        ? h("div", { class: "field" }, h("label", { class: "check", for: id }, input, spec.label), hint, error)
        : h("div", { class: "field" }, h("label", { for: id }, spec.label), shown, hint, error);
      this.fields.set(spec.name, { spec, input, error, wrap });
      grid.append(wrap);
      input.addEventListener("change", () => this.refreshVisibility());
      // Checked as the user types, with the browser's own constraint checks, in words.
      input.addEventListener("input", () => this.check(spec.name));
      input.addEventListener("invalid", (event) => { event.preventDefault(); this.check(spec.name); });
    }
    this.general = h("p", { class: "error", role: "alert" });
    this.submitButton = h("button", { type: "submit", class: "primary" }, submitLabel);
    this.el = h("form", { class: "entity-form" }, grid, this.general,
      h("div", { class: "row end" }, extraButtons, this.submitButton));
    this.el.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this.refreshVisibility();
  }

  // The field's problem in words next to it (or none); true when it is valid.
  check(name) {
    const { spec, input, error } = this.fields.get(name);
    input.setCustomValidity?.("");
    const problem = input.validity ? problemOf(spec, input) : "";
    error.textContent = problem;
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return !problem;
  }

  refreshVisibility() {
    const values = this.rawValues();
    for (const { spec, input, wrap } of this.fields.values()) {
      wrap.hidden = spec.show ? !spec.show(values) : false;
      // A hidden field takes no part in the browser's checks (nor in the body).
      if ("disabled" in input && !spec.disabled) input.disabled = wrap.hidden;
    }
  }

  rawValues() {
    const values = {};
    for (const [name, { spec, input }] of this.fields) {
      values[name] = spec.type === "checkbox" || spec.type === "switch" ? input.checked : input.value;
    }
    return values;
  }

  // The typed value of one field (undefined when an optional field is empty).
  valueOf(name) {
    const { spec, input } = this.fields.get(name);
    if (spec.type === "checkbox" || spec.type === "switch") return input.checked;
    if (spec.type === "colors") return input.value;
    const text = input.value.trim();
    if (text === "") return undefined;
    if (spec.type === "number" || spec.type === "range") return Number(text);
    if (spec.type === "select" && spec.numeric) return Number(text);
    if (spec.type === "json") return JSON.parse(text);
    return spec.type === "color" ? text.toLowerCase() : text;
  }

  // Typed values of the visible fields; empty optional fields are left out; a dotted name
  // ("params.color") becomes a nested object.
  values() {
    const values = {};
    const problems = {};
    for (const [name, { wrap }] of this.fields) {
      if (wrap.hidden) continue;
      let value;
      try { value = this.valueOf(name); } catch { problems[name] = "This is not valid JSON."; continue; }
      if (value === undefined) continue;
      const path = name.split(".");
      let node = values;
      for (const part of path.slice(0, -1)) node = node[part] ??= {};
      node[path[path.length - 1]] = value;
    }
    return { values, problems };
  }

  clearErrors() {
    this.general.textContent = "";
    for (const { input, error } of this.fields.values()) {
      error.textContent = "";
      input.removeAttribute("aria-invalid");
    }
  }

  showFieldErrors(byField, general = []) {
    for (const [name, message] of Object.entries(byField)) {
      const field = this.fields.get(name);
      if (!field) { general.push(message); continue; }
      field.error.textContent = message;
      field.input.setAttribute("aria-invalid", "true");
    }
    this.general.textContent = general.join(" ");
    const first = [...this.fields.values()].find((f) => f.input.getAttribute("aria-invalid"));
    (first?.input || this.general).focus?.();
  }

  // A field whose API path differs from its form name says so with `spec.apiName`.
  showError(err) {
    const shown = [...this.fields].filter(([, { wrap }]) => !wrap.hidden);
    const byApiName = new Map(shown.map(([name, { spec }]) => [spec.apiName || name, name]));
    const { byField, general } = fieldErrors(err, [...byApiName.keys()]);
    const mapped = Object.fromEntries(Object.entries(byField).map(([k, v]) => [byApiName.get(k), v]));
    this.showFieldErrors(mapped, general);
  }

  async submit() {
    this.clearErrors();
    const { values, problems } = this.values();
    if (Object.keys(problems).length) { this.showFieldErrors(problems); return; }
    this.submitButton.disabled = true;
    try {
      await this.onSubmit(values);
    } catch (err) {
      this.showError(err);
    } finally {
      this.submitButton.disabled = false;
    }
  }
}
