// Names and labels of everything rendered for a runtime. One place, so the operator, the
// gateway routes and the templates agree (docs/CONTRACTS.md "Renderer").
import { createHash } from "node:crypto";
import { guardrailsLabel, managedBy, maxLabelLength, ownerLabel } from "../schemas/api/index.ts";
import type { XTrinode } from "./types.ts";

export const DEFAULT_NAMESPACE = "default";
export const COORDINATOR_PORT = 8080;

export interface RuntimeNames {
  namespace: string;
  runtime: string;
  /** Chart "fullname": prefix of every object, and the coordinator Service name. */
  fullname: string;
  coordinator: string;
  worker: string;
  catalog: string;
  serviceAccount: string;
  nodePool: string;
}

export function namespaceOf(doc: { metadata: { namespace?: string } }): string {
  return doc.metadata.namespace || DEFAULT_NAMESPACE;
}

export function runtimeNames(runtime: Pick<XTrinode, "metadata">): RuntimeNames {
  const name = runtime.metadata.name;
  const fullname = `${name}-trino`;
  return {
    namespace: namespaceOf(runtime),
    runtime: name,
    fullname,
    coordinator: `${fullname}-coordinator`,
    worker: `${fullname}-worker`,
    catalog: `${fullname}-catalog`,
    serviceAccount: fullname,
    nodePool: `${fullname}-pool`,
  };
}

/**
 * Value of the node pool's label and taint (nodePoolLabel in schemas/api): `<namespace>.<fullname>-pool`, unique
 * across namespaces. A label value holds at most 63 characters, which a long namespace plus a long
 * name exceed: such ids are cut to fit and end in a hash of the full id (deterministic, still unique).
 */
export function nodePoolId(names: Pick<RuntimeNames, "namespace" | "nodePool">): string {
  const id = `${names.namespace}.${names.nodePool}`;
  if (id.length <= maxLabelLength) return id;
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 10);
  return `${id.slice(0, maxLabelLength - hash.length - 1).replace(/[-.]+$/, "")}-${hash}`;
}

/** Coordinator base URL the gateway routes to. */
export function backendUrl(names: RuntimeNames): string {
  return `http://${names.fullname}.${names.namespace}.svc.cluster.local:${COORDINATOR_PORT}`;
}

/** Selector labels (stable for the life of a Deployment). */
export function selectorLabels(runtime: string, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "trino",
    "app.kubernetes.io/instance": runtime,
    "app.kubernetes.io/component": component,
  };
}

/** Labels on every object of a runtime: recommended labels plus the ownership label (pruning). */
export function runtimeLabels(runtime: string, component: string, commonLabels: Record<string, string> = {}): Record<string, string> {
  return {
    ...commonLabels,
    ...selectorLabels(runtime, component),
    "app.kubernetes.io/managed-by": managedBy,
    [ownerLabel]: runtime,
  };
}

export function guardrailLabels(): Record<string, string> {
  return {
    "app.kubernetes.io/name": "xtrinode-guardrails",
    "app.kubernetes.io/managed-by": managedBy,
    [guardrailsLabel]: "true",
  };
}

/** Trino catalog names are identifiers: '-' is not allowed. */
export function trinoCatalogName(catalog: { metadata: { name: string }; spec: { catalogName?: string } }): string {
  return catalog.spec.catalogName ?? catalog.metadata.name.replace(/-/g, "_");
}

/** Env var carrying one secret-backed catalog property: XTN_CAT_<CATALOG>_<PROPERTY>. */
export function catalogSecretEnv(catalogName: string, property: string): string {
  return `XTN_CAT_${catalogName}_${property}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}
