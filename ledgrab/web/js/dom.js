// Tiny DOM helpers: elements are built with h(), never from HTML strings, so server text is inert.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Times in the browser's locale; "24-hour clock" (kept on this device) overrides the locale's
// choice of 12 or 24 hours. The UTC offset is shown on hover (timeEl) rather than in every row.
const HOUR24_KEY = "ledgrab.hour24";

export function hour24() {
  try { return localStorage.getItem(HOUR24_KEY) === "1"; } catch { return false; }
}

export function setHour24(on) {
  try { if (on) localStorage.setItem(HOUR24_KEY, "1"); else localStorage.removeItem(HOUR24_KEY); } catch { /* private mode */ }
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const options = {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  };
  if (hour24()) options.hourCycle = "h23";
  return d.toLocaleString(undefined, options);
}

export function utcOffset(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

// A <time> showing fmtTime, with the offset and the UTC time on hover.
export function timeEl(iso) {
  if (!iso) return "";
  return h("time", { datetime: iso, title: `${fmtTime(iso)} ${utcOffset(iso)} (${new Date(iso).toISOString()})` }, fmtTime(iso));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.className = "toast"; }, 4000);
}

// A small "Are you sure?" built on <dialog>, so it is keyboard-usable and focus-trapped.
export function confirmDialog(message, confirmLabel = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-label": "Confirm" },
      h("form", { method: "dialog" },
        h("p", { text: message }),
        h("div", { class: "row end" },
          h("button", { value: "cancel", class: "ghost" }, "Cancel"),
          h("button", { value: "ok", class: "danger" }, confirmLabel))));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
