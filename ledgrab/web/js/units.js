// Settings in a person's units (MiB, minutes), sent in the API's (bytes, seconds): the factor
// from each shown unit to the API's; the bounds and defaults still come from the document.

export const MIB = 1024 * 1024;

// { shown(name, apiValue), sent(name, shownValue) } for fields whose API units are `factors`
// times the shown ones; `integers` are whole numbers in the API.
export function units(factors, integers) {
  const factor = (name) => factors[name] || 1;
  return {
    shown: (name, v) => (v === undefined || v === null ? v : +(v / factor(name)).toFixed(3)),
    sent: (name, v) => (typeof v !== "number" ? v
      : integers.has(name) ? Math.round(v * factor(name)) : v * factor(name)),
    step: (name) => (integers.has(name) && !factors[name] ? 1 : "any"),
  };
}

export function rangeHint(b, format = String) {
  if (!b || (b.min === undefined && b.max === undefined)) return undefined;
  const show = (v) => (v === undefined ? "…" : format(v));
  return `Allowed: ${show(b.min)} to ${show(b.max)}`;
}
