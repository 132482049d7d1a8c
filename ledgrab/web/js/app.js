// The shell: sign-in, navigation between pages (hash routes), the shared events feed.

import { api, beginSession, endSession, ownRestores, setUnauthorizedHandler } from "./api.js";
import { forgetKey, getKey, saveKey } from "./auth.js";
import { clear, confirmDialog, fmtTime, h, toast } from "./dom.js";
import { EventFeed, probeKey } from "./events.js";

const PAGES = {
  dashboard: () => import("./pages/dashboard.js"),
  devices: () => import("./pages/devices.js"),
  sources: () => import("./pages/sources.js"),
  targets: () => import("./pages/targets.js"),
  activity: () => import("./pages/activity.js"),
  settings: () => import("./pages/settings.js"),
};

const $ = (id) => document.getElementById(id);
const state = { feed: null, unmount: null, authEnabled: true, generation: 0, healthTimer: null };
// /health is not on the feed: while signed in, it is read again this often.
const HEALTH_EVERY_MS = 30_000;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query = ""] = raw.split("?");
  return { name: PAGES[name] ? name : "dashboard", params: new URLSearchParams(query) };
}

async function route() {
  if (!state.feed) return;
  const { name, params } = parseHash();
  const generation = ++state.generation;
  if (state.unmount) { state.unmount(); state.unmount = null; }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = clear($("view"));
  const module = await PAGES[name]();
  if (generation !== state.generation) return;  // the user moved on while the module loaded
  document.title = `${module.title || name} · LedGrab`;
  const ctx = {
    feed: state.feed,
    params,
    // Record page state (filters) in the address without re-rendering the page.
    setParams(next) {
      const qs = new URLSearchParams(next).toString();
      history.replaceState(null, "", `#/${name}${qs ? `?${qs}` : ""}`);
    },
  };
  state.unmount = module.mount(view, ctx) || null;
}

function showSignIn(message = "") {
  stopSession();
  $("shell").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("signin-key").value = "";
  $("signin-key").focus();
}

function stopSession() {
  endSession();
  clearInterval(state.healthTimer);
  state.healthTimer = null;
  $("health-banner").hidden = true;
  if (state.unmount) { state.unmount(); state.unmount = null; }
  if (state.feed) { state.feed.stop(); state.feed = null; }
}

function startSession() {
  $("signin").hidden = true;
  $("shell").hidden = false;
  $("signout").hidden = !state.authEnabled;
  beginSession();
  const feed = new EventFeed({ key: getKey() });
  feed.on("status", ({ status, detail }) => {
    const badge = $("feed-status");
    badge.className = `feed-status ${status}`;
    badge.textContent = status === "live" ? "live" : status;
    badge.title = detail || "";
    if (status === "live") { $("actor").textContent = detail ? `signed in as ${detail}` : ""; showHealth(); }
  });
  feed.on("unauthorized", () => signOut("Your API key is no longer accepted. Sign in again."));
  // Everything on screen came from the replaced database: draw the page again from the new one.
  feed.on("database_restored", ({ file, origin }) => {
    if (ownRestores.delete(origin)) return;  // this tab restored it and shows the result itself
    toast(`Backup ${file} was restored`);
    route();
  });
  // The top bar's clock badge and offer follow the clock as the log reports it.
  feed.on("activity_logged", ({ entry }) => {
    if (entry?.action === "system.clock_synced" || entry?.action === "system.clock_set") showHealth();
  });
  clearInterval(state.healthTimer);
  state.healthTimer = setInterval(showHealth, HEALTH_EVERY_MS);
  state.feed = feed;
  feed.start();
  route();
}

// From /health: "time not synchronised" in the top bar while the board's clock is not, and a
// banner naming every degraded component with its reason (a full card, a database set aside,
// frames no longer paced...), which otherwise only someone reading /health would learn.
async function showHealth() {
  let health = null;
  try {
    health = await (await fetch("/health", { cache: "no-store" })).json();
  } catch {
    // Unreachable, or not JSON: `health` stays null, and the badge and banner hide below.
  }
  const badge = $("clock-status");
  badge.hidden = health?.clock?.synchronised !== false;
  $("clock-set").hidden = badge.hidden || !health?.clock?.settable;
  const degraded = Object.entries(health?.components || {}).filter(([, c]) => c.state !== "ok");
  const banner = $("health-banner");
  const lines = degraded.map(([name, c]) => [name, `: ${c.reason || c.state}`]);
  // Drawn again only when it changes: an alert is read out each time it is.
  const shown = JSON.stringify(lines);
  if (banner.dataset.shown !== shown) {
    banner.dataset.shown = shown;
    banner.replaceChildren(...lines.map(([name, text]) => h("p", { dataset: { component: name } },
      h("strong", {}, name.replaceAll("_", " ")), text)));
  }
  banner.hidden = lines.length === 0;
  banner.dataset.read = health ? "yes" : "failed";
}

// Offered only while the clock is not synchronised; the server refuses otherwise, and a
// privileged helper on the board does the setting.
async function setClockFromBrowser() {
  const question = `Set the board's clock to this browser's time (${fmtTime(new Date().toISOString())})? ` +
    "Only do this when no time server is reachable; the change is recorded with your name.";
  if (!(await confirmDialog(question, "Set clock"))) return;
  try {
    const answer = await api.post("/api/v1/system/clock", { time: new Date().toISOString() });
    toast(`Clock set to ${fmtTime(answer.new)} (it said ${fmtTime(answer.old)})`);
  } catch (err) {
    toast(`The clock was not set: ${err.message}`, "error");
  }
  showHealth();
}

function signOut(message = "") {
  forgetKey();
  showSignIn(message);
}

async function keyWorks(key) {
  return (await probeKey(key)).ok;
}

async function onSignIn(event) {
  event.preventDefault();
  const key = $("signin-key").value.trim();
  const button = event.submitter || $("signin-form").querySelector("button");
  button.disabled = true;
  $("signin-error").textContent = "";
  try {
    if (!(await keyWorks(key))) {
      $("signin-error").textContent = "That API key was not accepted. Check it and try again.";
      $("signin-key").select();
      return;
    }
    saveKey(key, $("signin-remember").checked);
    $("signin-key").value = "";
    startSession();
  } catch (err) {
    $("signin-error").textContent = `The server could not be reached: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

async function boot() {
  $("signin-form").addEventListener("submit", onSignIn);
  $("signout").addEventListener("click", () => signOut("Signed out. The key was forgotten."));
  $("clock-set").addEventListener("click", setClockFromBrowser);
  window.addEventListener("hashchange", route);
  setUnauthorizedHandler(() => {
    if (state.feed) signOut("Your API key is no longer accepted. Sign in again.");
  });
  try {
    // With authentication off the server answers without a key: no sign-in then.
    if (await keyWorks(null)) {
      state.authEnabled = false;
      startSession();
      return;
    }
    const saved = getKey();
    if (saved && (await keyWorks(saved))) { startSession(); return; }
    if (saved) forgetKey();
    showSignIn(saved ? "The saved API key is no longer accepted." : "");
  } catch (err) {
    showSignIn(`The server could not be reached: ${err.message}`);
  }
}

boot();
