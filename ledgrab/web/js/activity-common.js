// Shared by the Activity tab and the dashboard widget: entry rows, links, the detail dialog.

import { fmtTime, h, timeEl, utcOffset } from "./dom.js";

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

// Whether the board's clock was synchronised when the entry was made: the API says so
// (clock_synchronised); a live entry carries only its stamp in the metadata.
function clockSynchronised(entry) {
  if (entry.clock_synchronised !== undefined && entry.clock_synchronised !== null) return entry.clock_synchronised;
  const stamp = entry.metadata?.clock;  // [synchronised, boot tag, µs since boot]
  return Array.isArray(stamp) && typeof stamp[0] === "boolean" ? stamp[0] : null;
}

// An entry's time: the corrected one (marked) when the server derived it, the stored one marked
// "clock not synchronised" while no synchronisation step says better, else the stored one.
export function entryTime(entry) {
  if (entry.ts_corrected) {
    return h("span", { class: "entry-time corrected" }, timeEl(entry.ts_corrected), " ",
      h("span", { class: "clock-mark corrected", dataset: { clock: "corrected" },
        title: `Recorded as ${fmtTime(entry.ts)} while the board's clock was not synchronised; corrected from the later synchronisation (the stored time is kept)` },
      "corrected"));
  }
  if (clockSynchronised(entry) === false) {
    return h("span", { class: "entry-time unsynced" }, timeEl(entry.ts), " ",
      h("span", { class: "clock-mark unsynced", dataset: { clock: "unsynced" },
        title: "Recorded before the board's clock was synchronised: this time may be wrong until a time server answers" },
      "clock not synchronised"));
  }
  return timeEl(entry.ts);
}

function clockRows(entry) {
  const synced = clockSynchronised(entry);
  if (synced === null) return [];
  const rows = [h("dt", {}, "clock"), h("dd", { dataset: { field: "clock" } },
    synced ? "synchronised" : "not synchronised when recorded")];
  if (entry.ts_corrected) {
    rows.push(h("dt", {}, "ts_corrected"), h("dd", { dataset: { field: "ts_corrected" } },
      `${fmtTime(entry.ts_corrected)} ${utcOffset(entry.ts_corrected)} (${entry.ts_corrected}), derived from the clock's synchronisation`));
  }
  return rows;
}

export function showEntry(entry) {
  const fields = ["id", "ts", "category", "action", "severity", "actor", "message", "entity_type", "entity_id", "entity_name"];
  const dialog = h("dialog", { class: "entry-detail", "aria-label": "Activity entry" },
    h("h2", {}, entry.message),
    h("dl", { class: "detail" }, fields.flatMap((name) => [
      h("dt", {}, name),
      h("dd", { dataset: { field: name } }, name === "ts" ? `${fmtTime(entry.ts)} ${utcOffset(entry.ts)} (${entry.ts})` : String(entry[name] ?? "–")),
    ]), clockRows(entry)),
    h("h3", {}, "Metadata"),
    h("pre", { class: "meta", dataset: { field: "metadata" } }, JSON.stringify(entry.metadata ?? {}, null, 2)),
    h("form", { method: "dialog", class: "row end" }, h("button", { class: "primary" }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}
