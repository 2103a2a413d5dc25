// Decides whether a desired object must be applied: compares only the fields we set (the desired
// object is our applied configuration), so fields the API server or other controllers add never
// cause a write, and a no-op reconcile writes nothing.
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseQuantity } from "../renderer/quantity.ts";
import { itemKey, listItem, listMapKeys, type ListMapKeys } from "../lib/list-merge-keys.ts";
import { fieldManager } from "./constants.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type KubeObject = KubernetesObject & Record<string, unknown>;

/** Server-populated metadata that is never part of an applied configuration. */
const serverMetadata = new Set([
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "selfLink",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
]);

/** Maps whose values are resource quantities (container resources, ResourceQuota, LimitRange). */
const quantityMaps = new Set(["limits", "requests", "hard", "default", "defaultRequest", "max", "min"]);

/** Where a value sits in an object, for looking up how its lists merge (lib/list-merge-keys.ts). */
export interface ListScope {
  apiVersion?: string;
  kind?: string;
  /** Field names from the object's root, `listItem` for each list item passed through. */
  fields: string[];
}

/**
 * True when every field of `desired` is present in `live` with the same value. Quantities compare by
 * value: the API server canonicalizes them ("0.5" → "500m"). Lists compare by position and length
 * unless `at` names a list the server merges by key (containers by name, env by name, ports by port and
 * protocol): then each desired item must be there, in the same order, and items other field managers
 * added are not a difference.
 */
/** `quantities`: `desired` is a map named in quantityMaps (its scalar values are quantities). */
export function isSubset(desired: unknown, live: unknown, quantities = false, at?: ListScope): boolean {
  // The API server omits nulls and empty lists/maps (omitempty): absent live matches them.
  if (live === undefined || live === null) return desired === null || isEmptyCollection(desired);
  if (desired === null || typeof desired !== "object") return sameScalar(desired, live) || (quantities && sameQuantity(desired, live));
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return false;
    const items = at && { ...at, fields: [...at.fields, listItem] };
    const keyed = at && listMapKeys(at.apiVersion, at.kind, at.fields);
    if (keyed) return isKeyedSubset(desired, live, keyed, items!);
    return live.length === desired.length && desired.every((item, i) => isSubset(item, live[i], false, items));
  }
  if (live === null || typeof live !== "object" || Array.isArray(live)) return false;
  const liveMap = live as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(
    ([key, value]) =>
      value === undefined ||
      isSubset(
        value,
        liveMap[key],
        value !== null && typeof value === "object" ? quantityMaps.has(key) : quantities,
        at && { ...at, fields: [...at.fields, key] },
      ),
  );
}

/** Every desired item is in `live` under its key, in the desired order; live items of other managers may sit between. */
function isKeyedSubset(desired: unknown[], live: unknown[], list: ListMapKeys, items: ListScope): boolean {
  const liveIndex = new Map<string, number>();
  live.forEach((item, i) => {
    const key = itemKey(item, list);
    if (key !== undefined) liveIndex.set(key, i);
  });
  let previous = -1;
  return desired.every((item) => {
    const key = itemKey(item, list);
    const index = key === undefined ? undefined : liveIndex.get(key);
    if (index === undefined || index < previous) return false;
    previous = index;
    return isSubset(item, live[index], false, items);
  });
}

function sameQuantity(desired: unknown, live: unknown): boolean {
  if ((typeof desired !== "string" && typeof desired !== "number") || (typeof live !== "string" && typeof live !== "number")) return false;
  const a = parseQuantity(desired);
  const b = parseQuantity(live);
  return a !== undefined && b !== undefined && Math.abs(a - b) <= Math.abs(a) * 1e-9;
}

function isEmptyCollection(value: unknown): boolean {
  return typeof value === "object" && value !== null && (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0);
}

function sameScalar(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  // Quantities and int-or-string fields may come back as the other representation ("2" vs 2).
  return (
    (typeof desired === "number" || typeof desired === "string") &&
    (typeof live === "number" || typeof live === "string") &&
    String(desired) === String(live)
  );
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Field paths (dotted, down to the depth the server records) that our field manager owns in `live`
 * but `desired` no longer sets: applying would drop them, so they count as a difference. Items of
 * lists merged by key are followed by their key ("containers[name=sidecar]"); other lists are atomic.
 */
export function staleManagedFields(desired: unknown, live: KubeObject): string[] {
  const entries = ((live.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields ?? []).filter(
    (entry) => entry.manager === fieldManager && entry.operation === "Apply" && !entry.subresource,
  );
  const stale: string[] = [];
  const root: ListScope = { apiVersion: live.apiVersion, kind: live.kind, fields: [] };
  for (const entry of entries) collectStale(entry.fieldsV1 ?? {}, desired, "", root, stale);
  return stale;
}

function collectStale(fields: Record<string, unknown>, desired: unknown, path: string, at: ListScope, stale: string[]): void {
  for (const [key, children] of Object.entries(fields)) {
    if (!key.startsWith("f:")) continue; // ".": the node itself; "k:{…}" items are read below; "v:…", "i:…": sets and atomic lists
    const name = key.slice(2);
    const fieldPath = path ? `${path}.${name}` : name;
    const scope = { ...at, fields: [...at.fields, name] };
    if (!path && name === "metadata") {
      collectStale(withoutServerMetadata(children), (desired as Record<string, unknown>)?.metadata, fieldPath, scope, stale);
      continue;
    }
    const desiredMap =
      desired !== null && typeof desired === "object" && !Array.isArray(desired) ? (desired as Record<string, unknown>) : undefined;
    const value = desiredMap?.[name];
    if (value === undefined) {
      stale.push(fieldPath);
      continue;
    }
    if (!children || typeof children !== "object") continue;
    if (!Array.isArray(value)) {
      collectStale(children as Record<string, unknown>, value, fieldPath, scope, stale);
      continue;
    }
    const keyed = listMapKeys(scope.apiVersion, scope.kind, scope.fields);
    if (keyed)
      collectStaleItems(
        children as Record<string, unknown>,
        value,
        keyed,
        fieldPath,
        { ...scope, fields: [...scope.fields, listItem] },
        stale,
      );
  }
}

/** Items ("k:{…}") we own in a keyed list: an item `desired` no longer has is stale whole; a kept one is followed. */
function collectStaleItems(
  items: Record<string, unknown>,
  desired: unknown[],
  list: ListMapKeys,
  path: string,
  at: ListScope,
  stale: string[],
): void {
  const desiredByKey = new Map(desired.map((item) => [itemKey(item, list), item] as const));
  for (const [key, children] of Object.entries(items)) {
    if (!key.startsWith("k:")) continue;
    const owned = key.slice(2);
    const itemPath = `${path}[${describeKey(owned)}]`;
    const canonical = canonicalKey(owned, list);
    const item = canonical === undefined ? undefined : desiredByKey.get(canonical);
    if (item === undefined) stale.push(itemPath);
    else if (children && typeof children === "object") collectStale(children as Record<string, unknown>, item, itemPath, at, stale);
  }
}

/** A managedFields item key in the field order of `list` (the server's own order may differ). */
function canonicalKey(owned: string, list: ListMapKeys): string | undefined {
  try {
    return itemKey(JSON.parse(owned), list);
  } catch {
    return undefined;
  }
}

/** {"name":"a","protocol":"TCP"} → name=a,protocol=TCP */
function describeKey(owned: string): string {
  try {
    return Object.entries(JSON.parse(owned) as Record<string, unknown>)
      .map(([field, value]) => `${field}=${String(value)}`)
      .join(",");
  } catch {
    return owned;
  }
}

function withoutServerMetadata(children: unknown): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((children ?? {}) as Record<string, unknown>)) {
    if (!serverMetadata.has(key.slice(2))) result[key] = value;
  }
  return result;
}

export interface ApplyDecision {
  apply: boolean;
  reason: string;
}

/** Whether `desired` must be (re)applied over `live` (undefined: the object does not exist). */
export function decideApply(desired: KubeObject, live: KubeObject | undefined): ApplyDecision {
  if (!live) return { apply: true, reason: "missing" };
  const { apiVersion: _a, kind: _k, ...desiredBody } = desired;
  if (!isSubset(desiredBody, live, false, { apiVersion: desired.apiVersion, kind: desired.kind, fields: [] }))
    return { apply: true, reason: "drift" };
  const stale = staleManagedFields(desired, live);
  if (stale.length) return { apply: true, reason: `stale fields: ${stale.join(", ")}` };
  return { apply: false, reason: "unchanged" };
}

/** "namespace/kind/name" identity used to match desired and live objects. */
export function objectKey(object: KubernetesObject): string {
  const group = (object.apiVersion ?? "").includes("/") ? object.apiVersion!.split("/")[0] : "";
  return `${group}/${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}
