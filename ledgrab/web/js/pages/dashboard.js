// Dashboard: devices and their health, targets with start/stop, measured fps and a live preview
// of their pixels, and the Recent Activity widget.

import { api } from "../api.js";
import { fmtTime, h } from "../dom.js";
import { entryLink, severityBadge } from "../activity-common.js";
import { asList } from "../entities.js";
import { drawPixels } from "../preview.js";
import { hasRoute } from "../schema.js";
import { notOffered, unavailable } from "../widgets.js";
import { isRunning, startStop } from "./targets.js";

export const title = "Dashboard";

const RECENT = 8;
const POLL_MS = 1000;

export function mount(root, ctx) {
  const devicesBox = h("div");
  const targetsBox = h("div");
  const recent = h("ul", { class: "recent", id: "recent-activity" });
  const canvases = new Map();
  let targets = [];
  let timer = null;
  let alive = true;

  async function loadDevices() {
    if (!(await hasRoute("/api/v1/devices"))) { devicesBox.replaceChildren(notOffered("Devices")); return; }
    const withState = await hasRoute("/api/v1/devices/{id}/state");
    try {
      const devices = asList(await api.get("/api/v1/devices"));
      const states = await Promise.all(devices.map((d) => (withState
        ? api.get(`/api/v1/devices/${encodeURIComponent(d.id)}/state`).catch(() => null) : null)));
      devicesBox.replaceChildren(...devices.map((d, i) => deviceRow(d, states[i])));
      if (!devices.length) devicesBox.append(h("p", { class: "empty" }, "No devices. Add one on the Devices page."));
    } catch (err) {
      devicesBox.replaceChildren(unavailable("Devices", err));
    }
  }

  function deviceRow(d, state) {
    const online = state ? Boolean(state.online) : null;
    const latency = state?.latency_ms ?? state?.latency;
    return h("div", { class: "list-item", dataset: { id: d.id } },
      h("div", {}, h("strong", {}, d.name), " ", h("span", { class: "muted" }, `${d.type} · ${d.led_count} LEDs`)),
      h("div", { class: "row" },
        latency !== undefined && latency !== null ? h("span", { class: "muted" }, `${Math.round(latency)} ms`) : null,
        online === null ? h("span", { class: "badge" }, "unknown")
          : h("span", { class: `badge ${online ? "online" : "offline"}` }, online ? "online" : "offline")));
  }

  async function loadTargets() {
    if (!(await hasRoute("/api/v1/targets"))) { targetsBox.replaceChildren(notOffered("Targets")); return; }
    try {
      targets = asList(await api.get("/api/v1/targets"));
    } catch (err) {
      targetsBox.replaceChildren(unavailable("Targets", err));
      return;
    }
    canvases.clear();
    targetsBox.replaceChildren(...targets.map(targetRow));
    if (!targets.length) targetsBox.append(h("p", { class: "empty" }, "No targets. Create one on the Targets page."));
    await pollStates();
  }

  function targetRow(t) {
    const canvas = h("canvas", { width: 1, height: 1, "aria-label": `Preview of ${t.name}`, role: "img" });
    canvases.set(t.id, canvas);
    const running = isRunning(t);
    return h("div", { class: "target", dataset: { id: t.id } },
      h("div", { class: "spread" },
        h("div", {}, h("strong", {}, t.name), " ",
          h("span", { class: `badge ${running ? "running" : "stopped"}`, dataset: { role: "state" } }, running ? "running" : "stopped"), " ",
          h("span", { class: "muted", dataset: { role: "fps" } }, "")),
        h("button", { type: "button", class: "small", dataset: { action: "toggle" },
          onclick: async () => { await startStop(t, isRunning(t)); await loadTargets(); } }, running ? "Stop" : "Start")),
      h("div", { class: "preview" }, canvas));
  }

  async function pollStates() {
    clearTimeout(timer);
    await Promise.all(targets.map(async (t) => {
      const row = targetsBox.querySelector(`.target[data-id="${CSS.escape(t.id)}"]`);
      try {
        const state = await api.get(`/api/v1/targets/${encodeURIComponent(t.id)}/state`);
        t.running = Boolean(state.running);
        if (row) {
          const fps = state.fps_measured ?? state.fps;
          row.querySelector("[data-role=state]").textContent = t.running ? "running" : "stopped";
          row.querySelector("[data-role=state]").className = `badge ${t.running ? "running" : "stopped"}`;
          row.querySelector("[data-role=fps]").textContent = t.running && fps !== undefined ? `${Number(fps).toFixed(1)} fps` : "";
          row.querySelector("[data-action=toggle]").textContent = t.running ? "Stop" : "Start";
        }
        if (t.running && (await hasRoute("/api/v1/targets/{id}/preview"))) {
          const preview = await api.get(`/api/v1/targets/${encodeURIComponent(t.id)}/preview`).catch(() => null);
          if (preview) drawPixels(canvases.get(t.id), preview);
        }
      } catch { /* the next poll retries; a deleted target disappears on the entity event */ }
    }));
    if (alive) timer = setTimeout(pollStates, POLL_MS);
  }

  function recentItem(entry, fresh = false) {
    return h("li", { class: fresh ? "fresh" : "", dataset: { id: entry.id } },
      h("a", { href: entryLink(entry) }, severityBadge(entry.severity), " ", entry.message),
      h("div", { class: "hint" }, `${fmtTime(entry.ts)} · ${entry.actor}`));
  }

  async function loadRecent() {
    if (!(await hasRoute("/api/v1/activity"))) { recent.replaceChildren(h("li", {}, notOffered("The activity log"))); return; }
    try {
      const page = await api.get("/api/v1/activity", { limit: RECENT });
      recent.replaceChildren(...page.items.map((e) => recentItem(e)));
    } catch (err) {
      recent.replaceChildren(h("li", {}, unavailable("Recent activity", err)));
    }
  }

  const offs = [
    ctx.feed.on("activity_logged", ({ entry }) => {
      if (!entry || recent.querySelector(`li[data-id="${CSS.escape(entry.id)}"]`)) return;
      recent.prepend(recentItem(entry, true));
      while (recent.childElementCount > RECENT) recent.lastElementChild.remove();
    }),
    ctx.feed.on("entity_changed", () => { loadDevices(); loadTargets(); }),
    ctx.feed.on("target_started", loadTargets),
    ctx.feed.on("target_stopped", loadTargets),
    ctx.feed.on("device_state", loadDevices),
    ctx.feed.on("resync", () => { loadDevices(); loadTargets(); loadRecent(); }),
  ];

  root.append(h("h1", {}, "Dashboard"), h("div", { class: "grid" },
    h("section", { class: "card", "aria-labelledby": "dash-targets" }, h("h2", { id: "dash-targets" }, "Targets"), targetsBox),
    h("section", { class: "card", "aria-labelledby": "dash-devices" }, h("h2", { id: "dash-devices" }, "Devices"), devicesBox),
    h("section", { class: "card", "aria-labelledby": "dash-recent" },
      h("div", { class: "spread" }, h("h2", { id: "dash-recent" }, "Recent activity"), h("a", { href: "#/activity" }, "All activity")),
      recent)));
  loadDevices();
  loadTargets();
  loadRecent();
  return () => { alive = false; clearTimeout(timer); offs.forEach((off) => off()); };
}
