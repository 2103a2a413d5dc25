// Writes the trino-gateway-routes ConfigMap (the gateway's routes-store.ts reads it): a
// read-modify-write with optimistic concurrency, since many workers change their own entries at
// once and none may lose another's.
import type { GatewayRoutes } from "../schemas/generated/types.ts";
import { routesConfigMapName, routesDataKey } from "../schemas/api/index.ts";
import type { KubeObject } from "./apply-decision.ts";
import { caughtUp } from "./cached-reader.ts";
import { isConflict, type ClusterClient } from "./kube-client.ts";
import { emptyRoutes, parseRoutes, serializeRoutes } from "./routes.ts";

export interface RoutesStoreOptions {
  namespace: string;
  maxAttempts?: number;
  /**
   * The ConfigMap as an informer last saw it: the first attempt starts from it instead of a read
   * (a stale copy fails its resourceVersion precondition, and the next attempts read the API server).
   */
  cached?: () => KubeObject | undefined;
}

export interface RoutesUpdateResult {
  doc: GatewayRoutes;
  /** Whether a write (create or update) was issued. */
  written: boolean;
  /** The ConfigMap as the API server answered the write. */
  configMap?: KubeObject;
}

/** The newer of a watched copy and the one our last write returned. */
function newerOf(watched: KubeObject | undefined, written: KubeObject | undefined): KubeObject | undefined {
  if (!watched || !written) return watched ?? written;
  return caughtUp(watched.metadata?.resourceVersion, written.metadata?.resourceVersion) ? watched : written;
}

function configMapRef(namespace: string) {
  return { apiVersion: "v1", kind: "ConfigMap", namespace, name: routesConfigMapName };
}

export async function readRoutes(client: ClusterClient, namespace: string): Promise<GatewayRoutes> {
  const configMap = await client.get(configMapRef(namespace));
  return parseRoutes((configMap?.data as Record<string, string> | undefined)?.[routesDataKey]);
}

/**
 * Applies `change` to the current routes document and writes it back if it changed:
 * get → change → update with resourceVersion → on 409 start over (create when missing, and start
 * over if someone else created it first).
 */
export async function updateRoutes(
  client: ClusterClient,
  options: RoutesStoreOptions,
  change: (doc: GatewayRoutes) => GatewayRoutes,
): Promise<RoutesUpdateResult> {
  const maxAttempts = options.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const configMap = (attempt === 1 ? options.cached?.() : undefined) ?? (await client.get(configMapRef(options.namespace)));
    const current = configMap ? parseRoutes((configMap.data as Record<string, string> | undefined)?.[routesDataKey]) : emptyRoutes();
    const next = change(current);
    if (configMap && next === current) return { doc: next, written: false };
    const text = serializeRoutes(next);
    try {
      if (configMap) {
        const updated: KubeObject = { ...configMap, data: { ...((configMap.data as object) ?? {}), [routesDataKey]: text } };
        return { doc: next, written: true, configMap: await client.replace(updated) };
      } else {
        const created = await client.create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: routesConfigMapName, namespace: options.namespace, labels: { "app.kubernetes.io/managed-by": "xtrinode" } },
          data: { [routesDataKey]: text },
        });
        return { doc: next, written: true, configMap: created };
      }
    } catch (error) {
      // 409: a stale resourceVersion on update, or AlreadyExists on create. Both mean: read again.
      if (!isConflict(error) || attempt >= maxAttempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 5)));
    }
  }
}

/**
 * Coalesces route changes of one operator process: concurrent reconciles hand in their entry
 * changes and one read-modify-write applies them all, so workers of the same process do not race
 * each other into 409s (other writers are still handled by updateRoutes' retry).
 */
export class RoutesPublisher {
  private readonly client: ClusterClient;
  private readonly options: RoutesStoreOptions;
  private readonly pending = new Map<string, (doc: GatewayRoutes) => GatewayRoutes>();
  private waiting: Array<{ resolve: (written: boolean) => void; reject: (error: unknown) => void }> = [];
  private running = false;
  /** The ConfigMap as our last write left it: newer than the watched copy until the watch delivers it. */
  private lastWritten: KubeObject | undefined;

  constructor(client: ClusterClient, options: RoutesStoreOptions) {
    this.client = client;
    const { cached } = options;
    this.options = cached ? { ...options, cached: () => newerOf(cached(), this.lastWritten) } : options;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  /** Queues `change` for runtime `key` (a later change for the same key replaces it); resolves once written. */
  publish(key: string, change: (doc: GatewayRoutes) => GatewayRoutes): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.set(key, change);
      this.waiting.push({ resolve, reject });
      if (!this.running) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.running = true;
    while (this.pending.size) {
      const batch = [...this.pending.values()];
      this.pending.clear();
      const waiters = this.waiting;
      this.waiting = [];
      try {
        const result = await updateRoutes(this.client, this.options, (doc) => batch.reduce((current, change) => change(current), doc));
        if (result.configMap) this.lastWritten = result.configMap;
        for (const waiter of waiters) waiter.resolve(result.written);
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.running = false;
  }
}
