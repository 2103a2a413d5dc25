// Catalog selection and the catalog properties text (secret-backed values as ${ENV:...} placeholders).
import type { LabelSelector } from "../schemas/generated/types.ts";
import { catalogSecretEnv, namespaceOf, trinoCatalogName } from "./names.ts";
import type { SecretRef, XTrinode, XTrinodeCatalog } from "./types.ts";

export function matchesSelector(labels: Record<string, string> = {}, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, expr.key);
    const inValues = has && (expr.values ?? []).includes(labels[expr.key]);
    if (expr.operator === "In" && !inValues) return false;
    if (expr.operator === "NotIn" && inValues) return false;
    if (expr.operator === "Exists" && !has) return false;
    if (expr.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** The runtime's catalogs among those of its namespace: named ∪ selected, sorted by Trino catalog name. */
export function selectCatalogs(runtime: XTrinode, catalogs: XTrinodeCatalog[]): XTrinodeCatalog[] {
  const namespace = namespaceOf(runtime);
  const selection = runtime.spec.catalogs;
  if (!selection) return [];
  const names = new Set(selection.names ?? []);
  return catalogs
    .filter((c) => namespaceOf(c) === namespace)
    .filter(
      (c) => names.has(c.metadata.name) || (selection.selector !== undefined && matchesSelector(c.metadata.labels, selection.selector)),
    )
    .sort((a, b) => compare(trinoCatalogName(a), trinoCatalogName(b)));
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Secret keys a catalog reads, one env var each. */
export function catalogSecretRefs(catalog: XTrinodeCatalog): SecretRef[] {
  const name = trinoCatalogName(catalog);
  return Object.keys(catalog.spec.secretProperties ?? {})
    .sort(compare)
    .map((property) => {
      const ref = catalog.spec.secretProperties![property];
      return { catalog: name, property, secretName: ref.secretName, key: ref.key, env: catalogSecretEnv(name, property) };
    });
}

/** The catalog's properties file: connector.name, plain properties, then ${ENV:...} placeholders; keys sorted. */
export function catalogProperties(catalog: XTrinodeCatalog): string {
  const lines = [`connector.name=${catalog.spec.connector}`];
  const plain = catalog.spec.properties ?? {};
  for (const key of Object.keys(plain).sort(compare)) lines.push(`${key}=${escapePropertyValue(plain[key])}`);
  for (const ref of catalogSecretRefs(catalog)) lines.push(`${ref.property}=\${ENV:${ref.env}}`);
  return lines.join("\n") + "\n";
}

/** Java properties: a value may not break onto a new line (that would inject another property). */
export function escapePropertyValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n");
}
