// JSON merge patch (RFC 7386), the semantics of `application/merge-patch+json` and of a Helm values
// overlay: maps merge key by key, every other value (lists included) replaces what was there, and
// `null` deletes the key. Inputs are not modified; the result shares no mutable structure with them.

export type JsonMap = Record<string, unknown>;

export function isPlainMap(value: unknown): value is JsonMap {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  return patchInPlace(structuredClone(target), patch);
}

/** Merges `patch` into `target` (a private copy); patch values are copied. */
function patchInPlace(target: unknown, patch: unknown): unknown {
  if (!isPlainMap(patch)) return structuredClone(patch);
  const result: JsonMap = isPlainMap(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = patchInPlace(result[key], value);
  }
  return result;
}
