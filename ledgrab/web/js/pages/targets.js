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

// running | reconnecting (it sent frames, then lost its device) | failed (no frame since it
// started) | stopped: each its own colour; the reason is shown as text, not only in a tooltip.
const TROUBLE = new Set(["reconnecting", "failed"]);

export function statusOf(target, state) {
  if (!state || !(state.running ?? isRunning(target))) return { status: "stopped", error: null };
  const status = state.status || "running";
  return { status, error: TROUBLE.has(status) ? state.last_error : null };
}

export function targetStatus({ status, error }) {
  return h("div", { class: "target-status", dataset: { role: "status", status } },
    h("span", { class: `badge ${status}`, dataset: { role: "state" } }, status),
    error ? h("div", { class: "target-error", dataset: { role: "last-error" } }, error) : null);
}

async function runningStates() {
  const list = asList(await api.get("/api/v1/targets"));
  const states = new Map();
  await Promise.all(list.filter(isRunning).map(async (t) => {
    try { states.set(t.id, await api.get(`/api/v1/targets/${encodeURIComponent(t.id)}/state`)); } catch { /* next event */ }
  }));
  return states;
}

// Keeps the State column current from the feed without redrawing the table every second.
function liveStatus(root, ctx) {
  const shown = new Map();
  const off = ctx.feed.on("target_state", (state) => {
    const cell = root.querySelector(`tr[data-id="${CSS.escape(state?.target_id || "")}"] [data-role="status"]`);
    if (!cell) return;
    const now = statusOf({ running: state.running }, state);
    const key = `${now.status}|${now.error || ""}`;
    if (shown.get(state.target_id) === key && cell.dataset.status === now.status) return;
    shown.set(state.target_id, key);
    cell.replaceWith(targetStatus(now));
  });
  return off;
}

export const mount = entityPage({
  title: "Targets",
  singular: "target",
  path: "/api/v1/targets",
  lookups: async () => {
    const [devices, sources, states, { doc, schema }] = await Promise.all([
      api.get("/api/v1/devices").then(asList),
      api.get("/api/v1/sources").then(asList),
      runningStates(),
      requestSchema("/api/v1/targets", "post"),
    ]);
    return { devices, sources, states, doc, schema };
  },
  columns: [
    ["Name", (t) => t.name],
    ["Device", (t, l) => l.devices?.find((d) => d.id === t.device_id)?.name ?? t.device_id, "hide-phone"],
    ["Source", (t, l) => l.sources?.find((s) => s.id === t.source_id)?.name ?? t.source_id, "hide-phone"],
    ["FPS", (t) => String(t.fps)],
    ["State", (t, l) => targetStatus(statusOf(t, l.states?.get(t.id)))],
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
  extra: liveStatus,
});
