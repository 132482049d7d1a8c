// The events websocket client: authenticates with a first message, drops types not on the
// allowlist, reconnects with capped exponential backoff (with jitter, so a room full of phones
// does not reconnect in step after a server restart), and stops for good on close code 4401.

import { EVENT_TYPES } from "./event-types.js";

const CLOSE_UNAUTHORIZED = 4401;

export class EventFeed {
  constructor({ key, types = null, minDelayMs = 500, maxDelayMs = 30_000 } = {}) {
    this.key = key;
    this.types = types;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.listeners = new Map();
    this.socket = null;
    this.attempts = 0;
    this.timer = null;
    this.stopped = true;
    this.connectedBefore = false;
    this.status = "idle";
    this.ignored = 0;
  }

  // on("activity_logged", fn) or on("*", fn); pseudo-events: "status", "unauthorized", "resync".
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  // fn() at once, and again the first time the feed goes live if it is not yet: a page that
  // subscribed, then loaded, misses nothing that happened before its subscription took effect.
  whenLive(fn) {
    fn();
    if (this.status === "live") return () => {};
    const off = this.on("status", ({ status }) => { if (status === "live") { off(); fn(); } });
    return off;
  }

  emit(type, message) {
    for (const fn of this.listeners.get(type) || []) {
      try { fn(message); } catch (err) { console.error(`listener for ${type} failed`, err); }
    }
  }

  setStatus(status, detail = "") {
    this.status = status;
    this.emit("status", { status, detail });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "client stopped");
    this.setStatus("stopped");
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/events/ws`);
    this.socket = socket;
    this.setStatus("connecting");
    socket.addEventListener("open", () => {
      const auth = { type: "auth", key: this.key };
      if (this.types) auth.types = this.types;
      socket.send(JSON.stringify(auth));
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(data) {
    let message;
    try { message = JSON.parse(data); } catch { this.ignored += 1; return; }
    if (!message || !EVENT_TYPES.has(message.type)) { this.ignored += 1; return; }
    if (message.type === "hello") {
      this.attempts = 0;
      this.setStatus("live", message.actor);
      // After a reconnect, whatever happened while we were away was not delivered: refetch.
      if (this.connectedBefore) this.emit("resync", message);
      this.connectedBefore = true;
    }
    // Dropped events, or a restored database: what the page shows may be stale; refetch.
    if (message.type === "events_lagged" || message.type === "database_restored") this.emit("resync", message);
    this.emit(message.type, message);
    this.emit("*", message);
  }

  closed(socket, event) {
    if (socket !== this.socket || this.stopped) return;
    this.socket = null;
    if (event.code === CLOSE_UNAUTHORIZED) {
      this.stopped = true;
      this.setStatus("unauthorized");
      this.emit("unauthorized", event);
      return;
    }
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempts);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempts += 1;
    this.setStatus("reconnecting", `retry in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }
}

// Ask the events socket whether `key` is accepted (a refused key closes with 4401). Used for
// sign-in: unlike a 401 from fetch, it leaves no error in the browser console.
export function probeKey(key, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/events/ws`);
    let settled = false;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (socket.readyState <= WebSocket.OPEN) socket.close(1000, "probe done");
      fn(value);
    };
    const timer = setTimeout(() => finish(reject, new Error("no answer from the server")), timeoutMs);
    // Ask only for a type that rarely fires, so the probe receives nothing but its answer.
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", key, types: ["server_shutting_down"] })));
    socket.addEventListener("message", (event) => {
      let message = null;
      try { message = JSON.parse(event.data); } catch { /* not JSON: ignore */ }
      if (message?.type === "hello") finish(resolve, { ok: true, actor: message.actor });
    });
    socket.addEventListener("close", (event) => {
      if (event.code === CLOSE_UNAUTHORIZED) finish(resolve, { ok: false });
      else finish(reject, new Error(`the connection closed (${event.code})`));
    });
  });
}
