// The Activity tab's proof line: "verified up to #N" with the signing key's fingerprint, a
// button to download the latest signed checkpoint, and a red banner when the chain fails.

import { api, download } from "./api.js";
import { h, toast } from "./dom.js";

const POLL_MS = 1000;

export function chainPanel() {
  const status = h("span", { id: "chain-status", role: "status" }, "Verifying the activity log…");
  const key = h("span", { class: "muted", id: "chain-key" });
  const banner = h("p", { class: "chain-banner", id: "chain-banner", role: "alert", hidden: true });
  const again = h("button", { type: "button", id: "chain-verify", onclick: () => run(true) }, "Verify again");
  const save = h("button", { type: "button", id: "chain-checkpoint", onclick: saveCheckpoint }, "Download checkpoint");
  let timer = null;
  let stopped = false;

  function show(state) {
    if (state.state === "running") {
      const share = state.total ? ` (${Math.floor((100 * state.checked) / state.total)} %)` : "";
      status.textContent = `Verifying the activity log…${share}`;
      return;
    }
    const result = state.result;
    if (!result) return;
    banner.hidden = result.ok;
    if (!result.ok) {
      banner.textContent = `The activity log did not verify: ${state.summary}`;
      status.textContent = "Not verified";
      return;
    }
    status.textContent = result.last_seq
      ? `✓ Verified up to #${result.last_seq.toLocaleString()}` +
        (result.unsigned ? ` (${result.unsigned.toLocaleString()} newest not yet signed)` : "")
      : "✓ Verified (the log is empty)";
    status.title = state.summary;
  }

  async function poll() {
    if (stopped) return;
    try {
      const state = await api.get("/api/v1/activity/verify");
      show(state);
      if (state.state === "running") timer = setTimeout(poll, POLL_MS);
    } catch (err) {
      status.textContent = `Could not verify: ${err.message}`;
    }
  }

  async function run(fresh) {
    clearTimeout(timer);
    try {
      const state = await api.get("/api/v1/activity/verify", fresh ? { run: true } : {});
      show(state);
      if (state.state === "running") timer = setTimeout(poll, POLL_MS);
    } catch (err) {
      status.textContent = `Could not verify: ${err.message}`;
    }
  }

  function saveCheckpoint() {
    download("/api/v1/activity/checkpoint", {}, "checkpoint.txt")
      .then((name) => toast(`Saved ${name}: keep it somewhere else`))
      .catch((err) => toast(err.message, "error"));
  }

  api.get("/api/v1/activity/chain")
    .then((chain) => {
      if (chain.fingerprint) {
        key.textContent = `key ed25519 ${chain.fingerprint.slice(0, 16)}…`;
        key.title = `${chain.public_key}\nSHA-256 ${chain.fingerprint}`;
      }
    })
    .catch(() => {});
  run(true);
  const element = h("div", { class: "card", id: "chain-card" }, banner,
    h("div", { class: "spread" }, h("div", { class: "row" }, status, key), h("div", { class: "row" }, again, save)));
  return { element, close: () => { stopped = true; clearTimeout(timer); } };
}
