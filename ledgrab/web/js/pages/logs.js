// The debug log viewer: a live tail of the server's Python log, kept only in memory on both ends.
// It is not the activity log: lines are unstructured and gone after a restart.

import { api } from "../api.js";
import { getKey } from "../auth.js";
import { h } from "../dom.js";
import { EventFeed } from "../events.js";
import { unavailable } from "../widgets.js";

const MAX_LINES = 1000;  // the server keeps at most 1000 too
const LEVELS = ["debug", "info", "warning", "error", "critical"];

export function mount(root) {
  let lastSeq = 0;
  let paused = false;
  let held = [];
  const view = h("div", { class: "log-view", role: "log", "aria-live": "off", tabindex: "0" });
  const level = h("select", { id: "log-level", "aria-label": "Lowest level shown" },
    LEVELS.map((l) => h("option", { value: l }, l)));
  level.value = "info";
  const pause = h("button", { type: "button", "aria-pressed": "false", onclick: togglePause }, "Pause");
  const count = h("span", { class: "muted" });
  const feed = new EventFeed({ key: getKey(), types: ["log_record"] });

  function visible(line) {
    return LEVELS.indexOf(line.level) >= LEVELS.indexOf(level.value);
  }

  function lineEl(line) {
    return h("div", { class: `log-line ${line.level}`, dataset: { seq: line.seq, level: line.level } },
      h("span", { class: "muted" }, line.ts.replace("T", " ").replace(/\+00:00$/, "Z"), " "),
      h("span", { class: "lvl" }, line.level.toUpperCase()), " ",
      h("span", { class: "muted" }, line.logger, ": "), line.message);
  }

  function add(lines) {
    const fresh = lines.filter((line) => line.seq > lastSeq);
    if (!fresh.length) return;
    lastSeq = fresh[fresh.length - 1].seq;
    if (paused) {
      held = [...held, ...fresh].slice(-MAX_LINES);
      count.textContent = `${held.length} new while paused`;
      return;
    }
    render(fresh);
  }

  function render(lines) {
    const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 20;
    view.append(...lines.filter(visible).map(lineEl));
    while (view.childElementCount > MAX_LINES) view.firstElementChild.remove();
    if (atBottom) view.scrollTop = view.scrollHeight;
  }

  function togglePause() {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      render(held);
      held = [];
      count.textContent = "";
    }
  }

  async function backfill() {
    try {
      add(await api.get("/api/v1/system/logs", { limit: 500, after_seq: lastSeq }));
    } catch (err) {
      view.replaceChildren(unavailable("The server log", err));
    }
  }

  level.addEventListener("change", async () => {
    view.replaceChildren();
    lastSeq = 0;
    await backfill();
  });
  feed.on("log_record", (message) => add([message.line]));
  // Lines that arrived while the socket was down (or dropped by lag) come from the tail route.
  feed.on("resync", backfill);

  root.append(h("div", { class: "card" },
    h("div", { class: "spread" }, h("h2", {}, "Server log (live)"),
      h("div", { class: "row" }, h("label", { for: "log-level", class: "check" }, "Level"), level, pause, count)),
    h("p", { class: "hint" }, "The last lines of the server's debug log, held in memory only. For who changed what, see the Activity tab."),
    view));
  backfill().then(() => feed.start());
  return () => feed.stop();
}
