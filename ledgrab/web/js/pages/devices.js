// Devices: LED strips on the board and devices on the LAN; discovered WLED devices to add.

import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { asList, entityPage } from "../entities.js";
import { hasRoute } from "../schema.js";
import { notOffered, unavailable } from "../widgets.js";

export const title = "Devices";

const TYPES = [
  ["virtual", "Virtual (preview only)"], ["ws281x", "WS281x on the board"],
  ["adalight", "Adalight / AWA serial"], ["wled", "WLED"], ["ddp", "DDP receiver"], ["e131", "E1.31 / sACN"],
];
const NETWORK = new Set(["wled", "ddp", "e131"]);
const only = (...types) => (v) => types.includes(v.type);

export function deviceFields(item) {
  const d = item || {};
  return [
    { name: "name", label: "Name", value: d.name, required: true },
    { name: "type", label: "Type", type: "select", options: TYPES, value: d.type || "virtual",
      disabled: Boolean(item), hint: item ? "The type of a device cannot change." : undefined },
    { name: "led_count", label: "LED count", type: "number", value: d.led_count ?? 60, min: 1 },
    { name: "color_order", label: "Colour order", type: "select", value: d.color_order,
      options: [["", "Device default"], ["rgb"], ["rbg"], ["grb"], ["gbr"], ["brg"], ["bgr"]] },
    { name: "rgbw", label: "RGBW strip (a white channel)", type: "checkbox", value: d.rgbw },
    { name: "address", label: "Address (IP or host name)", value: d.address, show: (v) => NETWORK.has(v.type),
      hint: "A device on this network: a private address or a .local name." },
    { name: "port", label: "Port", type: "number", value: d.port, show: (v) => NETWORK.has(v.type),
      hint: "Leave empty for the protocol's default." },
    { name: "universe", label: "First universe", type: "number", value: d.universe, show: only("e131") },
    { name: "serial_port", label: "Serial port", value: d.serial_port, show: only("adalight"), placeholder: "/dev/ttyUSB0" },
    { name: "baud_rate", label: "Baud rate", type: "number", value: d.baud_rate, show: only("adalight") },
    { name: "pin", label: "GPIO pin", type: "number", value: d.pin, show: only("ws281x") },
    { name: "dma", label: "DMA channel", type: "number", value: d.dma, show: only("ws281x"),
      hint: "Never 5: the SD card uses it." },
    { name: "strip_type", label: "Strip type", type: "select", value: d.strip_type || "ws2812", show: only("ws281x"),
      options: [["ws2811"], ["ws2812"], ["sk6812"]] },
  ];
}

// online (green) only when something confirms it; "sending, no confirmation" in a neutral
// colour; offline with its reason as text, not only in a tooltip.
const HEALTH = { online: "online", offline: "offline", unconfirmed: "sending, no confirmation" };

export function deviceStatus(health) {
  const state = health?.state;
  if (!HEALTH[state]) return null;
  const latency = state === "online" && typeof health.latency_ms === "number"
    ? h("span", { class: "muted", dataset: { role: "latency" } }, ` ${Math.round(health.latency_ms)} ms`) : null;
  return h("div", { class: "device-status", dataset: { role: "status", state } },
    h("span", { class: `badge ${state}`, dataset: { role: "health" }, title: health.error || health.method || "" }, HEALTH[state]),
    latency,
    state === "offline" && health.error ? h("div", { class: "device-error", dataset: { role: "reason" } }, health.error) : null);
}

async function healthOf() {
  if (!(await hasRoute("/api/v1/devices/{id}/state"))) return new Map();
  const devices = asList(await api.get("/api/v1/devices"));
  const states = await Promise.all(devices.map((d) => api.get(`/api/v1/devices/${encodeURIComponent(d.id)}/state`).catch(() => null)));
  return new Map(devices.map((d, i) => [d.id, states[i]]));
}

function describe(device) {
  if (device.address) return `${device.address}${device.port ? `:${device.port}` : ""}`;
  if (device.serial_port) return `${device.serial_port} @ ${device.baud_rate ?? "?"}`;
  if (device.type === "ws281x") return `GPIO ${device.pin ?? "?"}`;
  return "";
}

function discovered(root, ctx, refreshDevices) {
  const box = h("div");
  async function refresh() {
    let found;
    if (!(await hasRoute("/api/v1/devices/discovered"))) {
      box.replaceChildren(notOffered("Discovery"));
      return;
    }
    let scan;
    try {
      scan = await api.get("/api/v1/devices/discovered");
      found = Array.isArray(scan) ? scan : scan.devices || [];
    } catch (err) {
      box.replaceChildren(unavailable("Discovery", err));
      return;
    }
    if (!found.length) {
      const why = { disabled: "Discovery is turned off in the configuration.",
        failed: `Discovery is not working here: ${scan.error || "no multicast"}. Add devices by address.` }[scan.state];
      box.replaceChildren(h("p", { class: "empty" }, why || "No WLED devices found on this network (yet)."));
      return;
    }
    box.replaceChildren(...found.map((d) => {
      const known = d.device_id;
      const add = h("button", { type: "button", class: "small primary", disabled: Boolean(known), onclick: async () => {
        try {
          const body = { name: d.name || d.host, type: "wled", address: d.host || d.address,
            led_count: d.led_count || 30 };
          if (d.port) body.http_port = d.port;
          await api.post("/api/v1/devices", body);
          toast(`Added "${body.name}"`);
          await Promise.all([refresh(), refreshDevices()]);
        } catch (err) {
          toast(err.message, "error");
        }
      } }, known ? "Added" : "Add");
      return h("div", { class: "list-item", dataset: { host: d.host } },
        h("div", {}, h("strong", {}, d.name || d.host), " ",
          h("span", { class: "muted" }, `${d.host}${d.port ? `:${d.port}` : ""}`,
            d.led_count ? ` · ${d.led_count} LEDs` : "")), add);
    }));
  }
  root.append(h("div", { class: "card" }, h("h2", {}, "Discovered on the network"), box));
  const offs = ["device_discovered", "device_lost", "resync"].map((t) => ctx.feed.on(t, refresh));
  refresh();
  return () => offs.forEach((off) => off());
}

export const mount = entityPage({
  title: "Devices",
  singular: "device",
  path: "/api/v1/devices",
  columns: [
    ["Name", (d) => d.name],
    ["Type", (d) => d.type],
    ["LEDs", (d) => String(d.led_count)],
    ["Where", describe, "hide-phone"],
    ["Status", (d, l) => deviceStatus(l.health?.get(d.id)) || h("span", { class: "badge" }, "not checked")],
  ],
  lookups: async () => ({ health: await healthOf() }),
  fields: deviceFields,
  toBody: (values, item) => (item ? Object.fromEntries(Object.entries(values).filter(([k]) => k !== "type")) : values),
  events: ["entity_changed", "device_state", "device_health"],
  extra: discovered,
});
