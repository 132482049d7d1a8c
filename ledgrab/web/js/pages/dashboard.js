// Dashboard: devices and their health, targets with start/stop, measured fps and a live preview
// of their pixels, and the Recent Activity widget.

import { api } from "../api.js";
import { entryLink, entryTime, severityBadge } from "../activity-common.js";
import { h, toast } from "../dom.js";
import { asList } from "../entities.js";
import { drawPixels } from "../preview.js";
import { hasRoute } from "../schema.js";
import { notOffered, unavailable } from "../widgets.js";
import { deviceStatus } from "./devices.js";
import { startStop, statusOf, targetStatus } from "./targets.js";

export const title = "Dashboard";

const RECENT = 8;
const PREVIEW_MS = 200;  // 5 previews a second: enough to see motion, light on a Pi Zero

export function mount(root, ctx) {
  const devicesBox = h("div", { id: "dash-device-list" });
  const targetsBox = h("div", { id: "dash-target-list" });
  const recent = h("ul", { class: "recent", id: "recent-activity" });
  const targets = new Map();  // id -> {target, row, canvas}
  const deviceStates = new Map();  // device id -> engine driver state (from device_state events)
  let routes = {};
  let previewTimer = null;
  let alive = true;

  async function loadDevices() {
    if (!routes.devices) { devicesBox.replaceChildren(notOffered("Devices")); return; }
    try {
      const devices = asList(await api.get("/api/v1/devices"));
      const health = await Promise.all(devices.map((d) => (routes.deviceState
        ? api.get(`/api/v1/devices/${encodeURIComponent(d.id)}/state`).catch(() => null) : null)));
      devicesBox.replaceChildren(...devices.map((d, i) => deviceRow(d, health[i])));
      if (!devices.length) devicesBox.append(h("p", { class: "empty" }, "No devices. Add one on the Devices page."));
    } catch (err) {
      devicesBox.replaceChildren(unavailable("Devices", err));
    }
  }

  function deviceBadge(d, health) {
    const checked = deviceStatus(health);
    if (checked) return checked;
    // Not checked (yet): the engine still says whether a running target has the device open.
    const state = health ? (health.driven_by ? health.driver?.state || "open" : "closed") : deviceStates.get(d.id);
    const label = { open: "in use", closed: "idle", error: "error" }[state] || "idle";
    return h("span", { class: `badge ${state === "open" ? "online" : state === "error" ? "error" : "offline"}` }, label);
  }

  function deviceRow(d, health) {
    const identify = h("button", { type: "button", class: "small", "aria-label": `Identify ${d.name}`,
      title: "Light the strip white for two seconds, then restore it",
      onclick: async () => {
        identify.disabled = true;
        try {
          await api.post(`/api/v1/devices/${encodeURIComponent(d.id)}/identify`);
          toast(`"${d.name}" lit white for two seconds`);
        } catch (err) { toast(err.message, "error"); } finally { identify.disabled = false; }
      } }, "Identify");
    return h("div", { class: "list-item", dataset: { id: d.id, state: health?.state || "unknown" } },
      h("div", {}, h("strong", {}, d.name), " ", h("span", { class: "muted" }, `${d.type} · ${d.led_count} LEDs`)),
      h("div", { class: "row" }, deviceBadge(d, health), routes.identify ? identify : null));
  }

  async function allTargets(path, label) {
    try {
      const result = await api.post(path);
      toast(result.message);
    } catch (err) { toast(err.message, "error"); }
    await loadTargets();
  }

  async function loadTargets() {
    if (!routes.targets) { targetsBox.replaceChildren(notOffered("Targets")); return; }
    let list;
    try {
      list = asList(await api.get("/api/v1/targets"));
    } catch (err) {
      targetsBox.replaceChildren(unavailable("Targets", err));
      return;
    }
    targets.clear();
    targetsBox.replaceChildren(...list.map(targetRow));
    if (!list.length) targetsBox.append(h("p", { class: "empty" }, "No targets. Create one on the Targets page."));
    await Promise.all(list.filter((t) => t.running).map(async (t) => {
      try { applyState(await api.get(`/api/v1/targets/${encodeURIComponent(t.id)}/state`)); } catch { /* next event */ }
    }));
  }

  function targetRow(t) {
    const canvas = h("canvas", { width: 1, height: 1, role: "img", "aria-label": `Live preview of ${t.name}` });
    const state = h("span", { class: "target-status-slot" });
    const fps = h("span", { class: "muted", dataset: { role: "fps" } });
    const toggle = h("button", { type: "button", class: "small", dataset: { action: "toggle" },
      onclick: async () => { await startStop(entry.target, entry.target.running); await loadTargets(); } });
    const row = h("div", { class: "target", dataset: { id: t.id } },
      h("div", { class: "spread" }, h("div", {}, h("strong", {}, t.name), " ", state, " ", fps), toggle),
      h("div", { class: "preview" }, canvas),
      brightnessSlider(t));
    const entry = { target: t, row, canvas, state, fps, toggle };
    targets.set(t.id, entry);
    showRunning(entry, Boolean(t.running));
    return row;
  }

  // Applies while dragged (one request in flight, the latest value wins), stored and recorded
  // once when let go: one activity entry per adjustment, not one per step.
  function brightnessSlider(t) {
    const value = h("output", { class: "muted" }, `${Math.round((t.brightness ?? 1) * 100)} %`);
    let inFlight = false;
    let queued = null;
    async function preview(v) {
      if (inFlight) { queued = v; return; }
      inFlight = true;
      try {
        await api.post(`/api/v1/targets/${encodeURIComponent(t.id)}/brightness-preview`, { brightness: v });
      } catch { /* the release stores it anyway */ } finally {
        inFlight = false;
        if (queued !== null) { const next = queued; queued = null; preview(next); }
      }
    }
    const slider = h("input", { type: "range", min: 0, max: 1, step: 0.01, value: String(t.brightness ?? 1),
      "aria-label": `Brightness of ${t.name}`, dataset: { role: "brightness" },
      oninput: () => { value.textContent = `${Math.round(slider.valueAsNumber * 100)} %`; preview(slider.valueAsNumber); },
      onchange: async () => {
        try {
          await api.patch(`/api/v1/targets/${encodeURIComponent(t.id)}`, { brightness: slider.valueAsNumber });
          t.brightness = slider.valueAsNumber;
        } catch (err) { toast(err.message, "error"); }
      } });
    return h("label", { class: "brightness" }, "Brightness ", slider, " ", value);
  }

  function showRunning(entry, running, state = null) {
    entry.target.running = running;
    const status = statusOf(entry.target, state || { running });
    const key = `${status.status}|${status.error || ""}`;
    if (entry.shown !== key) {  // target_state comes every second: redraw only what changed
      entry.shown = key;
      entry.state.replaceChildren(targetStatus(status));
    }
    entry.toggle.textContent = running ? "Stop" : "Start";
    entry.toggle.setAttribute("aria-label", `${running ? "Stop" : "Start"} ${entry.target.name}`);
    if (!running) entry.fps.textContent = "";
  }

  let devicesSoon = null;
  function devicesLater() {
    clearTimeout(devicesSoon);
    devicesSoon = setTimeout(loadDevices, 100);  // one redraw for a burst of changes
  }

  function noteDeviceState(deviceId, state) {
    if (!deviceId || !state || deviceStates.get(deviceId) === state) return;
    deviceStates.set(deviceId, state);
    devicesLater();
  }

  function applyState(state) {
    const entry = targets.get(state?.target_id);
    if (!entry) return;
    noteDeviceState(entry.target.device_id, state.device?.state);
    showRunning(entry, Boolean(state.running), state);
    if (state.status && state.status !== "running") entry.fps.textContent = "";
    else if (state.running && typeof state.fps_measured === "number") {
      entry.fps.textContent = `${state.fps_measured.toFixed(1)} fps`;
      entry.fps.title = state.fps_limit_reason || "";
    }
  }

  async function refreshPreviews() {
    clearTimeout(previewTimer);
    if (routes.preview && !document.hidden) {
      await Promise.all([...targets.values()].filter((e) => e.target.running).map(async (entry) => {
        try {
          const preview = await api.get(`/api/v1/targets/${encodeURIComponent(entry.target.id)}/preview`);
          if (preview.running) drawPixels(entry.canvas, preview.pixels, preview.brightness ?? 1);
        } catch { /* a deleted or stopped target: the next entity event redraws the list */ }
      }));
    }
    if (alive) previewTimer = setTimeout(refreshPreviews, PREVIEW_MS);
  }

  function recentItem(entry, fresh = false) {
    return h("li", { class: fresh ? "fresh" : "", dataset: { id: entry.id } },
      h("a", { href: entryLink(entry) }, severityBadge(entry.severity), " ", entry.message),
      h("div", { class: "hint" }, entryTime(entry), ` · ${entry.actor}`));
  }

  let arrivedDuringLoad = null;  // live entries that came while the page was on its way
  let recentLoads = 0;
  async function loadRecent() {
    if (!routes.activity) { recent.replaceChildren(h("li", {}, notOffered("The activity log"))); return; }
    const generation = ++recentLoads;
    arrivedDuringLoad = [];
    try {
      const page = await api.get("/api/v1/activity", { limit: RECENT });
      if (generation !== recentLoads) return;
      const inPage = new Set(page.items.map((e) => e.id));
      const newer = arrivedDuringLoad.filter((e) => !inPage.has(e.id)).reverse();
      recent.replaceChildren(...newer.map((e) => recentItem(e, true)), ...page.items.map((e) => recentItem(e)));
      while (recent.childElementCount > RECENT) recent.lastElementChild.remove();
      if (!recent.childElementCount) recent.append(h("li", { class: "empty" }, "Nothing yet."));
    } catch (err) {
      if (generation === recentLoads) recent.replaceChildren(h("li", {}, unavailable("Recent activity", err)));
    } finally {
      if (generation === recentLoads) arrivedDuringLoad = null;
    }
  }

  const offs = [
    ctx.feed.on("activity_logged", ({ entry }) => {
      if (!entry) return;
      if (arrivedDuringLoad) { arrivedDuringLoad.push(entry); return; }  // subscribed, then loading
      if (entry.action === "system.clock_synced") { loadRecent(); return; }  // earlier ones corrected
      if (!routes.activity || recent.querySelector(`li[data-id="${CSS.escape(entry.id)}"]`)) return;
      recent.querySelector("li.empty")?.remove();
      recent.prepend(recentItem(entry, true));
      while (recent.childElementCount > RECENT) recent.lastElementChild.remove();
    }),
    ctx.feed.on("entity_changed", ({ entity_type: type }) => {
      if (type === "device") loadDevices();
      if (type === "target" || type === "device" || type === "source") loadTargets();
    }),
    ctx.feed.on("target_started", ({ target_id: id }) => { const e = targets.get(id); if (e) showRunning(e, true); devicesLater(); }),
    ctx.feed.on("target_stopped", ({ target_id: id }) => { const e = targets.get(id); if (e) showRunning(e, false); devicesLater(); }),
    ctx.feed.on("target_state", applyState),
    ctx.feed.on("device_state", ({ device_id: id, state }) => noteDeviceState(id, state)),
    ctx.feed.on("device_health", devicesLater),
    ctx.feed.on("resync", () => { loadDevices(); loadTargets(); loadRecent(); }),
  ];

  root.append(h("h1", {}, "Dashboard"), h("div", { class: "grid" },
    h("section", { class: "card", "aria-labelledby": "dash-targets" },
      h("div", { class: "spread" }, h("h2", { id: "dash-targets" }, "Targets"),
        h("div", { class: "row" },
          h("button", { type: "button", class: "small", id: "start-auto",
            onclick: () => allTargets("/api/v1/targets/start-auto") }, "Start all auto-start"),
          h("button", { type: "button", class: "small danger", id: "blackout",
            onclick: () => allTargets("/api/v1/targets/blackout") }, "Blackout all"))),
      targetsBox),
    h("section", { class: "card", "aria-labelledby": "dash-devices" }, h("h2", { id: "dash-devices" }, "Devices"), devicesBox),
    h("section", { class: "card", "aria-labelledby": "dash-recent" },
      h("div", { class: "spread" }, h("h2", { id: "dash-recent" }, "Recent activity"), h("a", { href: "#/activity" }, "All activity")),
      recent)));

  Promise.all([
    hasRoute("/api/v1/devices"), hasRoute("/api/v1/devices/{id}/state"), hasRoute("/api/v1/targets"),
    hasRoute("/api/v1/targets/{id}/preview"), hasRoute("/api/v1/activity"),
    hasRoute("/api/v1/devices/{id}/identify", "post"),
  ]).then(([devices, deviceState, targetsRoute, preview, activity, identify]) => {
    routes = { devices, deviceState, targets: targetsRoute, preview, activity, identify };
    loadDevices();
    loadTargets().then(refreshPreviews);
    offs.push(ctx.feed.whenLive(loadRecent));
  });
  return () => {
    alive = false;
    clearTimeout(previewTimer);
    clearTimeout(devicesSoon);
    offs.forEach((off) => off());
  };
}
