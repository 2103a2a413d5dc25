// Kubernetes resource quantities, parsed to numbers for policy comparisons (maxResources), and
// written as strings in rendered objects.
import { isPlainMap } from "../schemas/api/index.ts";
const suffixes: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Value in base units (cores, bytes); undefined when not a quantity. */
export function parseQuantity(quantity: string | number): number | undefined {
  if (typeof quantity === "number") return quantity;
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(quantity.trim());
  if (!match) return undefined;
  return Number(match[1]) * suffixes[match[2] ?? ""];
}

/** JVM -Xmx size in bytes: a number with an optional k, m or g suffix (binary units). */
export function parseHeapSize(size: string): number | undefined {
  const match = /^([0-9]+)([kKmMgG]?)$/.exec(size);
  if (!match) return undefined;
  return Number(match[1]) * ({ "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 } as Record<string, number>)[match[2].toLowerCase()];
}

function stringifyMap(map: unknown): void {
  if (!isPlainMap(map)) return;
  for (const [key, value] of Object.entries(map)) if (typeof value === "number") map[key] = String(value);
}

function containerResources(podSpec: unknown): void {
  if (!isPlainMap(podSpec)) return;
  for (const list of [podSpec.containers, podSpec.initContainers]) {
    for (const container of Array.isArray(list) ? list : []) {
      if (isPlainMap(container) && isPlainMap(container.resources)) {
        stringifyMap(container.resources.requests);
        stringifyMap(container.resources.limits);
      }
    }
  }
  stringifyMap(podSpec.overhead);
}

/**
 * Resource quantities as strings in an object about to be applied (in place). A quantity is a
 * string in the Kubernetes API schema; the spec schemas also take a bare number (`pods: 30`),
 * which server-side apply refuses ("failed to create typed patch object … expected string").
 * Covers every place the renderer emits quantities: ResourceQuota spec.hard, LimitRange
 * spec.limits, and container resources (and overhead) of pod templates.
 */
export function quantitiesAsStrings<T>(object: T): T {
  if (!isPlainMap(object)) return object;
  const spec = object.spec;
  if (!isPlainMap(spec)) return object;
  if (object.kind === "ResourceQuota") stringifyMap(spec.hard);
  if (object.kind === "LimitRange") {
    for (const limit of Array.isArray(spec.limits) ? spec.limits : []) {
      if (isPlainMap(limit))
        for (const key of ["default", "defaultRequest", "max", "min", "maxLimitRequestRatio"]) stringifyMap(limit[key]);
    }
  }
  if (object.kind === "Pod") containerResources(spec);
  if (isPlainMap(spec.template)) containerResources(spec.template.spec);
  return object;
}
