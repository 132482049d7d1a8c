// Settings → Forwarding: the activity log's forwarders (syslog, OTLP, webhook) with their delivery
// status; add, edit, remove. Secrets are write-only: an empty secret field keeps the stored one.

import { SEVERITIES } from "../activity-common.js";
import { api } from "../api.js";
import { confirmDialog, fmtTime, h, toast } from "../dom.js";
import { componentSchema } from "../schema.js";
import { specFor, unionMembers } from "../schema-form.js";
import { Form, unavailable } from "../widgets.js";

const PATH = "/api/v1/activity/forwarders";
const KEEP = "leave empty to keep the stored value";
// Words for some choices; the choices themselves, their bounds and defaults are the document's.
const WORDS = {
  syslog: "syslog (RFC 5424)", otlp: "OpenTelemetry (OTLP/HTTP JSON)", webhook: "Webhook (signed JSON)",
  udp: "UDP (RFC 5426)", tcp: "TCP (RFC 6587)", tls: "TLS (RFC 5425)",
  now: "the next entry recorded", oldest: "the oldest entry held",
};

// Field `name` of the document's `component` (choices, bounds, default) under the form's own
// label, value and visibility.
function documented(doc, component, name, spec) {
  const base = specFor(doc, name, doc.components?.schemas?.[component]?.properties?.[name], { required: true });
  const options = base.options?.map(([value, text]) => [value, WORDS[value] || text]);
  return {
    ...base, ...spec, type: base.type === "range" ? "number" : base.type,
    value: spec.value ?? base.value, ...(options ? { options } : {}),
  };
}

function summary(target) {
  if (target.kind === "syslog") return `syslog ${target.transport} ${target.host}:${target.port} (${target.facility})`;
  return `${target.kind} ${target.url}`;
}

function statusLine(status) {
  if (!status) return h("span", { class: "badge stopped" }, "disabled");
  const parts = [`delivered up to #${status.delivered_seq}`];
  if (status.lag_entries) parts.push(`${status.lag_entries} waiting`);
  if (status.lag_seconds) parts.push(`oldest ${Math.round(status.lag_seconds)} s old`);
  if (status.last_success) parts.push(`last success ${fmtTime(status.last_success)}`);
  if (status.retry_in_s !== null && status.retry_in_s !== undefined) parts.push(`retry in ${status.retry_in_s.toFixed(1)} s`);
  return h("span", {},
    h("span", { class: `badge ${status.state === "ok" ? "ok" : "warning"}`, dataset: { state: status.state } }, status.state),
    " ", parts.join(" · "),
    status.last_error ? h("div", { class: "error", dataset: { role: "last-error" } }, status.last_error) : null);
}

function fields(config, doc) {
  const t = config?.target || { kind: "syslog" };
  const f = config?.filters || {};
  const isKind = (...kinds) => (v) => kinds.includes(v.kind);
  const tls = (v) => v.kind === "syslog" && v.transport === "tls";
  const kinds = Object.keys(unionMembers(doc, doc.components?.schemas?.ForwarderConfig?.properties?.target, "kind"));
  const severity = documented(doc, "ForwarderConfig", "min_severity",
    { label: "Minimum severity", value: config?.min_severity });
  severity.options.sort(([a], [b]) => SEVERITIES.indexOf(a) - SEVERITIES.indexOf(b));
  return [
    { name: "name", label: "Name", value: config?.name, required: true, disabled: Boolean(config),
      hint: "a-z, 0-9, '-' or '_'; names the forwarder in the log and on /health" },
    { name: "kind", label: "Kind", type: "select", value: t.kind, disabled: Boolean(config),
      options: kinds.map((k) => [k, WORDS[k] || k]) },
    { name: "enabled", label: "Enabled", type: "checkbox", value: config ? config.enabled : true },
    { name: "host", label: "Collector host", value: t.host, show: isKind("syslog") },
    documented(doc, "SyslogTarget", "port", { label: "Port", value: t.port, show: isKind("syslog") }),
    documented(doc, "SyslogTarget", "transport", { label: "Transport", value: t.transport, show: isKind("syslog") }),
    documented(doc, "SyslogTarget", "facility", { label: "Facility", value: t.facility, show: isKind("syslog") }),
    { name: "url", label: "URL", value: t.url, show: isKind("otlp", "webhook"),
      placeholder: "http://collector:4318/v1/logs" },
    { name: "ca_pem", label: "CA certificate (PEM)", type: "textarea", value: t.ca_pem,
      show: (v) => tls(v) || (v.kind !== "syslog" && String(v.url || "").startsWith("https:")) },
    { name: "client_cert_pem", label: "Client certificate (PEM, optional)", type: "textarea", value: t.client_cert_pem, show: tls },
    { name: "client_key_pem", label: "Client key (PEM)", type: "textarea", show: tls,
      placeholder: config?.secrets_set?.includes("client_key_pem") ? KEEP : "" },
    { name: "headers", label: "Headers (JSON)", type: "json", show: isKind("otlp"),
      placeholder: config?.secrets_set?.includes("headers") ? KEEP : '{"Authorization": "Bearer …"}' },
    { name: "secret", label: "HMAC secret", type: "password", show: isKind("webhook"),
      placeholder: config?.secrets_set?.includes("secret") ? KEEP : "16 characters or more" },
    { name: "categories", label: "Categories (comma separated, empty = all)", value: (f.categories || []).join(",") },
    severity,
    documented(doc, "ForwarderConfig", "batch_size", { label: "Entries per batch", value: config?.batch_size }),
    documented(doc, "ForwarderConfig", "start", { label: "Start with", value: config?.start, disabled: Boolean(config) }),
  ];
}

function toConfig(values, before) {
  const kind = before?.target.kind ?? values.kind;
  const target = { kind };
  if (kind === "syslog") {
    Object.assign(target, { host: values.host, port: values.port, transport: values.transport, facility: values.facility });
    if (values.transport === "tls") {
      target.ca_pem = values.ca_pem;
      target.client_cert_pem = values.client_cert_pem;
      target.client_key_pem = values.client_key_pem ?? null;
    }
  } else {
    target.url = values.url;
    target.ca_pem = values.ca_pem;
    if (kind === "otlp") target.headers = values.headers ?? null;
    else target.secret = values.secret ?? null;
  }
  const categories = (values.categories || "").split(",").map((x) => x.trim()).filter(Boolean);
  return {
    name: before?.name ?? values.name,
    enabled: values.enabled,
    target,
    filters: { ...(before?.filters || {}), categories: categories.length ? categories : null },
    min_severity: values.min_severity,
    batch_size: values.batch_size,
    start: before?.start ?? values.start,
  };
}

export function mount(root) {
  const list = h("div", { class: "forwarder-list", id: "forwarder-list" });
  const editor = h("div", { id: "forwarder-editor" });
  let current = [];
  let timer = null;

  // The API's list as sent back: every other forwarder unchanged, its secrets null (= kept);
  // those from the configuration file are not part of it.
  const unchanged = (except) => current
    .filter((f) => f.source !== "config" && f.config.name !== except).map((f) => f.config);

  async function refresh() {
    try {
      current = (await api.get(PATH)).forwarders;
    } catch (err) {
      list.replaceChildren(unavailable("Forwarding", err));
      return;
    }
    list.replaceChildren(...current.map(row));
    if (!current.length) list.append(h("p", { class: "empty" }, "No forwarders: the log stays on this board."));
  }

  function row(item) {
    const { config } = item;
    return h("div", { class: "list-item", dataset: { forwarder: config.name } },
      h("div", {}, h("strong", {}, config.name), " ", h("code", { class: "muted" }, summary(config.target)),
        h("div", { class: "hint" }, statusLine(item.status))),
      item.source === "config"
        ? h("span", { class: "hint", title: "Set in the configuration file ([[forwarders]]); change it there." }, "from the config file")
        : h("div", { class: "row" },
          h("button", { type: "button", class: "small", onclick: () => edit(item) }, "Edit"),
          h("button", { type: "button", class: "danger small", onclick: () => remove(config.name) }, "Remove")));
  }

  async function edit(item) {
    const before = item?.config;
    const { doc } = await componentSchema("ForwarderConfig");
    const form = new Form(fields(item ? { ...before, secrets_set: item.secrets_set } : null, doc), {
      submitLabel: before ? "Save forwarder" : "Add forwarder",
      extraButtons: [h("button", { type: "button", class: "ghost", onclick: () => editor.replaceChildren() }, "Cancel")],
      onSubmit: async (values) => {
        const config = toConfig(values, before);
        const others = unchanged(config.name);
        const index = current.findIndex((f) => f.config.name === config.name);
        const next = index < 0 ? [...others, config] : current.filter((f) => f.source !== "config")
          .map((f) => (f.config.name === config.name ? config : f.config));
        await api.put(PATH, { forwarders: next });
        toast(`Forwarder "${config.name}" saved`);
        editor.replaceChildren();
        await refresh();
      },
    });
    form.el.id = "forwarder-form";
    editor.replaceChildren(h("div", { class: "card" }, h("h2", {}, before ? `Edit ${before.name}` : "New forwarder"), form.el));
  }

  async function remove(name) {
    if (!(await confirmDialog(`Remove the forwarder "${name}"? Entries stop going to its collector.`, "Remove"))) return;
    try {
      await api.put(PATH, { forwarders: unchanged(name) });
      toast(`Forwarder "${name}" removed`);
    } catch (err) {
      toast(err.message, "error");
    }
    await refresh();
  }

  root.append(
    h("div", { class: "card" }, h("h2", {}, "Forwarding"),
      h("p", { class: "muted" }, "Send every activity entry to a syslog server, an OpenTelemetry collector or a webhook. Entries are sent from the log itself, in order and at least once: a collector that was away gets what it missed when it returns."),
      list,
      h("div", { class: "row end" }, h("button", { type: "button", class: "primary", id: "add-forwarder", onclick: () => edit(null) }, "Add forwarder"))),
    editor);
  refresh();
  timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}
