// Sources: effects (and network capture inputs) that targets render onto devices.

import { api } from "../api.js";
import { entityPage } from "../entities.js";

export const title = "Sources";


export const mount = entityPage({
  title: "Sources",
  singular: "source",
  path: "/api/v1/sources",
  lookups: async () => ({ kinds: await api.get("/api/v1/sources/kinds") }),
  columns: [
    ["Name", (s) => s.name],
    ["Kind", (s) => s.kind],
    ["Parameters", (s) => JSON.stringify(s.params || {}), "hide-phone mono"],
  ],
  fields: (s, l) => [
    { name: "name", label: "Name", value: s?.name, required: true },
    { name: "kind", label: "Kind", type: "select", value: s?.kind || "rainbow",
      options: l.kinds.map((k) => [k.kind, `${k.kind} (${k.description})`]) },
    { name: "params", label: "Parameters (JSON)", type: "json",
      value: s?.params || l.kinds.find((k) => k.kind === "rainbow")?.defaults || {},
      hint: "Colours are \"#rrggbb\". Fields left out take their defaults." },
  ],
  // A new kind starts from its own defaults, so the parameters box always shows what is valid.
  setup: (form, s, l) => {
    const kind = form.fields.get("kind").input;
    const params = form.fields.get("params").input;
    kind.addEventListener("change", () => {
      const defaults = l.kinds.find((k) => k.kind === kind.value)?.defaults || {};
      params.value = JSON.stringify(s && s.kind === kind.value ? s.params : defaults);
    });
  },
});
