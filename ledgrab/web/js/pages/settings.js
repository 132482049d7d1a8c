// Settings: activity-log retention, forwarding, API keys, backup and restore, HTTPS, the debug
// log viewer.

import { h } from "../dom.js";
import * as backup from "./settings-backup.js";
import * as forwarders from "./settings-forwarders.js";
import * as https from "./settings-https.js";
import * as keys from "./settings-keys.js";
import * as logs from "./logs.js";
import * as retention from "./settings-retention.js";

export const title = "Settings";

const TABS = [
  ["retention", "Activity log", retention],
  ["forwarders", "Forwarding", forwarders],
  ["keys", "API keys", keys],
  ["backup", "Backup", backup],
  ["https", "HTTPS", https],
  ["logs", "Log viewer", logs],
];

export function mount(root, ctx) {
  let current = TABS.some(([id]) => id === ctx.params.get("tab")) ? ctx.params.get("tab") : "retention";
  let unmountPanel = null;
  const panel = h("section", { class: "tab-panel", role: "tabpanel" });
  const buttons = TABS.map(([id, label]) => h("button", {
    type: "button", role: "tab", id: `tab-${id}`, "aria-controls": "settings-panel",
    onclick: () => show(id),
  }, label));
  panel.id = "settings-panel";

  function show(id) {
    current = id;
    ctx.setParams(id === "retention" ? {} : { tab: id });
    if (unmountPanel) unmountPanel();
    panel.replaceChildren();
    TABS.forEach(([tabId], i) => buttons[i].setAttribute("aria-selected", String(tabId === id)));
    const module = TABS.find(([tabId]) => tabId === id)[2];
    unmountPanel = module.mount(panel, ctx) || null;
  }

  root.append(h("h1", {}, "Settings"), h("div", { class: "tabs", role: "tablist" }, buttons), panel);
  show(current);
  return () => { if (unmountPanel) unmountPanel(); };
}
