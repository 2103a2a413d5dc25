// What a reconcile reads (its dereference step): the runtime, the catalogs and Secrets of its
// namespace, what it owns, the namespace guardrails and the routes document. The controller answers
// from its informer caches (controller-runtime's cache-backed client: cached-reader.ts), so a no-op
// resync asks the API server nothing; `xtrinode apply`, `xtrinode diff` and tests without a
// controller read the API server directly (apiReader).
import type { XTrinodeCatalog } from "../renderer/types.ts";
import type { GatewayRoutes } from "../schemas/generated/types.ts";
import { readOwnedObjects, type LiveInventory } from "./apply.ts";
import { apiVersion, guardrailsLabel } from "../schemas/api/index.ts";
import type { KubeObject } from "./apply-decision.ts";
import type { ClusterClient } from "./kube-client.ts";
import { readRoutes } from "./routes-publisher.ts";

/** Kinds of the namespace guardrails the renderer emits (renderNamespace), labelled guardrailsLabel. */
export const guardrailKinds = [
  { apiVersion: "v1", kind: "ResourceQuota", plural: "resourcequotas" },
  { apiVersion: "v1", kind: "LimitRange", plural: "limitranges" },
] as const;

export interface ClusterReader {
  /** The XTrinode; undefined when it does not exist. */
  runtime(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Every XTrinodeCatalog of the namespace (the renderer selects among them). */
  catalogs(namespace: string): Promise<XTrinodeCatalog[]>;
  secret(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Objects of the prunable kinds carrying the runtime's ownership label. */
  owned(namespace: string, runtime: string): Promise<LiveInventory>;
  /** The namespace's guardrail objects (guardrailKinds carrying guardrailsLabel). */
  guardrails(namespace: string): Promise<KubeObject[]>;
  /** The routes document as published in the gateway namespace. */
  routes(): Promise<GatewayRoutes>;
  /**
   * The API server's answer to a write of an XTrinode (finalizer, status): what the next read must
   * see, even before the watch delivers it (a conditional write based on an older copy would fail).
   */
  wrote(runtime: KubeObject): void;
}

/** Reads straight from the API server: one request per read. */
export function apiReader(client: ClusterClient, gatewayNamespace: string): ClusterReader {
  return {
    runtime: (namespace, name) => client.get({ apiVersion, kind: "XTrinode", namespace, name }),
    catalogs: async (namespace) => (await client.list(apiVersion, "XTrinodeCatalog", namespace)) as unknown as XTrinodeCatalog[],
    secret: (namespace, name) => client.get({ apiVersion: "v1", kind: "Secret", namespace, name }),
    owned: (namespace, runtime) => readOwnedObjects(client, namespace, runtime),
    guardrails: async (namespace) =>
      (await Promise.all(guardrailKinds.map((k) => client.list(k.apiVersion, k.kind, namespace, guardrailsLabel)))).flat(),
    routes: () => readRoutes(client, gatewayNamespace),
    wrote: () => undefined,
  };
}
