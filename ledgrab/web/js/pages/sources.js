// Sources: effects (and network capture inputs) that targets render onto devices. The form is
// built from the schema: one group of parameter fields per kind, raw JSON behind "Advanced".

import { api } from "../api.js";
import { h } from "../dom.js";
import { asList, entityPage } from "../entities.js";
import { drawPixels } from "../preview.js";
import { requestSchema, resolve } from "../schema.js";
import { specsFor, unionMembers } from "../schema-form.js";

export const title = "Sources";

const LIVE_DELAY_MS = 250;  // parameter changes on a running target: at most 4 PATCHes a second
const PREVIEW_MS = 200;

function paramsSchema(doc, member) {
  return resolve(doc, member.properties?.params) || {};
}

function kindFields(s, { doc, schema, kinds }) {
  const members = unionMembers(doc, schema, "kind");
  const described = Object.fromEntries(kinds.map((k) => [k.kind, k.description]));
  const current = s?.kind || "rainbow";
  const fields = [
    { name: "name", label: "Name", value: s?.name, required: true, minLength: 1, maxLength: 64 },
    { name: "kind", label: "Kind", type: "select", value: current,
      options: Object.keys(members).map((k) => [k, described[k] ? `${k} (${described[k]})` : k]) },
  ];
  for (const [kind, member] of Object.entries(members)) {
    // The kind's defaults as the server lists them (for a list field the schema has none).
    const values = s && s.kind === kind ? s.params : kinds.find((k) => k.kind === kind)?.defaults || {};
    for (const spec of specsFor(doc, paramsSchema(doc, member), { values, prefix: `p.${kind}.`,
      show: (v) => v.kind === kind })) {
      fields.push({ ...spec, apiName: spec.name.replace(`p.${kind}.`, "params.") });
    }
  }
  return fields;
}

function toBody(values, form) {
  const body = { name: values.name, kind: values.kind };
  const raw = form?.advanced;
  if (raw && raw.open) body.params = JSON.parse(raw.querySelector("textarea").value || "{}");
  else body.params = values.p?.[values.kind] ?? {};
  return body;
}

// Editing a source that a running target shows: each valid change is sent at once (debounced)
// and the target's preview is drawn beside the form.
function liveEditing(form, source, targets) {
  const running = targets.find((t) => t.source_id === source.id && t.running);
  if (!running) return;
  const canvas = h("canvas", { width: 1, height: 1, class: "strip-preview", role: "img",
    "aria-label": `Live preview of ${running.name}` });
  const status = h("p", { class: "hint", id: "live-status" },
    `Changes show on "${running.name}" as you make them; Save keeps the name too.`);
  form.el.prepend(h("div", { class: "live-preview" }, canvas, status));
  let timer = null;
  const timerPreview = setInterval(async () => {
    if (!form.el.isConnected) { clearInterval(timerPreview); return; }
    try { drawPixels(canvas, (await api.get(`/api/v1/targets/${encodeURIComponent(running.id)}/preview`)).pixels); }
    catch { /* the next tick tries again */ }
  }, PREVIEW_MS);
  form.el.addEventListener("input", (event) => {
    const name = event.target.closest("[data-name]")?.dataset.name || event.target.name;
    if (!name?.startsWith(`p.${source.kind}.`)) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!form.check(name)) return;
      const params = { [name.slice(`p.${source.kind}.`.length)]: form.valueOf(name) };
      try {
        await api.patch(`/api/v1/sources/${encodeURIComponent(source.id)}`, { kind: source.kind, params });
        status.textContent = `Applied to "${running.name}".`;
      } catch (err) {
        form.showError(err);
      }
    }, LIVE_DELAY_MS);
  });
}

// "Advanced": the parameters as raw JSON; when open, they are what is sent.
function advanced(form) {
  const area = h("textarea", { rows: 4, spellcheck: "false", class: "mono", "aria-label": "Parameters as JSON" });
  const box = h("details", { class: "advanced" }, h("summary", {}, "Advanced: parameters as JSON"), area);
  box.addEventListener("toggle", () => {
    if (box.open) area.value = JSON.stringify(form.values().values.p?.[form.rawValues().kind] ?? {}, null, 1);
  });
  form.advanced = box;
  form.el.querySelector(".form-grid").after(box);
}

export const mount = entityPage({
  title: "Sources",
  singular: "source",
  path: "/api/v1/sources",
  lookups: async () => {
    const [{ doc, schema }, kinds, targets] = await Promise.all([
      requestSchema("/api/v1/sources", "post"),
      api.get("/api/v1/sources/kinds"),
      api.get("/api/v1/targets").then(asList).catch(() => []),
    ]);
    return { doc, schema, kinds, targets };
  },
  columns: [
    ["Name", (s) => s.name],
    ["Kind", (s) => s.kind],
    ["Parameters", (s) => JSON.stringify(s.params || {}), "hide-phone mono"],
  ],
  fields: kindFields,
  toBody: (values, item, form) => toBody(values, form),
  setup: (form, s, l) => {
    advanced(form);
    if (s) liveEditing(form, s, l.targets || []);
  },
});
