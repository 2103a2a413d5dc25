// Deep merge of a values overlay onto derived values (Helm's own semantics for -f files):
//  - maps merge key by key, recursively;
//  - lists (and every other non-map value) replace what was there;
//  - a `null` in the overlay deletes the key.
// Inputs are not modified; the result shares no mutable structure with the overlay.

export type JsonMap = Record<string, unknown>;

export function isPlainMap(value: unknown): value is JsonMap {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function deepMerge(base: JsonMap, overlay: JsonMap): JsonMap {
  const result: JsonMap = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    if (value === null) {
      delete result[key];
    } else if (isPlainMap(value) && isPlainMap(result[key])) {
      result[key] = deepMerge(result[key] as JsonMap, value);
    } else {
      result[key] = structuredClone(value);
    }
  }
  return result;
}
