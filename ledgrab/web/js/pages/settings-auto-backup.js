// Settings → Backup → Automatic backups: schedule, destination (a USB stick), what is kept, state.

import { api } from "../api.js";
import { fmtBytes, fmtTime, h, toast } from "../dom.js";
import { hasRoute, requestBounds } from "../schema.js";
import { MIB, rangeHint, units } from "../units.js";
import { Form, notOffered, unavailable } from "../widgets.js";

const PATH = "/api/v1/system/backup/auto";
const FIELDS = [
  ["enabled", "Back up automatically", "checkbox"],
  ["destination", "Destination directory", "text"],
  ["interval_s", "Every (minutes)", "number"],
  ["keep", "Keep the newest (backups)", "number"],
  ["max_bytes", "Keep at most (MiB)", "number"],
];
const { shown, sent, step } = units({ interval_s: 60, max_bytes: MIB }, new Set(["interval_s", "keep", "max_bytes"]));
const STATE_TEXT = { off: "Off", ok: "Working", failing: "Failing" };

function stateView(status) {
  const rows = [
    h("dt", {}, "State"), h("dd", { dataset: { autoState: status.state } }, STATE_TEXT[status.state] || status.state),
    h("dt", {}, "Last backup"), h("dd", {}, fmtTime(status.last_success) || "–"),
    h("dt", {}, "Next backup"), h("dd", {}, fmtTime(status.next_due) || "–"),
  ];
  if (status.last_error) rows.push(h("dt", {}, "Problem"), h("dd", { class: "error" }, status.last_error));
  const list = status.backups.length
    ? h("ul", { class: "auto-backups" }, status.backups.map((b) =>
      h("li", { dataset: { name: b.name } }, `${b.name} — ${fmtBytes(b.size_bytes)}, ${fmtTime(b.created)}`)))
    : h("p", { class: "empty" }, "No automatic backups in the destination yet.");
  return h("div", {}, h("dl", { class: "detail", id: "auto-backup-state" }, rows), list);
}

export function mount(root) {
  const box = h("div");
  const state = h("div");

  async function load() {
    if (!(await hasRoute(PATH))) { box.replaceChildren(notOffered("Automatic backup")); return; }
    let status;
    try {
      status = await api.get(PATH);
    } catch (err) {
      box.replaceChildren(unavailable("Automatic backup", err));
      return;
    }
    const bounds = await requestBounds(PATH, "PUT");
    const runNow = h("button", { type: "button", onclick: async () => {
      runNow.disabled = true;
      try {
        const made = await api.post(`${PATH}/run`);
        toast(`Backed up: ${made.name}`);
      } catch (err) {
        toast(err.message, "error");
      }
      await load();
    } }, "Back up now");
    const limits = (name) => ({ min: shown(name, bounds[name]?.min), max: shown(name, bounds[name]?.max) });
    const form = new Form(FIELDS.map(([name, label, type]) => ({
      name, label, type, value: shown(name, status.config[name]), ...limits(name), step: step(name),
      placeholder: name === "destination" ? "/media/usb/ledgrab-backups" : undefined,
      hint: name === "destination" ? status.destination_hint
        : name === "max_bytes" ? `${rangeHint(bounds[name], fmtBytes)} in all (now ${fmtBytes(status.config[name])})`
          : rangeHint(limits(name)),
    })), {
      submitLabel: "Save",
      extraButtons: [runNow],
      onSubmit: async (values) => {
        const body = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, sent(k, v)]));
        await api.put(PATH, { ...status.config, ...body });
        toast("Automatic backup saved");
        await load();
      },
    });
    form.el.id = "auto-backup-form";
    box.replaceChildren(form.el);
    state.replaceChildren(stateView(status));
  }

  root.append(h("div", { class: "card" }, h("h2", {}, "Automatic backups"),
    h("p", { class: "muted" }, "Off until you turn it on. Pick a USB stick rather than the SD card: a backup on the card goes down with the card."),
    box, state));
  load();
}
