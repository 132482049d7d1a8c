// Settings → Backup: download the whole database (configuration and activity log), restore one,
// and the auto-backup schedule.

import { api, download, upload } from "../api.js";
import { confirmDialog, fmtBytes, fmtTime, h, toast } from "../dom.js";
import { hasRoute, requestBounds } from "../schema.js";
import { Form, notOffered, unavailable } from "../widgets.js";

const AUTO = "/api/v1/system/backup/auto";

function range(b, format = String) {
  return b && (b.min !== undefined || b.max !== undefined) ? `Allowed: ${format(b.min)} to ${format(b.max)}.` : "";
}

export function mount(root) {
  const status = h("p", { class: "error", role: "alert" });
  const result = h("div", { role: "status" });
  const file = h("input", { type: "file", id: "restore-file", accept: ".db,.sqlite,.sqlite3,application/vnd.sqlite3,application/octet-stream" });
  const autoBox = h("div");

  async function backup() {
    status.textContent = "";
    try {
      const name = await download("/api/v1/system/backup", {}, "ledgrab-backup.db");
      toast(`Saved ${name}`);
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function restore() {
    status.textContent = "";
    result.replaceChildren();
    const chosen = file.files?.[0];
    if (!chosen) { status.textContent = "Choose a backup file first."; return; }
    const ok = await confirmDialog(
      `Replace this controller's configuration and activity log with "${chosen.name}"? Running targets stop and those set to start automatically start again.`,
      "Restore");
    if (!ok) return;
    try {
      const done = await upload("/api/v1/system/restore", chosen, { name: chosen.name });
      result.replaceChildren(h("p", { class: "muted", id: "restore-result" },
        `Restored ${done.restored_from} (${fmtBytes(done.size_bytes)}, schema ${done.schema_version}).`,
        done.previous_database ? ` The previous database was kept as ${done.previous_database}.` : ""));
      toast("Backup restored");
    } catch (err) {
      status.textContent = err.message;
    }
  }

  async function loadAuto() {
    if (!(await hasRoute(AUTO))) { autoBox.replaceChildren(notOffered("Auto-backup")); return; }
    let current;
    try {
      current = await api.get(AUTO);
    } catch (err) {
      autoBox.replaceChildren(unavailable("Auto-backup", err));
      return;
    }
    const bounds = await requestBounds(AUTO, "PUT");
    const c = current.config;
    const form = new Form([
      { name: "enabled", label: "Back up automatically", type: "checkbox", value: c.enabled },
      { name: "interval_s", label: "Every (seconds)", type: "number", value: c.interval_s,
        hint: `${range(bounds.interval_s)} 86400 is once a day.` },
      { name: "destination", label: "Folder", value: c.destination, hint: current.destination_hint },
      { name: "keep", label: "Keep the newest", type: "number", value: c.keep, hint: range(bounds.keep) },
      { name: "max_bytes", label: "At most (bytes in all)", type: "number", value: c.max_bytes,
        hint: `${range(bounds.max_bytes, fmtBytes)} Now ${fmtBytes(c.max_bytes)}.` },
    ], {
      submitLabel: "Save schedule",
      onSubmit: async (values) => {
        await api.put(AUTO, { ...c, destination: "", ...values });
        toast("Auto-backup settings saved");
        await loadAuto();
      },
    });
    form.el.id = "auto-backup-form";
    const runNow = h("button", { type: "button", onclick: async () => {
      try {
        const made = await api.post(`${AUTO}/run`);
        toast(`Made ${made.name}`);
      } catch (err) {
        toast(err.message, "error");
      }
      await loadAuto();
    } }, "Back up now");
    runNow.disabled = !c.enabled;
    autoBox.replaceChildren(form.el,
      h("dl", { class: "detail", id: "auto-backup-state" },
        h("dt", {}, "State"), h("dd", {}, h("span", { class: `badge ${current.state === "failing" ? "error" : current.state}` }, current.state)),
        h("dt", {}, "Last backup"), h("dd", {}, fmtTime(current.last_success) || "never"),
        current.last_error ? [h("dt", {}, "Last error"), h("dd", { class: "error" }, current.last_error)] : null,
        h("dt", {}, "Next"), h("dd", {}, fmtTime(current.next_due) || "–")),
      current.backups.length
        ? h("ul", { class: "backups" }, current.backups.map((b) => h("li", {}, `${b.name} · ${fmtBytes(b.size_bytes)} · ${fmtTime(b.created)}`)))
        : h("p", { class: "empty" }, "No automatic backups yet."),
      h("div", { class: "row end" }, runNow));
  }

  const backupBox = h("div", {}, h("button", { type: "button", class: "primary", onclick: backup }, "Download backup"));
  const restoreBox = h("div", {}, h("label", { for: "restore-file" }, "Backup file"), file,
    h("div", { class: "row end" }, h("button", { type: "button", class: "danger", onclick: restore }, "Restore…")));
  root.append(
    h("div", { class: "card" }, h("h2", {}, "Backup"),
      h("p", { class: "muted" }, "One file holds everything: devices, sources, targets, settings and the activity log."),
      backupBox),
    h("div", { class: "card" }, h("h2", {}, "Restore"), restoreBox, status, result),
    h("div", { class: "card" }, h("h2", {}, "Automatic backups"), autoBox));
  hasRoute("/api/v1/system/backup").then((ok) => { if (!ok) backupBox.replaceChildren(notOffered("Backup")); });
  hasRoute("/api/v1/system/restore", "post").then((ok) => { if (!ok) restoreBox.replaceChildren(notOffered("Restore")); });
  loadAuto();
}
