// Targets: a source rendered onto a device at a frame rate; start and stop them here.

import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { asList, entityPage } from "../entities.js";
import { requestSchema } from "../schema.js";
import { specsFor } from "../schema-form.js";

export const title = "Targets";

export async function startStop(target, running) {
  try {
    await api.post(`/api/v1/targets/${encodeURIComponent(target.id)}/${running ? "stop" : "start"}`);
    toast(`${running ? "Stopped" : "Started"} "${target.name}"`);
  } catch (err) {
    toast(err.message, "error");
  }
}

export function isRunning(target) {
  return Boolean(target.running ?? target.state?.running);
}

export const mount = entityPage({
  title: "Targets",
  singular: "target",
  path: "/api/v1/targets",
  lookups: async () => {
    const [devices, sources, { doc, schema }] = await Promise.all([
      api.get("/api/v1/devices").then(asList),
      api.get("/api/v1/sources").then(asList),
      requestSchema("/api/v1/targets", "post"),
    ]);
    return { devices, sources, doc, schema };
  },
  columns: [
    ["Name", (t) => t.name],
    ["Device", (t, l) => l.devices?.find((d) => d.id === t.device_id)?.name ?? t.device_id, "hide-phone"],
    ["Source", (t, l) => l.sources?.find((s) => s.id === t.source_id)?.name ?? t.source_id, "hide-phone"],
    ["FPS", (t) => String(t.fps)],
    ["State", (t) => h("span", { class: `badge ${isRunning(t) ? "running" : "stopped"}` }, isRunning(t) ? "running" : "stopped")],
  ],
  rowActions: (t, refresh) => h("button", { type: "button", class: "small", dataset: { action: "toggle" },
    onclick: async () => { await startStop(t, isRunning(t)); await refresh(); } }, isRunning(t) ? "Stop" : "Start"),
  fields: (t, l) => [
    { name: "name", label: "Name", value: t?.name, required: true },
    { name: "device_id", label: "Device", type: "select", value: t?.device_id,
      options: (l.devices || []).map((d) => [d.id, d.name]) },
    { name: "source_id", label: "Source", type: "select", value: t?.source_id,
      options: (l.sources || []).map((s) => [s.id, s.name]) },
    // The rest from the schema: sliders for fps, brightness and gamma, selects, a switch.
    ...specsFor(l.doc, l.schema, { values: t || {}, skip: ["name", "device_id", "source_id"] }),
  ],
  events: ["entity_changed", "target_started", "target_stopped"],
});
