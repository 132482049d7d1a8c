// Page building blocks: forms whose fields show the API's validation messages, placeholders.

import { ApiError, fieldErrors } from "./api.js";
import { h } from "./dom.js";

let uid = 0;

export function notOffered(what) {
  return h("p", { class: "empty" }, `${what} is not available on this server version.`);
}

// A section whose route this server does not have says so instead of showing an error.
export function unavailable(what, err) {
  if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return notOffered(what);
  return h("p", { class: "error", role: "alert" }, `${what}: ${err.message}`);
}

function control(spec, id) {
  const common = { id, name: spec.name, "aria-describedby": `${id}-err`, disabled: spec.disabled };
  if (spec.type === "select") {
    const select = h("select", common,
      spec.options.map(([value, label]) => h("option", { value }, label ?? value)));
    if (spec.value !== undefined && spec.value !== null) select.value = String(spec.value);
    return select;
  }
  if (spec.type === "checkbox") {
    return h("input", { ...common, type: "checkbox", checked: Boolean(spec.value) });
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
      const wrap = spec.type === "checkbox"
        ? h("div", { class: "field" }, h("label", { class: "check", for: id }, input, spec.label), hint, error)
        : h("div", { class: "field" }, h("label", { for: id }, spec.label), input, hint, error);
      this.fields.set(spec.name, { spec, input, error, wrap });
      grid.append(wrap);
      input.addEventListener("change", () => this.refreshVisibility());
    }
    this.general = h("p", { class: "error", role: "alert" });
    this.submitButton = h("button", { type: "submit", class: "primary" }, submitLabel);
    this.el = h("form", { class: "entity-form", novalidate: true }, grid, this.general,
      h("div", { class: "row end" }, extraButtons, this.submitButton));
    this.el.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
    this.refreshVisibility();
  }

  refreshVisibility() {
    const values = this.rawValues();
    for (const { spec, wrap } of this.fields.values()) {
      wrap.hidden = spec.show ? !spec.show(values) : false;
    }
  }

  rawValues() {
    const values = {};
    for (const [name, { spec, input }] of this.fields) {
      values[name] = spec.type === "checkbox" ? input.checked : input.value;
    }
    return values;
  }

  // Typed values of the visible fields; empty optional fields are left out.
  values() {
    const values = {};
    const problems = {};
    for (const [name, { spec, input, wrap }] of this.fields) {
      if (wrap.hidden) continue;
      if (spec.type === "checkbox") { values[name] = input.checked; continue; }
      const text = input.value.trim();
      if (text === "") continue;
      if (spec.type === "number") values[name] = Number(text);
      else if (spec.type === "json") {
        try { values[name] = JSON.parse(text); } catch { problems[name] = "This is not valid JSON."; }
      } else values[name] = text;
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

  showError(err) {
    const { byField, general } = fieldErrors(err, [...this.fields.keys()]);
    this.showFieldErrors(byField, general);
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
