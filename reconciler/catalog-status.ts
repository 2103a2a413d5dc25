// XTrinodeCatalog status, as a pure function of the catalog's namespace: which runtimes mount it
// (usedBy: named in spec.catalogs.names or matched by spec.catalogs.selector) and whether every Secret
// key its secretProperties name exists (condition Ready). The controller feeds it from its informer
// caches and writes the status subresource only when it changed (Controller.reconcileCatalog).
import { catalogSecretRefs, selectCatalogs } from "../renderer/catalogs.ts";
import type { XTrinode, XTrinodeCatalog } from "../renderer/types.ts";
import type { KubeObject } from "./apply-decision.ts";
import { mergeConditions, type ConditionInput } from "./status.ts";

export type CatalogStatus = NonNullable<XTrinodeCatalog["status"]>;

export interface CatalogStatusInput {
  catalog: XTrinodeCatalog;
  /** Every XTrinode and XTrinodeCatalog of the catalog's namespace. */
  runtimes: XTrinode[];
  catalogs: XTrinodeCatalog[];
  /** The Secret of that name in the namespace, if it exists. */
  secret(name: string): KubeObject | undefined;
  now: Date;
}

/** Runtimes (names, sorted) whose catalog selection includes the catalog; runtimes whose spec cannot be read are skipped. */
export function catalogUsers(catalog: XTrinodeCatalog, runtimes: XTrinode[], catalogs: XTrinodeCatalog[]): string[] {
  const users: string[] = [];
  for (const runtime of runtimes) {
    try {
      if (selectCatalogs(runtime, catalogs).some((selected) => selected.metadata.name === catalog.metadata.name))
        users.push(runtime.metadata.name);
    } catch {
      // An invalid runtime spec: its own status says so; it mounts nothing.
    }
  }
  return users.sort();
}

/**
 * Runtimes (names) a change of the catalog concerns: those that mounted it at their last reconcile (their
 * status.catalogs; a label change may have ended a selection) and those that select it now.
 */
export function runtimesConcerned(catalog: XTrinodeCatalog, runtimes: XTrinode[], catalogs: XTrinodeCatalog[]): string[] {
  const mounted = runtimes.filter((runtime) => {
    const resolved = (runtime as { status?: { catalogs?: unknown } }).status?.catalogs;
    return Array.isArray(resolved) && resolved.includes(catalog.metadata.name);
  });
  return [...new Set([...mounted.map((runtime) => runtime.metadata.name), ...catalogUsers(catalog, runtimes, catalogs)])].sort();
}

export function hasSecretKey(secret: KubeObject, key: string): boolean {
  return (
    Object.hasOwn((secret.data as object | undefined) ?? {}, key) || Object.hasOwn((secret.stringData as object | undefined) ?? {}, key)
  );
}

function readyCondition(input: CatalogStatusInput): ConditionInput {
  const namespace = input.catalog.metadata.namespace ?? "default";
  const problems: string[] = [];
  const references = catalogSecretRefs(input.catalog);
  for (const { property, secretName, key } of references) {
    const secret = input.secret(secretName);
    if (!secret)
      problems.push(`spec.secretProperties.${property}: Secret ${namespace}/${secretName} not found; create it with the key "${key}"`);
    else if (!hasSecretKey(secret, key))
      problems.push(`spec.secretProperties.${property}: Secret ${namespace}/${secretName} has no key "${key}"; add the key`);
  }
  if (problems.length > 0) return { type: "Ready", status: "False", reason: "SecretNotFound", message: problems.join("; ") };
  const message = references.length === 0 ? "no secret properties" : `all ${references.length} secret reference(s) found`;
  return { type: "Ready", status: "True", reason: "SecretsFound", message };
}

export function catalogStatus(input: CatalogStatusInput): CatalogStatus {
  const generation = (input.catalog.metadata as { generation?: number }).generation;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    usedBy: catalogUsers(input.catalog, input.runtimes, input.catalogs),
    conditions: mergeConditions(input.catalog.status?.conditions, [readyCondition(input)], generation, input.now),
  };
}
