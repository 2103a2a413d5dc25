// Step 4 of a reconcile (reconcile.ts), apply: namespace guardrails, the node pool, then (a dry run
// and pruning first when something goes) the runtime's objects; only what differs from the live
// object is written. Returns the live objects as the API server answered.
import type { Logger } from "../lib/logger.ts";
import { ownerLabel } from "../schemas/api/index.ts";
import { isNodePoolObject, prunableKinds, type KindRef } from "./constants.ts";
import { decideApply, objectKey, type KubeObject } from "./apply-decision.ts";
import type { ClusterClient } from "./kube-client.ts";
import { nodePoolState, type NodePoolState } from "./readiness.ts";
import { rethrowRejection } from "./stop-reconcile.ts";

const guardrailFix = "fix the XTrinodePolicy that renders it; the operator retries when the runtime changes and at each resync";
const runtimeFix =
  "fix the XTrinode spec (or the policy) that renders it; the operator retries when the runtime changes and at each resync";

export interface ApplyContext {
  client: ClusterClient;
  log: Logger;
  counters: ApplyCounters;
}

/** What the apply step left live. */
export interface AppliedState {
  /** The node pool as applied ("none" without one); runtime objects wait while it is not ready. */
  pool: NodePoolState;
  /** Whether the runtime's objects (beyond the node pool) were applied. */
  runtimeApplied: boolean;
  /** Live objects after the apply, by objectKey: the server's answer where written, else as read. */
  live: Map<string, KubeObject>;
  writes: number;
}

/**
 * Applies guardrails (before any runtime resource), then the node pool; unless the pool is still
 * provisioning or failed, prunes what is no longer desired and applies the runtime's objects.
 */
export async function applyDesired(
  ctx: ApplyContext,
  desired: { guardrails: KubeObject[]; objects: KubeObject[] },
  inventory: LiveInventory,
  liveGuardrails: KubeObject[],
): Promise<AppliedState> {
  const live = new Map<string, KubeObject>();
  let writes = 0;
  const applyAll = async (objects: KubeObject[], current: (key: string) => KubeObject | undefined, fix: string) => {
    for (const object of objects) {
      const key = objectKey(object);
      const outcome = await applyIfChanged(ctx, object, current(key), fix);
      if (outcome.written) writes++;
      live.set(key, outcome.live);
    }
  };
  const guardrailsByKey = new Map(liveGuardrails.map((g) => [objectKey(g), g]));
  await applyAll(desired.guardrails, (key) => guardrailsByKey.get(key), guardrailFix);

  const nodePoolObjects = desired.objects.filter(isNodePoolObject);
  await applyAll(nodePoolObjects, (key) => inventory.byKey.get(key), runtimeFix);
  const pools = liveIn(
    live,
    nodePoolObjects.filter((o) => o.kind === "MachineDeployment"),
  );
  const pool = nodePoolState(pools);
  if (pool.state === "provisioning" || pool.state === "failed") return { pool, runtimeApplied: false, live, writes };

  // Prune before applying, so two autoscalers (a ScaledObject and an HPA after a switch) never
  // scale the same Deployment at once; but only once a server-side dry run shows the API server
  // takes every changed object, so a rejected change leaves what it replaces working. A
  // ScaledObject replacing a pruned HPA is left out of the dry run: KEDA's admission webhook
  // (which also runs on dry runs) refuses it while that HPA still exists.
  const runtimeObjects = desired.objects.filter((o) => !isNodePoolObject(o));
  const desiredKeys = new Set(desired.objects.map(objectKey));
  const undesired = undesiredObjects(inventory, desiredKeys);
  if (undesired.length > 0) {
    const pruningHpa = undesired.some((o) => o.kind === "HorizontalPodAutoscaler");
    for (const object of runtimeObjects) {
      if (!needsApply(object, inventory.byKey.get(objectKey(object))) || (pruningHpa && object.kind === "ScaledObject")) continue;
      await ctx.client.apply(object, { dryRun: true }).catch((error: unknown) => rethrowRejection(error, object, runtimeFix));
    }
    writes += await pruneUndesired(ctx.client, inventory, desiredKeys, ctx.log, ctx.counters);
  }
  await applyAll(runtimeObjects, (key) => inventory.byKey.get(key), runtimeFix);
  return { pool, runtimeApplied: true, live, writes };
}

/** The live objects of `desired` after applyDesired, in the same order (those missing left out). */
export function liveOf(applied: AppliedState, desired: KubeObject[]): KubeObject[] {
  return liveIn(applied.live, desired);
}

function liveIn(live: Map<string, KubeObject>, desired: KubeObject[]): KubeObject[] {
  return desired.flatMap((object): KubeObject[] => {
    const found = live.get(objectKey(object));
    return found ? [found] : [];
  });
}

export interface ApplyCounters {
  /** Objects written (apply or delete), by kind. */
  onApplied?: (kind: string, verb: "apply" | "delete") => void;
}

export interface LiveInventory {
  byKey: Map<string, KubeObject>;
}

/** Owned objects as watched by informers; undefined when that kind is not (yet) in sync. */
export interface OwnedObjectCache {
  list(kind: KindRef, namespace: string, runtime: string): KubeObject[] | undefined;
}

/** Everything of the prunable kinds carrying the ownership label of this runtime (from the cache where synced). */
export async function readOwnedObjects(
  client: ClusterClient,
  namespace: string,
  runtime: string,
  extraKinds: KindRef[] = [],
  cache?: OwnedObjectCache,
): Promise<LiveInventory> {
  const kinds = uniqueKinds([...prunableKinds, ...extraKinds]);
  const lists = await Promise.all(
    kinds.map((k) => cache?.list(k, namespace, runtime) ?? client.list(k.apiVersion, k.kind, namespace, `${ownerLabel}=${runtime}`)),
  );
  const byKey = new Map<string, KubeObject>();
  for (const object of lists.flat()) byKey.set(objectKey(object), object);
  return { byKey };
}

function uniqueKinds(kinds: KindRef[]): KindRef[] {
  const seen = new Map<string, KindRef>();
  for (const kind of kinds) seen.set(`${kind.apiVersion}/${kind.kind}`, kind);
  return [...seen.values()];
}

export interface ApplyOutcome {
  live: KubeObject;
  written: boolean;
}

/**
 * Applies `desired` when it differs from `live`; returns the live object afterwards. The API server
 * refusing it (invalid, forbidden, denied by admission) stops the reconcile as ApplyRejected
 * (rethrowRejection): the same body would be refused again, so it is a status for the user.
 */
async function applyIfChanged(ctx: ApplyContext, desired: KubeObject, live: KubeObject | undefined, fix: string): Promise<ApplyOutcome> {
  const decision = decideApply(desired, live);
  if (!decision.apply && live) return { live, written: false };
  ctx.log.debug({ object: objectKey(desired), reason: decision.reason }, "apply");
  let applied: KubeObject;
  try {
    applied = await ctx.client.apply(desired);
  } catch (error) {
    return rethrowRejection(error, desired, fix);
  }
  ctx.counters.onApplied?.(desired.kind ?? "", "apply");
  return { live: applied, written: true };
}

/** Whether applyIfChanged would write `desired` over `live`. */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  return decideApply(desired, live).apply;
}

/** Owned objects of the prunable kinds that are not desired (not already being deleted). */
export function undesiredObjects(inventory: LiveInventory, desiredKeys: Set<string>): KubeObject[] {
  const prunable = new Set(prunableKinds.map((k) => `${k.apiVersion}/${k.kind}`));
  return [...inventory.byKey]
    .filter(([key, live]) => !desiredKeys.has(key) && prunable.has(`${live.apiVersion}/${live.kind}`) && !live.metadata?.deletionTimestamp)
    .map(([, live]) => live);
}

/** Deletes owned objects of the prunable kinds that are not desired. Returns how many were deleted. */
export async function pruneUndesired(
  client: ClusterClient,
  inventory: LiveInventory,
  desiredKeys: Set<string>,
  log: Logger,
  counters: ApplyCounters,
): Promise<number> {
  let deleted = 0;
  for (const live of undesiredObjects(inventory, desiredKeys)) {
    const key = objectKey(live);
    const { apiVersion, kind, metadata } = live;
    if (!apiVersion || !kind || !metadata?.name) continue; // listed objects always carry them
    log.info({ object: key }, "prune");
    await client.delete({ apiVersion, kind, namespace: metadata.namespace, name: metadata.name });
    counters.onApplied?.(kind, "delete");
    deleted++;
  }
  return deleted;
}

/**
 * Drops spec.replicas from Deployments an autoscaler (KEDA ScaledObject or HPA) targets, so the
 * operator never owns a field the autoscaler writes.
 */
export function releaseAutoscaledReplicas(objects: KubeObject[]): KubeObject[] {
  const targets = new Set<string>();
  for (const object of objects) {
    const target = (object.spec as { scaleTargetRef?: { name?: string; kind?: string } } | undefined)?.scaleTargetRef;
    if (
      (object.kind === "ScaledObject" || object.kind === "HorizontalPodAutoscaler") &&
      target?.name &&
      (target.kind ?? "Deployment") === "Deployment"
    ) {
      targets.add(target.name);
    }
  }
  if (targets.size === 0) return objects;
  return objects.map((object) => {
    if (object.kind !== "Deployment" || !targets.has(object.metadata?.name ?? "")) return object;
    const { replicas: _replicas, ...spec } = object.spec as Record<string, unknown>;
    return { ...object, spec };
  });
}
