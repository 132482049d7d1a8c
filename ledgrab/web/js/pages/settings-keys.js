// Settings → API keys: list, create (the key is shown once), revoke.

import { api } from "../api.js";
import { confirmDialog, fmtTime, h, toast } from "../dom.js";
import { Form, unavailable } from "../widgets.js";

export function mount(root) {
  const list = h("div", { class: "key-list" });
  const created = h("div", { class: "created" });
  const form = new Form(
    [{ name: "label", label: "Label for the new key", required: true, placeholder: "phone",
       hint: "Letters, digits, '.', '_' or '-'; it names who did what in the activity log." }],
    { submitLabel: "Create key", onSubmit: create },
  );

  async function refresh() {
    try {
      const keys = await api.get("/api/v1/system/api-keys");
      list.replaceChildren(...keys.map(row));
      if (!keys.length) list.append(h("p", { class: "empty" }, "No keys."));
    } catch (err) {
      list.replaceChildren(unavailable("API keys", err));
    }
  }

  function row(key) {
    const revoke = h("button", { type: "button", class: "danger small", onclick: () => remove(key.label) }, "Revoke");
    if (key.source === "config") {
      revoke.disabled = true;
      revoke.title = "This key comes from the configuration file or environment; remove it there.";
    }
    return h("div", { class: "list-item", dataset: { label: key.label } },
      h("div", {}, h("strong", {}, key.label), " ", h("code", { class: "muted" }, key.hint),
        h("div", { class: "hint" }, `created ${fmtTime(key.created_at)} · ${key.source}`)),
      revoke);
  }

  async function create(values) {
    const result = await api.post("/api/v1/system/api-keys", { label: values.label });
    form.fields.get("label").input.value = "";
    const code = h("code", { class: "key-value" }, result.key);
    created.replaceChildren(h("div", { class: "card key-once", role: "status" },
      h("p", {}, `Key for "${result.label}" — copy it now, it will not be shown again:`),
      code, " ",
      h("button", { type: "button", class: "small", onclick: async () => {
        try { await navigator.clipboard.writeText(result.key); toast("Copied"); }
        catch { toast("Copy failed: select the key and copy it by hand", "error"); }
      } }, "Copy")));
    await refresh();
  }

  async function remove(label) {
    if (!(await confirmDialog(`Revoke the key "${label}"? Anything using it stops working.`, "Revoke"))) return;
    try {
      await api.del(`/api/v1/system/api-keys/${encodeURIComponent(label)}`);
      toast(`Key "${label}" revoked`);
      created.replaceChildren();
    } catch (err) {
      toast(err.message, "error");
    }
    await refresh();
  }

  root.append(h("div", { class: "card" }, h("h2", {}, "API keys"),
    h("p", { class: "muted" }, "Every key has full access. Give each person or script its own key so the activity log says who did what."),
    list), h("div", { class: "card" }, h("h2", {}, "New key"), form.el, created));
  refresh();
}
