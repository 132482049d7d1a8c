// Settings → Backup: download the whole database (configuration and activity log), restore one.

import { download, ownRestores, upload } from "../api.js";
import { confirmDialog, fmtBytes, h, toast } from "../dom.js";
import { hasRoute } from "../schema.js";
import { notOffered } from "../widgets.js";
import * as autoBackup from "./settings-auto-backup.js";

export function mount(root) {
  const status = h("p", { class: "error", role: "alert" });
  const result = h("div", { role: "status" });
  const file = h("input", { type: "file", id: "restore-file", accept: ".db,.sqlite,.sqlite3,application/octet-stream" });

  async function backup() {
    status.textContent = "";
    try {
      const name = await download("/api/v1/system/backup", {}, "ledgrab-backup.db");
      toast(`Saved ${name}`);
    } catch (err) {
      status.textContent = err.status === 404 ? "Backup is not available on this server version." : err.message;
    }
  }

  async function restore() {
    status.textContent = "";
    result.replaceChildren();
    const chosen = file.files?.[0];
    if (!chosen) { status.textContent = "Choose a backup file first."; return; }
    const ok = await confirmDialog(
      `Replace this controller's configuration and activity log with "${chosen.name}"? Running targets restart.`,
      "Restore");
    if (!ok) return;
    try {
      // Not crypto.randomUUID(): that exists only on HTTPS or localhost, and the device is plain
      // HTTP on the LAN. The token only has to tell this tab's restores apart.
      const origin = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      ownRestores.add(origin);
      const done = await upload("/api/v1/system/restore", chosen, { name: chosen.name, origin });
      result.replaceChildren(h("p", { class: "muted", id: "restore-result" },
        `Restored ${done.restored_from} (${fmtBytes(done.size_bytes)}, schema ${done.schema_version}).`,
        done.previous_database ? ` The previous database was kept as ${done.previous_database}.` : ""));
      toast("Backup restored");
    } catch (err) {
      status.textContent = err.status === 404 ? "Restore is not available on this server version." : err.message;
    }
  }

  const backupBox = h("div", {}, h("button", { type: "button", class: "primary", onclick: backup }, "Download backup"));
  const restoreBox = h("div", {}, h("label", { for: "restore-file" }, "Backup file"), file,
    h("div", { class: "row end" }, h("button", { type: "button", class: "danger", onclick: restore }, "Restore…")));
  root.append(h("div", { class: "card" }, h("h2", {}, "Backup"),
    h("p", { class: "muted" }, "One file holds everything: devices, sources, targets, settings and the activity log."),
    backupBox),
  h("div", { class: "card" }, h("h2", {}, "Restore"), restoreBox, status, result));
  autoBackup.mount(root);
  hasRoute("/api/v1/system/backup").then((ok) => { if (!ok) backupBox.replaceChildren(notOffered("Backup")); });
  hasRoute("/api/v1/system/restore", "post").then((ok) => { if (!ok) restoreBox.replaceChildren(notOffered("Restore")); });
}
