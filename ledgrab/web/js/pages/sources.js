// Sources: effects (and network capture inputs) that targets render onto devices.

import { entityPage } from "../entities.js";

export const title = "Sources";

const KINDS = ["static", "gradient", "rainbow", "breathing", "chase", "fire", "twinkle", "noise", "capture"];

export const mount = entityPage({
  title: "Sources",
  singular: "source",
  path: "/api/v1/sources",
  columns: [
    ["Name", (s) => s.name],
    ["Kind", (s) => s.kind],
    ["Parameters", (s) => JSON.stringify(s.params || {}), "hide-phone mono"],
  ],
  fields: (s) => [
    { name: "name", label: "Name", value: s?.name, required: true },
    { name: "kind", label: "Kind", type: "select", value: s?.kind || "rainbow", options: KINDS.map((k) => [k]) },
    { name: "params", label: "Parameters (JSON)", type: "json", value: s?.params || {},
      hint: 'Leave {} for the defaults, e.g. {"color": "#ff8800"} for static.' },
  ],
});
