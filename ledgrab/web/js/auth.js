// Where the API key lives in the browser. Default: sessionStorage (gone when the tab closes, so a
// shared laptop does not stay signed in); "remember on this device" opts into localStorage.
// The key is only ever sent in an Authorization header or the websocket's first message.

const STORAGE_KEY = "ledgrab.apiKey";

export function getKey() {
  return sessionStorage.getItem(STORAGE_KEY) ?? localStorage.getItem(STORAGE_KEY);
}

export function saveKey(key, remember) {
  forgetKey();
  (remember ? localStorage : sessionStorage).setItem(STORAGE_KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(STORAGE_KEY);
  localStorage.removeItem(STORAGE_KEY);
}
