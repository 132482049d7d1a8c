// fetch() wrapper for /api/v1: adds the key header, turns error bodies into ApiError.

import { getKey } from "./auth.js";

export class ApiError extends Error {
  // errors: the 400 body's [{field, message}] (field a dotted path such as "params.color").
  constructor(status, detail, extra, errors = []) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
    this.extra = extra;
    this.errors = errors;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// Requests belong to a signed-in session. Signing out aborts those still in flight and refuses new
// ones until the next sign-in, so a page being torn down cannot send keyless requests (401s).
let session = new AbortController();
export function beginSession() { if (session.signal.aborted) session = new AbortController(); }
export function endSession() { session.abort(); }

async function send(url, init) {
  try {
    return await fetch(url, { ...init, signal: session.signal });
  } catch (err) {
    // The session ended: the page that asked is gone; let its code simply never continue.
    if (err?.name === "AbortError") return new Promise(() => {});
    throw err;
  }
}

export function queryString(params = {}) {
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) qs.append(name, v);
  }
  const text = qs.toString();
  return text ? `?${text}` : "";
}

function headers(extra = {}, key = getKey()) {
  const result = { Accept: "application/json", ...extra };
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

async function errorFrom(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: use the status text */ }
  return new ApiError(response.status, body?.detail || response.statusText, body?.extra,
    Array.isArray(body?.errors) ? body.errors : []);
}

export async function request(method, path, { query, body, key, quiet401 = false } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }, key) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await send(path + queryString(query), init);
  if (response.status === 401 && !quiet401) onUnauthorized();
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body) => request("POST", path, { body }),
  put: (path, body) => request("PUT", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  del: (path) => request("DELETE", path),
};

// Downloads need the key header, so a plain link will not do: fetch, then save the blob.
export async function download(path, query, fallbackName) {
  const response = await send(path + queryString(query), { headers: headers() });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw await errorFrom(response);
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}

// Upload a file as the raw request body (restore).
// Restores started in this tab (their `origin` tokens): its own database_restored event must not
// redraw the page that is showing the restore's result.
export const ownRestores = new Set();

export async function upload(path, file, query) {
  const response = await send(path + queryString(query), {
    method: "POST",
    headers: headers({ "Content-Type": "application/octet-stream" }),
    body: file,
  });
  if (response.status === 401) onUnauthorized();
  if (!response.ok) throw await errorFrom(response);
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : null;
}

// Map an API error onto form fields. Litestar's `extra` items carry `key`; msgspec messages name
// the field as `$.field`; otherwise the field named earliest in the detail gets it.
function fieldIn(message, fieldNames) {
  const path = /`\$\.([A-Za-z_]\w*)/.exec(message);
  if (path && fieldNames.includes(path[1])) return path[1];
  let best = null;
  let bestAt = Infinity;
  for (const name of fieldNames) {
    const at = message.search(new RegExp(`\\b${name}\\b`, "i"));
    if (at >= 0 && at < bestAt) { best = name; bestAt = at; }
  }
  return best;
}

export function fieldErrors(error, fieldNames) {
  const byField = {};
  const general = [];
  // The API's 400 names each field: the form field of that name (or of its parent) gets it.
  if (error?.errors?.length) {
    for (const { field, message } of error.errors) {
      const parts = (field || "").split(".");
      const name = parts.map((_, i) => parts.slice(0, parts.length - i).join(".")).find((n) => fieldNames.includes(n));
      if (name) byField[name] = byField[name] || message;
      else general.push(field ? `${field}: ${message}` : message);
    }
    return { byField, general };
  }
  const items = Array.isArray(error?.extra) ? error.extra : [];
  for (const item of items) {
    const message = item?.message || String(item);
    const field = fieldNames.includes(item?.key) ? item.key : fieldIn(message, fieldNames);
    if (field) byField[field] = message;
    else general.push(message);
  }
  if (!items.length && error?.detail) {
    const field = fieldIn(error.detail, fieldNames);
    if (field) byField[field] = error.detail;
    else general.push(error.detail);
  }
  if (items.length && !Object.keys(byField).length && error?.detail) general.unshift(error.detail);
  return { byField, general };
}
