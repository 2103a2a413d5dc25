// Deletion of a runtime behind the finalizer: route REMOVED, then the entry dropped, owned objects
// deleted, finalizer removed. Every step is idempotent, so a delete interrupted by a crash simply
// continues on the next reconcile.
import type { Logger } from "../lib/logger.ts";
import { apiVersion, finalizer } from "../schemas/api/index.ts";
import { pruneUndesired, readOwnedObjects, type ApplyCounters } from "./apply.ts";
import type { KubeObject } from "./apply-decision.ts";
import type { ClusterClient } from "./kube-client.ts";
import { findRoute, removeRoute, upsertRoute } from "./routes.ts";
import type { RoutesPublisher } from "./routes-publisher.ts";

export interface FinalizeContext {
  client: ClusterClient;
  routes: RoutesPublisher;
  log: Logger;
  counters: ApplyCounters;
  now: () => Date;
}

export function hasFinalizer(object: KubeObject): boolean {
  return (object.metadata?.finalizers ?? []).includes(finalizer);
}

/** Adds or removes our finalizer with a resourceVersion precondition; returns the updated object. */
export async function setFinalizer(client: ClusterClient, object: KubeObject, present: boolean): Promise<KubeObject> {
  const others = (object.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
  const finalizers = present ? [...others, finalizer] : others;
  return client.mergePatch(
    { apiVersion, kind: "XTrinode", namespace: object.metadata!.namespace, name: object.metadata!.name! },
    { metadata: { finalizers, resourceVersion: object.metadata!.resourceVersion } },
  );
}

/** Returns the number of writes issued. */
export async function finalizeRuntime(ctx: FinalizeContext, runtime: KubeObject): Promise<number> {
  const namespace = runtime.metadata!.namespace!;
  const name = runtime.metadata!.name!;
  let writes = 0;
  // 1. Deregister: REMOVED first so gateways see the backend go away, then drop the entry.
  const key = `${namespace}/${name}`;
  const marked = await ctx.routes.publish(key, (doc) => {
    const entry = findRoute(doc, namespace, name);
    return entry && entry.state !== "REMOVED" ? upsertRoute(doc, { ...entry, state: "REMOVED", updatedAt: ctx.now().toISOString() }) : doc;
  });
  if (marked) writes++;
  if (await ctx.routes.publish(key, (doc) => removeRoute(doc, namespace, name))) writes++;
  // 2. Owned objects (everything carrying the ownership label, of the kinds we render).
  // Straight from the API (not a cache): the finalizer must not be removed while anything is left.
  const inventory = await readOwnedObjects(ctx.client, namespace, name);
  writes += await pruneUndesired(ctx.client, inventory, new Set(), ctx.log, ctx.counters);
  // 3. Let the API server finish the delete.
  if (hasFinalizer(runtime)) {
    await setFinalizer(ctx.client, runtime, false);
    writes++;
  }
  ctx.log.info({ runtime: `${namespace}/${name}`, writes }, "runtime finalized");
  return writes;
}
