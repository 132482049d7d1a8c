// The Activity tab: filters (kept in the address), cursor paging, live entries with a pause
// toggle, an entry's detail, export of the filtered rows, clearing the log, and its proof.

import { api, download } from "../api.js";
import { confirmDialog, h, toast } from "../dom.js";
import { CATEGORIES, SEVERITIES, entityLabel, entryTime, severityBadge, showEntry } from "../activity-common.js";
import { chainPanel } from "../activity-chain.js";
import { hasRoute } from "../schema.js";
import { notOffered } from "../widgets.js";

export const title = "Activity";

const PAGE_SIZE = 50;
const MAX_ROWS = 1000;  // rows kept on screen; "load more" and live rows beyond it drop the oldest
const RANGES = [["", "Any time"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"],
  ["30d", "Last 30 days"], ["custom", "Custom…"]];
const RANGE_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

function chips(name, values, selected) {
  return h("fieldset", { class: "chips" }, h("legend", {}, name === "category" ? "Category" : "Severity"),
    values.map((v) => h("label", { class: "check" },
      h("input", { type: "checkbox", name, value: v, checked: selected.includes(v) }), v)));
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
}

export function mount(root, ctx) {
  const p = ctx.params;
  const form = h("form", { class: "filters", id: "activity-filters" },
    chips("category", CATEGORIES, p.getAll("category")),
    chips("severity", SEVERITIES, p.getAll("severity")),
    h("div", {}, h("label", { for: "f-q" }, "Message contains"), h("input", { id: "f-q", name: "q", type: "search", value: p.get("q") || "" })),
    h("div", {}, h("label", { for: "f-actor" }, "Actor"), h("input", { id: "f-actor", name: "actor", value: p.get("actor") || "" })),
    h("div", {}, h("label", { for: "f-etype" }, "Entity type"), h("select", { id: "f-etype", name: "entity_type" },
      ["", "device", "source", "target", "settings", "api_key", "discovered_device"].map((v) => h("option", { value: v }, v || "Any")))),
    h("div", {}, h("label", { for: "f-eid" }, "Entity id"), h("input", { id: "f-eid", name: "entity_id", value: p.get("entity_id") || "" })),
    h("div", {}, h("label", { for: "f-range" }, "Time"), h("select", { id: "f-range", name: "range" },
      RANGES.map(([v, l]) => h("option", { value: v }, l)))),
    h("div", { class: "custom-range" }, h("label", { for: "f-since" }, "From"), h("input", { id: "f-since", name: "since", type: "datetime-local", value: localInput(p.get("since")) })),
    h("div", { class: "custom-range" }, h("label", { for: "f-until" }, "To"), h("input", { id: "f-until", name: "until", type: "datetime-local", value: localInput(p.get("until")) })),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", class: "ghost", onclick: reset }, "Reset")));
  form.elements.entity_type.value = p.get("entity_type") || "";
  form.elements.range.value = p.get("range") || (p.get("since") || p.get("until") ? "custom" : "");

  const error = h("p", { class: "error", role: "alert" });
  const summary = h("span", { class: "muted", id: "activity-total" });
  const tbody = h("tbody");
  const more = h("button", { type: "button", id: "activity-more", hidden: true, onclick: () => load(true) }, "Load more");
  const pause = h("button", { type: "button", id: "activity-pause", "aria-pressed": "false", onclick: togglePause }, "Pause live");
  const pending = h("span", { class: "muted", id: "activity-pending", role: "status" });
  let cursor = null;
  let loads = 0;
  let paused = false;
  let missed = 0;
  let total = 0;
  let totalExact = true;
  let arrivedDuringLoad = null;  // live entries that came while a first page was on its way

  function filters() {
    const f = form.elements;
    const query = {
      category: [...form.querySelectorAll("input[name=category]:checked")].map((i) => i.value),
      severity: [...form.querySelectorAll("input[name=severity]:checked")].map((i) => i.value),
      actor: f.actor.value.trim(), entity_type: f.entity_type.value, entity_id: f.entity_id.value.trim(),
      message_like: f.q.value.trim(),
    };
    const range = f.range.value;
    if (RANGE_MS[range]) query.since = new Date(Date.now() - RANGE_MS[range]).toISOString();
    if (range === "custom") {
      if (f.since.value) query.since = new Date(f.since.value).toISOString();
      if (f.until.value) query.until = new Date(f.until.value).toISOString();
    }
    return query;
  }

  function saveToAddress() {
    const q = filters();
    const params = new URLSearchParams();
    q.category.forEach((c) => params.append("category", c));
    q.severity.forEach((s) => params.append("severity", s));
    for (const name of ["actor", "entity_type", "entity_id"]) if (q[name]) params.set(name, q[name]);
    if (q.message_like) params.set("q", q.message_like);
    const range = form.elements.range.value;
    if (range) params.set("range", range);
    if (range === "custom") {
      if (q.since) params.set("since", q.since);
      if (q.until) params.set("until", q.until);
    }
    ctx.setParams(params);
  }

  function matches(entry, q) {
    if (q.category.length && !q.category.includes(entry.category)) return false;
    if (q.severity.length && !q.severity.includes(entry.severity)) return false;
    if (q.actor && entry.actor !== q.actor) return false;
    if (q.entity_type && entry.entity_type !== q.entity_type) return false;
    if (q.entity_id && entry.entity_id !== q.entity_id) return false;
    if (q.message_like && !entry.message.toLowerCase().includes(q.message_like.toLowerCase())) return false;
    if (q.until && new Date(entry.ts) > new Date(q.until)) return false;
    return true;
  }

  function row(entry, fresh = false) {
    // Still in the recorder's buffer when the page was read: shown, marked discreetly.
    const waiting = entry.durable === false;
    return h("tr", { class: `clickable${fresh ? " fresh" : ""}${waiting ? " not-durable" : ""}`, tabindex: "0",
      title: waiting ? "Not written to the card yet (it is within the next commit)" : null,
      dataset: { id: entry.id, category: entry.category },
      onclick: () => showEntry(entry),
      // preventDefault: else the same Enter also "clicks" the dialog's focused Close button.
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); showEntry(entry); } } },
    h("td", { class: "nowrap" }, entryTime(entry)),
    h("td", {}, severityBadge(entry.severity)),
    h("td", { class: "hide-phone" }, entry.category),
    h("td", { class: "hide-phone" }, entry.actor),
    h("td", { class: "message" }, entry.message),
    h("td", { class: "hide-phone" }, entityLabel(entry)));
  }

  function showTotal() {
    // A text search counts only the newest entries it reads (the server's bound per request).
    const count = total.toLocaleString();
    summary.textContent = totalExact
      ? `${count} ${total === 1 ? "entry" : "entries"}`
      : `${count}+ entries (counted among the newest)`;
  }

  async function load(append = false) {
    error.textContent = "";
    if (!(await hasRoute("/api/v1/activity"))) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 6 }, notOffered("The activity log"))));
      return;
    }
    // One request at a time decides the table: a second click on Load more would append the
    // same page twice, and a reload racing an older append would mix two lists.
    const generation = ++loads;
    more.disabled = true;
    if (!append) arrivedDuringLoad = [];
    try {
      const page = await api.get("/api/v1/activity", { ...filters(), limit: PAGE_SIZE, cursor: append ? cursor : null });
      if (generation !== loads) return;
      if (!append) tbody.replaceChildren();
      tbody.querySelector("tr.empty-row")?.remove();
      tbody.append(...page.items.map((e) => row(e)));
      if (!append) {
        // Subscribed first, then loaded: what arrived meanwhile and is not in the page is newer.
        const inPage = new Set(page.items.map((e) => e.id));
        const newer = arrivedDuringLoad.filter((e) => !inPage.has(e.id));
        arrivedDuringLoad = null;
        tbody.prepend(...newer.reverse().map((e) => row(e, true)));
        page.total += newer.length;
      }
      while (tbody.childElementCount > MAX_ROWS) tbody.firstElementChild.remove();
      cursor = page.next_cursor;
      total = page.total;
      totalExact = page.total_exact !== false;
      more.hidden = !cursor;
      showTotal();
      if (!tbody.childElementCount) {
        // An empty page with a cursor: the server stopped at its read bound, older entries remain.
        const text = cursor ? "No matches among the newest entries. Load more to search older ones." : "No entries match these filters.";
        tbody.append(h("tr", { class: "empty-row" }, h("td", { colspan: 6, class: "empty" }, text)));
      }
    } catch (err) {
      if (generation === loads) { error.textContent = err.message; arrivedDuringLoad = null; }
    } finally {
      if (generation === loads) more.disabled = false;
    }
  }

  function togglePause() {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume live" : "Pause live";
    if (!paused) { missed = 0; pending.textContent = ""; load(); }
  }

  const offEntry = ctx.feed.on("activity_logged", ({ entry }) => {
    // The clock was just synchronised: the server now shows earlier entries corrected.
    if (entry?.action === "system.clock_synced" && !paused && !arrivedDuringLoad) { load(); return; }
    if (!entry || !matches(entry, filters())) return;
    if (arrivedDuringLoad && !paused) { arrivedDuringLoad.push(entry); return; }
    if (paused) { missed += 1; pending.textContent = `${missed} new while paused`; return; }
    if (tbody.querySelector(`tr[data-id="${CSS.escape(entry.id)}"]`)) return;
    tbody.querySelector("tr.empty-row")?.remove();
    tbody.prepend(row(entry, true));
    while (tbody.childElementCount > MAX_ROWS) tbody.lastElementChild.remove();
    total += 1;
    showTotal();
  });
  const offResync = ctx.feed.on("resync", () => { if (!paused) load(); });

  function exportAs(format) {
    download("/api/v1/activity/export", { ...filters(), format }, `activity.${format}`)
      .then((name) => toast(`Saved ${name}`))
      .catch((err) => { error.textContent = err.message; });
  }

  async function clearLog() {
    if (!(await confirmDialog("Delete every activity entry? This cannot be undone (a backup keeps a copy).", "Clear log"))) return;
    try {
      await api.del("/api/v1/activity");
      toast("Activity log cleared");
      await load();
    } catch (err) {
      error.textContent = err.message;
    }
  }

  function reset() {
    form.reset();
    for (const input of form.querySelectorAll("input[type=checkbox]")) input.checked = false;
    for (const input of form.querySelectorAll("input:not([type=checkbox]), select")) input.value = "";
    apply();
  }

  function apply() {
    for (const el of form.querySelectorAll(".custom-range")) el.hidden = form.elements.range.value !== "custom";
    saveToAddress();
    load();
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  form.elements.range.addEventListener("change", apply);
  for (const box of form.querySelectorAll("input[type=checkbox], select")) box.addEventListener("change", apply);

  const chain = chainPanel();
  root.append(
    h("div", { class: "spread" }, h("h1", {}, "Activity"),
      h("div", { class: "row" },
        h("button", { type: "button", id: "export-csv", onclick: () => exportAs("csv") }, "Export CSV"),
        h("button", { type: "button", id: "export-json", onclick: () => exportAs("json") }, "Export JSON"),
        h("button", { type: "button", class: "danger", id: "clear-log", onclick: clearLog }, "Clear log…"))),
    chain.element,
    h("div", { class: "card" }, form),
    h("div", { class: "card" },
      h("div", { class: "spread" }, summary, h("div", { class: "row" }, pending, pause)),
      error,
      h("div", { class: "table-wrap" }, h("table", { id: "activity-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Severity"), h("th", { class: "hide-phone" }, "Category"),
          h("th", { class: "hide-phone" }, "Actor"), h("th", {}, "Message"), h("th", { class: "hide-phone" }, "Entity"))),
        tbody)),
      h("div", { class: "row end" }, more)));
  for (const el of form.querySelectorAll(".custom-range")) el.hidden = form.elements.range.value !== "custom";
  const offLive = ctx.feed.whenLive(() => load());
  const openId = p.get("open");
  if (openId) {
    api.get(`/api/v1/activity/${encodeURIComponent(openId)}`).then(showEntry).catch((err) => { error.textContent = err.message; });
  }
  return () => { offEntry(); offResync(); offLive(); chain.close(); };
}
