// Decides whether a desired object must be applied: compares only the fields we set (the desired
// object is our applied configuration), so fields the API server or other controllers add never
// cause a write, and a no-op reconcile writes nothing.
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseQuantity } from "../renderer/quantity.ts";
import { fieldManager } from "./constants.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type KubeObject = KubernetesObject & Record<string, unknown>;

/** Server-populated metadata that is never part of an applied configuration. */
const serverMetadata = new Set(["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"]);

/** Maps whose values are resource quantities (container resources, ResourceQuota, LimitRange). */
const quantityMaps = new Set(["limits", "requests", "hard", "default", "defaultRequest", "max", "min"]);

/**
 * True when every field of `desired` is present in `live` with the same value (arrays compare by
 * position and length). Quantities compare by value: the API server canonicalizes them ("0.5" → "500m").
 */
/** `quantities`: `desired` is a map named in quantityMaps (its scalar values are quantities). */
export function isSubset(desired: unknown, live: unknown, quantities = false): boolean {
  // The API server omits nulls and empty lists/maps (omitempty): absent live matches them.
  if (live === undefined || live === null) return desired === null || isEmptyCollection(desired);
  if (desired === null || typeof desired !== "object") return sameScalar(desired, live) || (quantities && sameQuantity(desired, live));
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((item, i) => isSubset(item, live[i]));
  }
  if (live === null || typeof live !== "object" || Array.isArray(live)) return false;
  const liveMap = live as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([key, value]) => value === undefined || isSubset(value, liveMap[key], value !== null && typeof value === "object" ? quantityMaps.has(key) : quantities));
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
  return (typeof desired === "number" || typeof desired === "string") && (typeof live === "number" || typeof live === "string") && String(desired) === String(live);
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Field paths (dotted, down to the depth the server records) that our field manager owns in `live`
 * but `desired` no longer sets: applying would drop them, so they count as a difference.
 * Lists are treated as atomic (their items' keys are not followed).
 */
export function staleManagedFields(desired: unknown, live: KubeObject): string[] {
  const entries = ((live.metadata as { managedFields?: ManagedFieldsEntry[] } | undefined)?.managedFields ?? []).filter(
    (entry) => entry.manager === fieldManager && entry.operation === "Apply" && !entry.subresource,
  );
  const stale: string[] = [];
  for (const entry of entries) collectStale(entry.fieldsV1 ?? {}, desired, "", stale);
  return stale;
}

function collectStale(fields: Record<string, unknown>, desired: unknown, path: string, stale: string[]): void {
  for (const [key, children] of Object.entries(fields)) {
    if (!key.startsWith("f:")) continue; // ".", "k:{…}", "v:…", "i:…" describe list items: atomic here
    const name = key.slice(2);
    const fieldPath = path ? `${path}.${name}` : name;
    if (!path && name === "metadata") {
      collectStale(withoutServerMetadata(children), (desired as Record<string, unknown>)?.metadata, fieldPath, stale);
      continue;
    }
    const desiredMap = desired !== null && typeof desired === "object" && !Array.isArray(desired) ? (desired as Record<string, unknown>) : undefined;
    if (!desiredMap || desiredMap[name] === undefined) {
      stale.push(fieldPath);
      continue;
    }
    if (children && typeof children === "object" && !Array.isArray(desiredMap[name])) {
      collectStale(children as Record<string, unknown>, desiredMap[name], fieldPath, stale);
    }
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
  if (!isSubset(desiredBody, live)) return { apply: true, reason: "drift" };
  const stale = staleManagedFields(desired, live);
  if (stale.length) return { apply: true, reason: `stale fields: ${stale.join(", ")}` };
  return { apply: false, reason: "unchanged" };
}

/** "namespace/kind/name" identity used to match desired and live objects. */
export function objectKey(object: KubernetesObject): string {
  const group = (object.apiVersion ?? "").includes("/") ? object.apiVersion!.split("/")[0] : "";
  return `${group}/${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}
