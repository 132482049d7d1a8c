// Settings → HTTPS: the certificate this device serves, its SHA-256 fingerprint to compare with
// what the browser shows, and whether this page itself arrived over HTTPS.

import { api } from "../api.js";
import { fmtTime, h } from "../dom.js";
import { unavailable } from "../widgets.js";

export function mount(root) {
  const box = h("div", { class: "card", id: "https-info" }, h("p", { class: "muted" }, "Loading…"));
  root.append(box);

  (async () => {
    let tls;
    try {
      tls = (await api.get("/health")).components?.tls;
    } catch (err) {
      box.replaceChildren(unavailable("Certificate details", err));
      return;
    }
    const d = tls?.details || {};
    const secure = location.protocol === "https:";
    const rows = [
      ["This page", secure ? "HTTPS (encrypted)" : "plain HTTP: keys cross the network in clear"],
      ["Mode", d.mode || "unknown"],
    ];
    if (d.fingerprint_sha256) {
      rows.push(["SHA-256 fingerprint", h("code", { id: "tls-fingerprint", class: "mono" }, d.fingerprint_sha256)]);
      rows.push(["Expires", fmtTime(d.expires) || d.expires]);
    }
    if (d.http_redirect_port) rows.push(["Plain HTTP", `port ${d.http_redirect_port} only redirects here`]);
    box.replaceChildren(
      h("dl", { class: "detail" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      tls?.reason ? h("p", { role: "alert" }, tls.reason) : "",
      h("p", { class: "hint" },
        "Before you accept the certificate, compare this fingerprint with the one your browser " +
        "shows (the padlock or warning icon → certificate → SHA-256) or with the line " +
        "`ledgrab serve` prints. A different value means you are not talking to this device."));
  })();
}
