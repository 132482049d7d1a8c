// Bounds of request fields, read from the server's OpenAPI document so the UI never keeps its
// own copy of a limit the API enforces.

let documentPromise = null;

export function loadDocument() {
  documentPromise ??= fetch("/schema/openapi.json").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  return documentPromise;
}

export function resolve(doc, schema) {
  let current = schema;
  for (let i = 0; current?.$ref && i < 10; i += 1) {
    current = current.$ref.replace(/^#\//, "").split("/").reduce((node, part) => node?.[part], doc);
  }
  return current;
}

function bound(doc, prop) {
  const schema = resolve(doc, prop) || {};
  const options = [schema, ...(schema.oneOf || []), ...(schema.anyOf || [])].map((s) => resolve(doc, s) || {});
  const found = options.find((s) => "minimum" in s || "maximum" in s || "exclusiveMinimum" in s) || {};
  return {
    min: found.minimum ?? found.exclusiveMinimum,
    max: found.maximum ?? found.exclusiveMaximum,
    description: schema.description || found.description,
  };
}

// { field: {min, max, description} } for the JSON body of `method path`.
export async function requestBounds(path, method) {
  const doc = await loadDocument();
  const op = doc.paths?.[path]?.[method.toLowerCase()];
  const body = resolve(doc, op?.requestBody);
  let schema = resolve(doc, body?.content?.["application/json"]?.schema);
  if (!schema?.properties) {
    // A route that takes a partial object (only the fields sent change) declares a plain
    // object; the bounds are then on the shape the same path's GET answers with.
    const answer = doc.paths?.[path]?.get?.responses?.["200"];
    schema = resolve(doc, answer?.content?.["application/json"]?.schema);
  }
  const result = {};
  for (const [name, prop] of Object.entries(schema?.properties || {})) result[name] = bound(doc, prop);
  return result;
}

function samePath(template, path) {
  const a = template.split("/");
  const b = path.split("/");
  // Placeholders match placeholders only: `/devices/discovered` is not `/devices/{device_id}`.
  const param = (s) => /^\{.*\}$/.test(s);
  return a.length === b.length && a.every((s, i) => s === b[i] || (param(s) && param(b[i])));
}

// Whether this server has `method path` (path may hold {placeholders}). Pages ask first, so a
// server without a feature shows a note instead of failing requests in the console.
export async function hasRoute(path, method = "get") {
  const doc = await loadDocument();
  return Object.entries(doc.paths || {}).some(
    ([template, ops]) => samePath(template, path) && Boolean(ops?.[method.toLowerCase()]));
}

// The component schema `name` of the OpenAPI document, resolved (null when absent).
export async function componentSchema(name) {
  const doc = await loadDocument();
  return { doc, schema: doc.components?.schemas?.[name] || null };
}

// The JSON body schema of `method path` (resolved), with the document to resolve its parts.
export async function requestSchema(path, method) {
  const doc = await loadDocument();
  const op = doc.paths?.[path]?.[method.toLowerCase()];
  const body = resolve(doc, op?.requestBody);
  return { doc, schema: resolve(doc, body?.content?.["application/json"]?.schema) || null };
}
