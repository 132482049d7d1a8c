// A generic list/create/edit/delete page for devices, sources and targets (the shapes in docs/architecture.md).

import { api } from "./api.js";
import { confirmDialog, h, toast } from "./dom.js";
import { hasRoute } from "./schema.js";
import { Form, notOffered, unavailable } from "./widgets.js";

export function asList(body) {
  return Array.isArray(body) ? body : body?.items || [];
}

// config: {title, path, singular, columns: [[label, fn(item)]], fields(item, lookups) -> specs,
//          lookups() -> Promise<object>, rowActions(item, refresh) -> nodes, events: [...],
//          setup(form, item, lookups), extra(root, ctx, refresh) -> optional unmount}
export function entityPage(config) {
  return function mount(root, ctx) {
    const listBox = h("div", { class: "table-wrap" });
    const editor = h("div", { class: "card", hidden: true });
    let lookups = {};
    let items = [];

    async function refresh() {
      if (!(await hasRoute(config.path))) {
        listBox.replaceChildren(notOffered(config.title));
        return;
      }
      try {
        [items, lookups] = await Promise.all([
          api.get(config.path).then(asList),
          config.lookups ? config.lookups() : {},
        ]);
      } catch (err) {
        listBox.replaceChildren(unavailable(config.title, err));
        return;
      }
      if (!items.length) {
        listBox.replaceChildren(h("p", { class: "empty" }, `No ${config.title.toLowerCase()} yet.`));
        return;
      }
      listBox.replaceChildren(h("table", { id: `${config.singular}-table` },
        h("thead", {}, h("tr", {}, config.columns.map(([label, , cls]) => h("th", { class: cls }, label)), h("th", {}, ""))),
        h("tbody", {}, items.map((item) => h("tr", { dataset: { id: item.id, name: item.name } },
          config.columns.map(([, render, cls]) => h("td", { class: cls }, render(item, lookups))),
          h("td", {}, h("div", { class: "row end" },
            config.rowActions ? config.rowActions(item, refresh) : null,
            h("button", { type: "button", class: "small", onclick: () => openEditor(item) }, "Edit"),
            h("button", { type: "button", class: "small danger", onclick: () => remove(item) }, "Delete"))))))));
    }

    async function openEditor(item = null) {
      // The form is built from what the lookups bring (the schema among them): wait for them.
      if (config.lookups && !Object.keys(lookups).length) {
        try { lookups = await config.lookups(); } catch (err) { toast(err.message, "error"); return; }
      }
      const form = new Form(config.fields(item, lookups), {
        submitLabel: item ? "Save" : `Create ${config.singular}`,
        extraButtons: [h("button", { type: "button", class: "ghost", onclick: closeEditor }, "Cancel")],
        onSubmit: async (values) => {
          const body = config.toBody ? config.toBody(values, item, form) : values;
          if (item) await api.patch(`${config.path}/${encodeURIComponent(item.id)}`, body);
          else await api.post(config.path, body);
          toast(`${config.singular[0].toUpperCase()}${config.singular.slice(1)} "${values.name ?? item?.name}" ${item ? "saved" : "created"}`);
          closeEditor();
          await refresh();
        },
      });
      form.el.id = `${config.singular}-form`;
      if (config.setup) config.setup(form, item, lookups);
      editor.replaceChildren(h("h2", {}, item ? `Edit ${item.name}` : `New ${config.singular}`), form.el);
      editor.hidden = false;
      form.fields.values().next().value?.input.focus();
    }

    function closeEditor() {
      editor.hidden = true;
      editor.replaceChildren();
    }

    async function remove(item) {
      if (!(await confirmDialog(`Delete ${config.singular} "${item.name}"?`, "Delete"))) return;
      try {
        await api.del(`${config.path}/${encodeURIComponent(item.id)}`);
        toast(`Deleted "${item.name}"`);
      } catch (err) {
        toast(err.message, "error");
      }
      await refresh();
    }

    const offs = (config.events || ["entity_changed"]).map((type) => ctx.feed.on(type, () => refresh()));
    offs.push(ctx.feed.on("resync", () => refresh()));
    root.append(
      h("div", { class: "spread" }, h("h1", {}, config.title),
        h("button", { type: "button", class: "primary", id: `new-${config.singular}`, onclick: () => openEditor() }, `New ${config.singular}`)),
      editor,
      h("div", { class: "card" }, listBox));
    const extraUnmount = config.extra ? config.extra(root, ctx, refresh) : null;
    refresh();
    return () => { offs.forEach((off) => off()); if (extraUnmount) extraUnmount(); };
  };
}
