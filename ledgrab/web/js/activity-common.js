// Shared by the Activity tab and the dashboard widget: entry rows, links, the detail dialog.

import { fmtTime, h, utcOffset } from "./dom.js";

export const CATEGORIES = ["entity", "auth", "device", "system"];
export const SEVERITIES = ["info", "warning", "error", "critical"];

// The Activity tab filtered to what an entry is about, with the entry itself opened.
export function entryLink(entry) {
  const qs = new URLSearchParams();
  if (entry.entity_type && entry.entity_id) {
    qs.set("entity_type", entry.entity_type);
    qs.set("entity_id", entry.entity_id);
  } else {
    qs.append("category", entry.category);
  }
  qs.set("open", entry.id);
  return `#/activity?${qs}`;
}

export function severityBadge(severity) {
  return h("span", { class: `badge ${severity}` }, severity);
}

export function entityLabel(entry) {
  if (!entry.entity_type) return "";
  return `${entry.entity_type} ${entry.entity_name || entry.entity_id || ""}`.trim();
}

export function showEntry(entry) {
  const fields = ["id", "ts", "category", "action", "severity", "actor", "message", "entity_type", "entity_id", "entity_name"];
  const dialog = h("dialog", { class: "entry-detail", "aria-label": "Activity entry" },
    h("h2", {}, entry.message),
    h("dl", { class: "detail" }, fields.flatMap((name) => [
      h("dt", {}, name),
      h("dd", { dataset: { field: name } }, name === "ts" ? `${fmtTime(entry.ts)} ${utcOffset(entry.ts)} (${entry.ts})` : String(entry[name] ?? "–")),
    ])),
    h("h3", {}, "Metadata"),
    h("pre", { class: "meta", dataset: { field: "metadata" } }, JSON.stringify(entry.metadata ?? {}, null, 2)),
    h("form", { method: "dialog", class: "row end" }, h("button", { class: "primary" }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
