// The controller's ClusterReader: answers from the informer caches (controller-runtime's
// cache-backed client), so a reconcile of an unchanged runtime sends nothing to the API server.
// A kind whose informer is not in sync (starting, a watch error) is read from the API server
// instead, as is a Secret the cache does not hold (the Secret watch leaves some types out); a kind
// whose CRD is not installed has none, with no request. Objects from the caches are shared: callers never mutate them.
import type { XTrinodeCatalog } from "../renderer/types.ts";
import type { GatewayRoutes } from "../schemas/generated/types.ts";
import { readOwnedObjects, type LiveInventory, type OwnedObjectCache } from "./apply.ts";
import type { ClusterReader } from "./cluster-reader.ts";
import { ownerLabel, routesConfigMapName, routesDataKey } from "../schemas/api/index.ts";
import type { KindRef } from "./constants.ts";
import type { KubeObject } from "./apply-decision.ts";
import type { ResilientInformer } from "./informers.ts";
import type { ClusterClient } from "./kube-client.ts";
import { parseRoutes } from "./routes.ts";

export interface ReaderInformers {
  runtimes: ResilientInformer;
  catalogs: ResilientInformer;
  secrets: ResilientInformer;
  /** The routes ConfigMap of the gateway namespace. */
  routes: ResilientInformer;
  /** Owned objects by "apiVersion/kind" (prunableKinds, selected by the ownership label). */
  owned: ReadonlyMap<string, ResilientInformer>;
  /** Guardrail objects (guardrailKinds, selected by the guardrails label). */
  guardrails: readonly ResilientInformer[];
}

function keyOf(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

function resourceVersionOf(object: KubeObject): string | undefined {
  return object.metadata?.resourceVersion;
}

/**
 * Whether a watched copy is at least as new as the one a write returned: the same resourceVersion,
 * or a later one where both are integers (as etcd's are; otherwise only equality tells).
 */
export function caughtUp(watched: string | undefined, written: string | undefined): boolean {
  if (watched === undefined || written === undefined) return true;
  if (watched === written) return true;
  const a = Number(watched);
  const b = Number(written);
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a > b;
}

export class CachedReader implements ClusterReader {
  private readonly informers: ReaderInformers;
  private readonly api: ClusterReader;
  private readonly client: ClusterClient;
  private readonly gatewayNamespace: string;
  /** XTrinodes as our last write left them, until the runtime watch delivers that version. */
  private readonly written = new Map<string, KubeObject>();
  /** The owned informers' objects by kind and runtime, so a reconcile does not scan its namespace per kind. */
  private readonly ownedIndexes = new Map<string, OwnerIndex>();

  constructor(informers: ReaderInformers, api: ClusterReader, client: ClusterClient, gatewayNamespace: string) {
    this.informers = informers;
    this.api = api;
    this.client = client;
    this.gatewayNamespace = gatewayNamespace;
    const runtimes = informers.runtimes.informer;
    runtimes.on("add", (object) => this.watched(object as KubeObject));
    runtimes.on("update", (object) => this.watched(object as KubeObject));
    runtimes.on("delete", (object) => this.written.delete(keyOf(object.metadata?.namespace, object.metadata?.name)));
    for (const [kind, owned] of informers.owned) {
      const index = new OwnerIndex(owned);
      this.ownedIndexes.set(kind, index);
      owned.informer.on("add", (object) => index.put(object as KubeObject));
      owned.informer.on("update", (object) => index.put(object as KubeObject));
      owned.informer.on("delete", (object) => index.remove(object as KubeObject));
    }
  }

  private watched(object: KubeObject): void {
    const key = keyOf(object.metadata?.namespace, object.metadata?.name);
    const written = this.written.get(key);
    if (written && caughtUp(resourceVersionOf(object), resourceVersionOf(written))) this.written.delete(key);
  }

  /** Drops what wrote() remembered for a runtime (e.g. a write based on it met a conflict). */
  forgetWritten(namespace: string, name: string): void {
    this.written.delete(keyOf(namespace, name));
  }

  wrote(runtime: KubeObject): void {
    this.written.set(keyOf(runtime.metadata?.namespace, runtime.metadata?.name), runtime);
  }

  async runtime(namespace: string, name: string): Promise<KubeObject | undefined> {
    const { runtimes } = this.informers;
    if (!runtimes.synced()) return this.api.runtime(namespace, name);
    return this.written.get(keyOf(namespace, name)) ?? (runtimes.informer.get(name, namespace) as KubeObject | undefined);
  }

  async catalogs(namespace: string): Promise<XTrinodeCatalog[]> {
    const { catalogs } = this.informers;
    if (!catalogs.synced()) return this.api.catalogs(namespace);
    return catalogs.informer.list(namespace) as unknown as XTrinodeCatalog[];
  }

  async secret(namespace: string, name: string): Promise<KubeObject | undefined> {
    const { secrets } = this.informers;
    const cached = secrets.synced() ? (secrets.informer.get(name, namespace) as KubeObject | undefined) : undefined;
    return cached ?? this.api.secret(namespace, name);
  }

  owned(namespace: string, runtime: string): Promise<LiveInventory> {
    const cache: OwnedObjectCache = {
      list: (kind: KindRef, ns: string, owner: string) => {
        const informer = this.informers.owned.get(`${kind.apiVersion}/${kind.kind}`);
        if (informer?.kindMissing()) return [];
        if (!informer?.synced()) return undefined;
        return this.ownedIndexes
          .get(`${kind.apiVersion}/${kind.kind}`)!
          .of(ns, owner)
          .map((o) => ({ ...(JSON.parse(JSON.stringify(o)) as KubeObject), apiVersion: kind.apiVersion, kind: kind.kind }));
      },
    };
    return readOwnedObjects(this.client, namespace, runtime, [], cache);
  }

  async guardrails(namespace: string): Promise<KubeObject[]> {
    if (!this.informers.guardrails.every((i) => i.synced())) return this.api.guardrails(namespace);
    return this.informers.guardrails.flatMap((i) => i.informer.list(namespace) as KubeObject[]);
  }

  async routes(): Promise<GatewayRoutes> {
    if (!this.informers.routes.synced()) return this.api.routes();
    return parseRoutes((this.routesConfigMap()?.data as Record<string, string> | undefined)?.[routesDataKey]);
  }

  /** The routes ConfigMap as watched (undefined: not in sync, or it does not exist yet). */
  routesConfigMap(): KubeObject | undefined {
    const { routes } = this.informers;
    const configMap = routes.synced()
      ? (routes.informer.get(routesConfigMapName, this.gatewayNamespace) as KubeObject | undefined)
      : undefined;
    // Listed items carry no apiVersion and kind; a write of this object needs them.
    return configMap && { ...configMap, apiVersion: "v1", kind: "ConfigMap" };
  }
}

/**
 * One owned informer's objects by namespace and owner label, kept from its add/update/delete events
 * once built (from the informer's cache, at the first lookup: the informer may have started first).
 */
class OwnerIndex {
  private readonly informer: ResilientInformer;
  private built = false;
  /** "namespace/owner" → object key → object. */
  private readonly byOwner = new Map<string, Map<string, KubeObject>>();
  /** object key → its "namespace/owner". */
  private readonly ownerOf = new Map<string, string>();

  constructor(informer: ResilientInformer) {
    this.informer = informer;
  }

  of(namespace: string, owner: string): KubeObject[] {
    if (!this.built) {
      for (const object of this.informer.informer.list()) this.put(object as KubeObject, true);
      this.built = true;
    }
    return [...(this.byOwner.get(keyOf(namespace, owner))?.values() ?? [])];
  }

  put(object: KubeObject, building = false): void {
    if (!this.built && !building) return;
    this.remove(object);
    const owner = object.metadata?.labels?.[ownerLabel];
    if (owner === undefined) return;
    const key = keyOf(object.metadata?.namespace, object.metadata?.name);
    const ownerKey = keyOf(object.metadata?.namespace, owner);
    let objects = this.byOwner.get(ownerKey);
    if (!objects) this.byOwner.set(ownerKey, (objects = new Map()));
    objects.set(key, object);
    this.ownerOf.set(key, ownerKey);
  }

  remove(object: KubeObject): void {
    const key = keyOf(object.metadata?.namespace, object.metadata?.name);
    const ownerKey = this.ownerOf.get(key);
    if (ownerKey === undefined) return;
    this.ownerOf.delete(key);
    const objects = this.byOwner.get(ownerKey);
    objects?.delete(key);
    if (objects?.size === 0) this.byOwner.delete(ownerKey);
  }
}
