// Devices: LED strips on the board and devices on the LAN; discovered WLED devices to add.

import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { asList, entityPage } from "../entities.js";
import { hasRoute, requestSchema, resolve } from "../schema.js";
import { specFor, unionMembers } from "../schema-form.js";
import { notOffered, unavailable } from "../widgets.js";

export const title = "Devices";

// Words for the type names the schema lists (the list itself comes from the schema).
const TYPE_LABELS = {
  virtual: "Virtual (preview only)", ws281x: "WS281x on the board", adalight: "Adalight / AWA serial",
  wled: "WLED", ddp: "DDP receiver", e131: "E1.31 / sACN",
};

// The form, from the create body's schema: a union of one object per device type. Each field
// shows for the types that have it; a field in several types with different defaults starts
// empty (the type's own default then applies).
export function deviceFields(item, { doc, schema }) {
  const d = item || {};
  const members = unionMembers(doc, schema, "type");
  const owners = {};
  for (const [type, member] of Object.entries(members)) {
    for (const [name, prop] of Object.entries(member.properties || {})) {
      if (name === "type") continue;
      (owners[name] ??= { prop, types: new Set(), defaults: new Set(), required: true }).types.add(type);
      owners[name].defaults.add(JSON.stringify(resolve(doc, prop)?.default));
      if (!(member.required || []).includes(name)) owners[name].required = false;
    }
  }
  const specs = Object.entries(owners).map(([name, o]) => {
    const spec = specFor(doc, name, o.prop, { value: d[name], required: o.required });
    if (o.defaults.size > 1 && d[name] === undefined) {
      spec.value = undefined;
      if (spec.type === "select" && spec.options[0]?.[0] !== "") spec.options = [["", "default"], ...spec.options];
    }
    return { ...spec, show: (v) => o.types.has(v.type) };
  });
  const type = {
    name: "type", label: "Type", type: "select", value: d.type || "virtual", disabled: Boolean(item),
    options: Object.keys(members).map((t) => [t, TYPE_LABELS[t] || t]),
    hint: item ? "The type of a device cannot change." : undefined,
  };
  return [specs.find((s) => s.name === "name"), type, ...specs.filter((s) => s.name !== "name")];
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
  lookups: async () => ({
    ...(await requestSchema("/api/v1/devices", "post")),
    health: await healthOf(),
  }),
  fields: deviceFields,
  toBody: (values, item) => (item ? Object.fromEntries(Object.entries(values).filter(([k]) => k !== "type")) : values),
  events: ["entity_changed", "device_state", "device_health"],
  extra: discovered,
});
