// Kubernetes resource quantities, parsed to numbers for policy comparisons (maxResources).
const suffixes: Record<string, number> = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
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
