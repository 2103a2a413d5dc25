// Applying a runtime's desired objects: read what is live (one labelled list per kind), apply only
// what differs, and prune owned objects that are no longer desired.
import type { Logger } from "../lib/logger.ts";
import { ownerLabel } from "../schemas/api/index.ts";
import { prunableKinds, type KindRef } from "./constants.ts";
import { decideApply, objectKey, type KubeObject } from "./diff.ts";
import type { ClusterClient } from "./kube-client.ts";

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
export async function readOwnedObjects(client: ClusterClient, namespace: string, runtime: string, extraKinds: KindRef[] = [], cache?: OwnedObjectCache): Promise<LiveInventory> {
  const kinds = uniqueKinds([...prunableKinds, ...extraKinds]);
  const lists = await Promise.all(kinds.map((k) => cache?.list(k, namespace, runtime) ?? client.list(k.apiVersion, k.kind, namespace, `${ownerLabel}=${runtime}`)));
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

/** Applies `desired` when it differs from `live`; returns the live object afterwards. */
export async function applyIfChanged(client: ClusterClient, desired: KubeObject, live: KubeObject | undefined, log: Logger, counters: ApplyCounters): Promise<ApplyOutcome> {
  const decision = decideApply(desired, live);
  if (!decision.apply) return { live: live!, written: false };
  log.debug({ object: objectKey(desired), reason: decision.reason }, "apply");
  const applied = await client.apply(desired);
  counters.onApplied?.(desired.kind!, "apply");
  return { live: applied, written: true };
}

/** Whether applyIfChanged would write `desired` over `live`. */
export function needsApply(desired: KubeObject, live: KubeObject | undefined): boolean {
  return decideApply(desired, live).apply;
}

/** Owned objects of the prunable kinds that are not desired (not already being deleted). */
export function undesiredObjects(inventory: LiveInventory, desiredKeys: Set<string>): KubeObject[] {
  const prunable = new Set(prunableKinds.map((k) => `${k.apiVersion}/${k.kind}`));
  return [...inventory.byKey].filter(([key, live]) => !desiredKeys.has(key) && prunable.has(`${live.apiVersion}/${live.kind}`) && !live.metadata?.deletionTimestamp).map(([, live]) => live);
}

/** Deletes owned objects of the prunable kinds that are not desired. Returns how many were deleted. */
export async function pruneUndesired(client: ClusterClient, inventory: LiveInventory, desiredKeys: Set<string>, log: Logger, counters: ApplyCounters): Promise<number> {
  let deleted = 0;
  for (const live of undesiredObjects(inventory, desiredKeys)) {
    const key = objectKey(live);
    log.info({ object: key }, "prune");
    await client.delete({ apiVersion: live.apiVersion!, kind: live.kind!, namespace: live.metadata?.namespace, name: live.metadata!.name! });
    counters.onApplied?.(live.kind!, "delete");
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
    if ((object.kind === "ScaledObject" || object.kind === "HorizontalPodAutoscaler") && target?.name && (target.kind ?? "Deployment") === "Deployment") {
      targets.add(target.name);
    }
  }
  if (targets.size === 0) return objects;
  return objects.map((object) => {
    if (object.kind !== "Deployment" || !targets.has(object.metadata!.name!)) return object;
    const { replicas: _replicas, ...spec } = object.spec as Record<string, unknown>;
    return { ...object, spec };
  });
}
