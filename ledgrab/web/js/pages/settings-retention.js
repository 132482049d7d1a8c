// Settings → Activity log: retention and batching settings with their bounds, plus current size.

import { api } from "../api.js";
import { fmtBytes, fmtTime, h, toast } from "../dom.js";
import { hasRoute, requestBounds } from "../schema.js";
import { MIB, rangeHint, units } from "../units.js";
import { Form, notOffered, unavailable } from "../widgets.js";

const PATH = "/api/v1/activity/settings";
const FIELDS = [
  ["enabled", "Record activity", "checkbox"],
  ["max_days", "Keep entries for (days)", "number"],
  ["max_entries", "Keep at most (entries)", "number"],
  ["max_bytes", "Keep at most (MiB)", "number"],
  ["commit_interval_s", "Write to disk every (seconds)", "number"],
  ["max_batch", "…or when this many entries wait", "number"],
  ["checkpoint_interval_s", "Sign the newest entries at least every (minutes)", "number"],
];
const { shown, sent, step } = units(
  { max_bytes: MIB, checkpoint_interval_s: 60 },
  new Set(["max_days", "max_entries", "max_bytes", "max_batch"]),
);

export function mount(root) {
  const formBox = h("div");
  const stats = h("div");

  async function loadStats() {
    if (!(await hasRoute("/api/v1/activity/stats"))) { stats.replaceChildren(notOffered("Activity statistics")); return; }
    try {
      const s = await api.get("/api/v1/activity/stats");
      const count = s.total ?? s.count ?? Object.values(s.by_category || s.categories || {}).reduce((a, b) => a + b, 0);
      stats.replaceChildren(h("dl", { class: "detail", id: "activity-stats" },
        h("dt", {}, "Entries"), h("dd", { dataset: { stat: "count" } }, String(count ?? "–")),
        h("dt", {}, "Database size"), h("dd", { dataset: { stat: "bytes" } }, fmtBytes(s.database_bytes ?? s.db_bytes ?? s.bytes)),
        h("dt", {}, "Waiting to be written"), h("dd", {}, String(s.pending ?? s.pending_entries ?? "–")),
        h("dt", {}, "Oldest"), h("dd", {}, fmtTime(s.oldest ?? s.oldest_ts) || "–"),
        h("dt", {}, "Newest"), h("dd", {}, fmtTime(s.newest ?? s.newest_ts) || "–")));
    } catch (err) {
      stats.replaceChildren(unavailable("Activity statistics", err));
    }
  }

  async function loadForm() {
    let current;
    if (!(await hasRoute(PATH))) { formBox.replaceChildren(notOffered("Activity log settings")); return; }
    try {
      current = await api.get(PATH);
    } catch (err) {
      formBox.replaceChildren(unavailable("Activity log settings", err));
      return;
    }
    const bounds = await requestBounds(PATH, "PUT");
    const form = new Form(FIELDS.filter(([name]) => name in current).map(([name, label, type]) => ({
      name, label, type, value: shown(name, current[name]),
      min: shown(name, bounds[name]?.min), max: shown(name, bounds[name]?.max),
      step: step(name),
      hint: name === "max_bytes"
        ? `${rangeHint(bounds[name], fmtBytes) || ""} (now ${fmtBytes(current[name])})`
        : rangeHint({ min: shown(name, bounds[name]?.min), max: shown(name, bounds[name]?.max) }),
    })), {
      submitLabel: "Save settings",
      onSubmit: async (values) => {
        const body = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, sent(k, v)]));
        await api.put(PATH, body);
        toast("Activity log settings saved");
        await Promise.all([loadForm(), loadStats()]);
      },
    });
    form.el.id = "retention-form";
    formBox.replaceChildren(form.el);
  }

  root.append(
    h("div", { class: "card" }, h("h2", {}, "Activity log retention"),
      h("p", { class: "muted" }, "Entries are written in batches to spare the SD card; errors and sign-in failures are written at once. The oldest entries go first when a limit is reached."),
      formBox),
    h("div", { class: "card" }, h("h2", {}, "Current size"), stats));
  loadForm();
  loadStats();
}
