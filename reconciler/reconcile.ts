// One level-triggered reconcile of one XTrinode, in the seed's order: read the spec, resolve
// catalogs, check secret references, apply namespace guardrails, node pool (wait for Ready), Trino
// objects, scaling; publish the route; update status. Reads live state, writes only what differs.
import { createHash } from "node:crypto";
import type { Logger } from "../lib/logger.ts";
import type { RenderedRuntime, RenderRuntimeInput, XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../renderer/types.ts";
import type { GatewayRoutes, XTrinodeStatus } from "../schemas/generated/types.ts";
import { validateAgainstSchema } from "../schemas/validate.ts";
import { applyIfChanged, needsApply, pruneUndesired, readOwnedObjects, releaseAutoscaledReplicas, undesiredObjects, type ApplyCounters, type ApplyOutcome, type OwnedObjectCache } from "./apply.ts";
import { hasSecretKey } from "./catalog-status.ts";
import { annotations, apiVersion, plurals } from "../schemas/api/index.ts";
import { isNodePoolObject } from "./constants.ts";
import { objectKey, type KubeObject } from "./diff.ts";
import { parseDurationMs } from "./duration.ts";
import { finalizeRuntime, hasFinalizer, setFinalizer } from "./finalize.ts";
import { describeError, httpStatus, isKindMissing, isRejected, type ClusterClient } from "./kube-client.ts";
import { decideIntent, decidePhase, type Intent, type LifecycleTimers, type Phase } from "./lifecycle.ts";
import { describeConflicts, doubleClaimsWon, routeConflicts, withoutClaims } from "./route-claims.ts";
import { findRoute, sameRoute, upsertRoute, type RouteState } from "./routes.ts";
import { readRoutes, type RoutesPublisher } from "./routes-store.ts";
import { buildStatus, sameStatus, type ConditionInput } from "./status.ts";
import { coordinatorReady, computeStopped, nodePoolState, awaitingPods, podProblem, podSelector, readyWorkers, stalledDeployment, type NodePoolState } from "./readiness.ts";

export interface RendererPort {
  renderRuntime(input: RenderRuntimeInput): RenderedRuntime;
  /** Namespace guardrail objects (ResourceQuota, LimitRange) for a namespace. */
  renderNamespace(namespace: string, policy: XTrinodePolicy | undefined): Array<{ apiVersion: string; kind: string }>;
}

export interface ReconcileContext {
  client: ClusterClient;
  renderer: RendererPort;
  policy: () => XTrinodePolicy | undefined;
  gatewayNamespace: string;
  /** Writes route entries of this process (batched); see RoutesPublisher. */
  routes: RoutesPublisher;
  /** Informer-backed reads of owned objects (the controller); without it, labelled lists. */
  ownedCache?: OwnedObjectCache;
  /** The routes document as last watched (the controller); undefined: read it from the API. */
  routesCache?: () => GatewayRoutes | undefined;
  timers: LifecycleTimers;
  now: () => Date;
  log: Logger;
  counters: ApplyCounters;
}

export interface ReconcileResult {
  /** Reconcile again after this many ms (timers: drain end, idle deadline, waiting for readiness). */
  requeueAfterMs?: number;
  writes: number;
  phase?: Phase;
  /** Secrets the runtime references (namespace/name), so Secret changes can requeue it. */
  secretNames: string[];
}

/** Poll interval while waiting on something that has no watch of its own (e.g. pods stopping). */
const settlePollMs = 2_000;
/** While a rollout is stalled: it may still recover (capacity freed, image pushed), but nothing is urgent. */
const stalledPollMs = 30_000;
const stalledFix = "the pods cannot start: check node capacity and spec resources, the image and the pods' events; the runtime recovers by itself once they become ready";
const nodePoolPollMs = 5_000;
/** While a route claim is held by another runtime: look again (the routes document has no watch that requeues us). */
const routeConflictPollMs = 30_000;

const guardrailFix = "fix the XTrinodePolicy that renders it; the operator retries when the runtime changes and at each resync";
const runtimeFix = "fix the XTrinode spec (or the policy) that renders it; the operator retries when the runtime changes and at each resync";

export class StopReconcile extends Error {
  readonly reason: string;
  readonly conditions: ConditionInput[];
  /** Retry with back-off after reporting (the server failed, it may succeed later); else wait for a change. */
  readonly retry: boolean;
  readonly cause: unknown;
  constructor(reason: string, message: string, conditions: ConditionInput[], options: { retry?: boolean; cause?: unknown } = {}) {
    super(message);
    this.reason = reason;
    this.conditions = conditions;
    this.retry = options.retry === true;
    this.cause = options.cause;
  }
}

export async function reconcileRuntime(ctx: ReconcileContext, namespace: string, name: string): Promise<ReconcileResult> {
  const { client } = ctx;
  const runtimeRef = { apiVersion, kind: "XTrinode", namespace, name };
  let runtime = await client.get(runtimeRef);
  if (!runtime) return { writes: 0, secretNames: [] };

  if (runtime.metadata?.deletionTimestamp) {
    if (!hasFinalizer(runtime)) return { writes: 0, secretNames: [] };
    return { writes: await finalizeRuntime(ctx, runtime), secretNames: [] };
  }

  let writes = 0;
  if (!hasFinalizer(runtime)) {
    runtime = await setFinalizer(client, runtime, true);
    writes++;
  }
  const previous = runtime.status as XTrinodeStatus | undefined;
  const generation = runtime.metadata?.generation;
  const now = ctx.now();

  if (!previous?.phase) {
    // A new runtime: record Pending before any work, then reconcile again at once.
    writes += await writeStatus(ctx, runtime, buildStatus({ previous, generation, now, phase: "Pending", conditions: [], message: "waiting for the first reconcile" }));
    return { writes, phase: "Pending", requeueAfterMs: 0, secretNames: [] };
  }

  const conditions: ConditionInput[] = [];
  let secretNames: string[] = [];
  try {
    const plan = await planRuntime(ctx, runtime, now);
    const { intent, rendered, annotationsOf } = plan;
    conditions.push({ type: "CatalogsResolved", status: "True", reason: "Resolved", message: rendered.catalogs.length ? rendered.catalogs.join(", ") : "no catalogs selected" });

    secretNames = [...new Set(rendered.secretRefs.map((r) => `${namespace}/${r.secretName}`))];
    conditions.push(await checkSecrets(client, namespace, rendered));

    // Namespace guardrails come before any runtime resource.
    for (const object of plan.guardrails) {
      const live = await client.get({ apiVersion: object.apiVersion!, kind: object.kind!, namespace: object.metadata?.namespace ?? namespace, name: object.metadata!.name! });
      if ((await applyObject(ctx, object, live, guardrailFix)).written) writes++;
    }

    const desired = plan.desired;
    const inventory = await readOwnedObjects(client, namespace, name, desired.map((o) => ({ apiVersion: o.apiVersion!, kind: o.kind! })), ctx.ownedCache);
    const liveAfter = new Map<string, KubeObject>();
    const applyAll = async (objects: KubeObject[]) => {
      for (const object of objects) {
        const outcome = await applyObject(ctx, object, inventory.byKey.get(objectKey(object)), runtimeFix);
        if (outcome.written) writes++;
        liveAfter.set(objectKey(object), outcome.live);
      }
    };

    // Node pool first; Trino pods wait until it is Ready.
    const nodePoolObjects = desired.filter(isNodePoolObject);
    await applyAll(nodePoolObjects);
    const pool: NodePoolState = nodePoolState(nodePoolObjects.filter((o) => o.kind === "MachineDeployment").map((o) => liveAfter.get(objectKey(o))!));
    if (pool.state !== "none") conditions.push(pool.condition);
    if (pool.state === "failed") {
      const wasFailing = previous.conditions?.some((c) => c.type === "NodePoolReady" && c.reason === "ProvisioningFailed");
      if (!wasFailing) {
        await client.createEvent({ regarding: runtime, type: "Warning", reason: "NodePoolFailed", message: pool.condition.message });
        writes++;
      }
      throw new StopReconcile("NodePoolFailed", `node pool failed: ${pool.condition.message}; fix spec.nodePool (class, instanceType) or the cloud quota`, conditions);
    }

    let phase: Phase;
    let routeState: RouteState;
    let stallMessage: string | undefined;
    let requeueAfterMs = intent.requeueAfterMs;
    if (pool.state === "provisioning") {
      phase = "Reconciling";
      routeState = "RESUMING";
      requeueAfterMs = minDefined(requeueAfterMs, nodePoolPollMs);
    } else {
      // Prune before applying, so two autoscalers (a ScaledObject and an HPA after a switch) never
      // scale the same Deployment at once; but only once a server-side dry run shows the API server
      // takes every changed object, so a rejected change leaves what it replaces working. A
      // ScaledObject replacing a pruned HPA is left out of the dry run: KEDA's admission webhook
      // (which also runs on dry runs) refuses it while that HPA still exists.
      const runtimeObjects = desired.filter((o) => !isNodePoolObject(o));
      const desiredKeys = new Set(desired.map(objectKey));
      const undesired = undesiredObjects(inventory, desiredKeys);
      if (undesired.length > 0) {
        const pruningHpa = undesired.some((o) => o.kind === "HorizontalPodAutoscaler");
        for (const object of runtimeObjects) {
          if (!needsApply(object, inventory.byKey.get(objectKey(object))) || (pruningHpa && object.kind === "ScaledObject")) continue;
          await client.apply(object, { dryRun: true }).catch((error: unknown) => rethrowRejection(error, object, runtimeFix));
        }
        writes += await pruneUndesired(client, inventory, desiredKeys, ctx.log, ctx.counters);
      }
      await applyAll(runtimeObjects);
      const deployments = desired.filter((o) => o.kind === "Deployment").map((o) => liveAfter.get(objectKey(o))!);
      const decision = decidePhase(intent, previous.phase, { coordinatorReady: coordinatorReady(deployments), computeStopped: computeStopped(deployments) });
      phase = decision.phase;
      routeState = decision.routeState;
      if (phase !== "Ready" && phase !== "Suspended") requeueAfterMs = minDefined(requeueAfterMs, settlePollMs);
      if (phase === "Ready" || phase === "Reconciling" || phase === "Resuming") {
        const progress = await rolloutProgress(ctx, deployments, previous, checksum(desired), now);
        if (progress) {
          conditions.push(progress.condition);
          if (progress.stalled) {
            stallMessage = progress.condition.message;
            if (!hasCondition(previous, "Progressing", progress.condition.reason, progress.condition.message)) writes += await warn(ctx, runtime, progress.condition.reason, progress.condition.message);
            // The coordinator will not come up by itself: an Error the user acts on, and a route
            // the gateway answers at once (held queries get this message) instead of RESUMING forever.
            if (progress.coordinator && phase !== "Ready") {
              phase = "Error";
              routeState = "FAILED";
            }
            requeueAfterMs = stalledPollMs;
          }
        }
      }
    }

    // Route: publish our own entry (only when it changed), without hostnames or the default route
    // another runtime already holds (route-claims.ts).
    const entry = { ...rendered.route, state: routeState, ...(routeState === "FAILED" && stallMessage ? { message: stallMessage.slice(0, 1024) } : {}) };
    const routesDoc = ctx.routesCache?.() ?? (await readRoutes(client, ctx.gatewayNamespace));
    const won = await doubleClaimsWon(client, routesDoc, runtime);
    let conflicts = routeConflicts(routesDoc, entry, won);
    if (!sameRoute(findRoute(routesDoc, namespace, name), withoutClaims(entry, conflicts))) {
      const written = await ctx.routes.publish(`${namespace}/${name}`, (doc) => {
        // Decided again on the document being written, so two claimants racing cannot both win.
        conflicts = routeConflicts(doc, entry, won);
        const next = withoutClaims(entry, conflicts);
        return sameRoute(findRoute(doc, namespace, name), next) ? doc : upsertRoute(doc, { ...next, updatedAt: now.toISOString() });
      });
      if (written) writes++;
    }
    let message = stallMessage ? `${stallMessage}; ${stalledFix}` : phaseMessage(phase, intent.idle, pool.state);
    conditions.unshift(stallMessage && phase === "Error" ? { type: "Ready", status: "False", reason: "ProgressDeadlineExceeded", message } : readyCondition(phase));
    if (conflicts.length) {
      // The runtime serves (by header and its other claims), so its phase and Ready stay what they
      // are (they also drive idle suspension); the conflict is in RoutePublished, the message and an Event.
      message = describeConflicts(conflicts);
      conditions.push({ type: "RoutePublished", status: "False", reason: "RouteConflict", message });
      requeueAfterMs = minDefined(requeueAfterMs, routeConflictPollMs);
      if (!hasCondition(previous, "RoutePublished", "RouteConflict", message)) {
        ctx.log.warn({ runtime: `${namespace}/${name}`, conflicts }, "route claims held by other runtimes; published without them");
        writes += await warn(ctx, runtime, "RouteConflict", message);
      }
    } else {
      conditions.push({ type: "RoutePublished", status: "True", reason: routeState, message: `route ${routeState} in ${ctx.gatewayNamespace}` });
    }

    const workerDeployments = desired.filter((o) => o.kind === "Deployment").map((o) => liveAfter.get(objectKey(o)));
    const status = buildStatus({
      previous,
      generation,
      now,
      phase,
      routeState,
      message,
      conditions,
      catalogs: rendered.catalogs,
      workers: readyWorkers(workerDeployments.filter((d): d is KubeObject => Boolean(d))),
      suspendedAt: intent.suspendedAt,
      lastActivityTime: annotationsOf[annotations.lastActivity],
      configChecksum: checksum(desired),
    });
    writes += await writeStatus(ctx, runtime, status);
    return { writes, phase, requeueAfterMs, secretNames };
  } catch (error) {
    if (!(error instanceof StopReconcile)) throw error;
    // A problem the user must fix: phase Error with the message, nothing further applied.
    ctx.log.warn({ runtime: `${namespace}/${name}`, reason: error.reason, message: error.message }, "runtime error");
    if (applyFailureReasons.has(error.reason) && !hasCondition(previous, "Ready", error.reason, error.message)) writes += await warn(ctx, runtime, error.reason, error.message);
    const all = mergeByType(conditions, error.conditions);
    all.unshift({ type: "Ready", status: "False", reason: error.reason, message: error.message });
    const status = buildStatus({ previous, generation, now, phase: "Error", conditions: all, message: error.message });
    writes += await writeStatus(ctx, runtime, status);
    // Reported; the caller's back-off retries (the workqueue, or `xtrinode apply`'s error count).
    if (error.retry) throw error.cause ?? error;
    return { writes, phase: "Error", secretNames };
  }
}


export interface RuntimePlan {
  spec: XTrinode;
  intent: Intent;
  rendered: RenderedRuntime;
  /** Namespace guardrails (shared by the runtimes of the namespace). */
  guardrails: KubeObject[];
  /** The runtime's objects as they will be applied (owner references set, autoscaled replicas released). */
  desired: KubeObject[];
  annotationsOf: Record<string, string>;
}

/**
 * What a runtime should look like now: validated spec, lifecycle intent, rendered objects. Throws
 * StopReconcile for problems the user must fix. Shared by the reconcile and `xtrinode diff`.
 */
export async function planRuntime(ctx: Pick<ReconcileContext, "client" | "renderer" | "policy" | "timers">, runtime: KubeObject, now: Date): Promise<RuntimePlan> {
  const namespace = runtime.metadata!.namespace!;
  const previous = (runtime.status ?? {}) as XTrinodeStatus;
  const { client } = ctx;
  const spec = checkSpec(runtime);
  const policy = ctx.policy();

  // Catalogs: the renderer selects among all catalogs of the namespace; named ones must exist.
  const catalogs = (await client.list(apiVersion, "XTrinodeCatalog", namespace)) as unknown as XTrinodeCatalog[];
  const missing = (spec.spec.catalogs?.names ?? []).filter((n) => !catalogs.some((c) => c.metadata.name === n));
  if (missing.length) {
    throw new StopReconcile("CatalogNotFound", `spec.catalogs.names: XTrinodeCatalog ${missing.map((m) => `${namespace}/${m}`).join(", ")} not found; create it or remove the name from spec.catalogs.names`, [
      { type: "CatalogsResolved", status: "False", reason: "CatalogNotFound", message: `missing: ${missing.join(", ")}` },
    ]);
  }

  const annotationsOf = (runtime.metadata?.annotations ?? {}) as Record<string, string>;
  const intent = decideIntent({
    now,
    suspendedIntent: spec.spec.lifecycle?.suspended === true,
    wakeTTLMs: spec.spec.lifecycle?.wakeTTL ? parseDurationMs(spec.spec.lifecycle.wakeTTL) : undefined,
    lastActivity: annotationsOf[annotations.lastActivity],
    resumeRequestedAt: annotationsOf[annotations.resumeRequestedAt],
    status: previous,
    timers: ctx.timers,
  });

  let rendered: RenderedRuntime;
  try {
    rendered = ctx.renderer.renderRuntime({ runtime: spec, catalogs, policy, suspended: intent.scaleToZero });
  } catch (error) {
    throw new StopReconcile("InvalidSpec", `${describeError(error)}; fix the XTrinode spec (or the policy) and the operator retries`, []);
  }

  const guardrails = ctx.renderer.renderNamespace(namespace, policy) as KubeObject[];
  const desired = releaseAutoscaledReplicas(withOwner(rendered.objects as KubeObject[], runtime));
  return { spec, intent, rendered, guardrails, desired, annotationsOf };
}

/** Validates the live object against the XTrinode schema; the error names the fields to fix. */
function checkSpec(runtime: KubeObject): XTrinode {
  const metadata = runtime.metadata!;
  const doc = {
    apiVersion: runtime.apiVersion,
    kind: runtime.kind,
    metadata: { name: metadata.name, namespace: metadata.namespace, ...(metadata.labels ? { labels: metadata.labels } : {}), ...(metadata.annotations ? { annotations: metadata.annotations } : {}) },
    spec: runtime.spec ?? {},
  };
  const issues = validateAgainstSchema("XTrinode", doc);
  if (issues.length) {
    const message = issues.map((i) => `${i.path || "(document)"}: ${i.message}`).join("; ");
    throw new StopReconcile("InvalidSpec", `invalid XTrinode spec: ${message}`, []);
  }
  return doc as unknown as XTrinode;
}

async function checkSecrets(client: ClusterClient, namespace: string, rendered: RenderedRuntime): Promise<ConditionInput> {
  const problems: string[] = [];
  const secrets = new Map<string, KubeObject | undefined>();
  for (const ref of rendered.secretRefs) {
    if (!secrets.has(ref.secretName)) secrets.set(ref.secretName, await client.get({ apiVersion: "v1", kind: "Secret", namespace, name: ref.secretName }));
    const secret = secrets.get(ref.secretName);
    const where = `catalog ${ref.catalog} property ${ref.property}`;
    if (!secret) problems.push(`Secret ${namespace}/${ref.secretName} not found (${where}): create it`);
    else if (!hasSecretKey(secret, ref.key)) problems.push(`Secret ${namespace}/${ref.secretName} has no key "${ref.key}" (${where}): add the key`);
  }
  if (problems.length) {
    const message = problems.join("; ");
    throw new StopReconcile("SecretNotFound", message, [{ type: "SecretsResolved", status: "False", reason: "SecretNotFound", message }]);
  }
  return { type: "SecretsResolved", status: "True", reason: "Resolved", message: `${secrets.size} secret(s) referenced` };
}

/** ownerReferences to the XTrinode, so the API server's garbage collector also cleans up. */
function withOwner(objects: KubeObject[], runtime: KubeObject): KubeObject[] {
  const uid = runtime.metadata?.uid;
  if (!uid) return objects;
  const owner = { apiVersion, kind: "XTrinode", name: runtime.metadata!.name!, uid, controller: true, blockOwnerDeletion: true };
  return objects.map((object) => ({ ...object, metadata: { ...object.metadata, ownerReferences: [owner] } }));
}

/**
 * Applies one object when it differs. The API server refusing it (invalid, forbidden, denied by
 * admission) stops the reconcile as ApplyRejected: the same body would be refused again, so it is a
 * status for the user rather than a retry.
 */
async function applyObject(ctx: ReconcileContext, object: KubeObject, live: KubeObject | undefined, fix: string): Promise<ApplyOutcome> {
  try {
    return await applyIfChanged(ctx.client, object, live, ctx.log, ctx.counters);
  } catch (error) {
    return rethrowRejection(error, object, fix);
  }
}

/** Who serves the optional kinds a runtime may render. */
const missingKindHint: Record<string, string> = {
  ScaledObject: "KEDA, for spec.workers.mode keda",
  ServiceMonitor: "the Prometheus Operator, for spec.monitoring.serviceMonitor",
  MachineDeployment: "Cluster API, for spec.nodePool",
};

/** Reasons of an apply the API server did not take: each is in status and one Warning Event. */
const applyFailureReasons = new Set(["ApplyRejected", "ApplyFailed"]);

/**
 * A refusal by the API server (isRejected: 4xx) becomes StopReconcile ApplyRejected naming the
 * object and the server's message, retried when the runtime changes. Any other HTTP error (5xx, e.g.
 * 500 "failed to create typed patch object" for a value of the wrong type; 401, 429) and a kind the
 * server does not serve (KEDA or the Prometheus Operator not installed) are reported the same way as
 * ApplyFailed and then retried with back-off (they may pass). A 409 or a network error is rethrown.
 */
function rethrowRejection(error: unknown, object: KubeObject, fix: string): never {
  const ref = `${object.kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata?.name}`;
  if (isRejected(error)) throw new StopReconcile("ApplyRejected", `the API server rejected ${ref}: ${describeError(error)}; ${fix}`, []);
  if (isKindMissing(error)) {
    const fixKind = `install its CustomResourceDefinition (${missingKindHint[object.kind ?? ""] ?? object.apiVersion}) or change the spec that renders it`;
    throw new StopReconcile("ApplyFailed", `the API server does not serve ${object.apiVersion} ${object.kind}, needed for ${ref}; ${fixKind}; retried with back-off`, [], { retry: true, cause: error });
  }
  const status = httpStatus(error);
  // 409 is an optimistic-concurrency race, retried at once by the queue; anything else the user should see.
  if (status !== undefined && status !== 409) {
    throw new StopReconcile("ApplyFailed", `the API server failed to apply ${ref}: ${describeError(error)}; retried with back-off; if it persists, ${fix}`, [], { retry: true, cause: error });
  }
  throw error;
}

/**
 * The Progressing condition while pods are awaited: True (waiting, since its lastTransitionTime),
 * or False when a Deployment will not finish by itself (stalledDeployment), its message naming the
 * Deployment and what its first unready pod reports. A stall found earlier stays until the rollout
 * changes (new config checksum) or the runtime is ready; pods are read once per stall.
 */
async function rolloutProgress(
  ctx: ReconcileContext,
  deployments: KubeObject[],
  previous: XTrinodeStatus,
  configChecksum: string,
  now: Date,
): Promise<{ condition: ConditionInput; stalled: boolean; coordinator: boolean } | undefined> {
  const isCoordinator = (d: KubeObject) => d.metadata?.labels?.["app.kubernetes.io/component"] === "coordinator";
  const before = previous.conditions?.find((c) => c.type === "Progressing");
  const waitingSinceMs = before?.status === "True" && before.lastTransitionTime ? Date.parse(before.lastTransitionTime) : undefined;
  const found = stalledDeployment(deployments, waitingSinceMs, now.getTime());
  if (found) {
    const coordinator = isCoordinator(found.deployment);
    if (before?.status === "False" && before.reason === found.stall.reason && previous.configChecksum === configChecksum) {
      return { condition: { type: "Progressing", status: "False", reason: before.reason, message: before.message ?? found.stall.message }, stalled: true, coordinator };
    }
    const selector = podSelector(found.deployment);
    let detail: string | undefined;
    if (selector) {
      try {
        detail = podProblem(await ctx.client.list("v1", "Pod", found.deployment.metadata?.namespace, selector))?.message;
      } catch (error) {
        ctx.log.warn({ deployment: found.deployment.metadata?.name, error: describeError(error) }, "pods of a stalled Deployment not readable");
      }
    }
    const message = detail ? `${found.stall.message}; ${detail}` : found.stall.message;
    return { condition: { type: "Progressing", status: "False", reason: found.stall.reason, message }, stalled: true, coordinator };
  }
  if (!awaitingPods(deployments)) return undefined;
  return { condition: { type: "Progressing", status: "True", reason: "WaitingForPods", message: "waiting for the pods to become ready" }, stalled: false, coordinator: false };
}

/** Whether the status already reports this problem in condition `type` (so its Event was already emitted). */
function hasCondition(status: XTrinodeStatus | undefined, type: string, reason: string, message: string): boolean {
  return Boolean(status?.conditions?.some((c) => c.type === type && c.reason === reason && c.message === message));
}

/** A Warning Event on the runtime; best effort (the status carries the same message). Returns writes issued. */
async function warn(ctx: ReconcileContext, runtime: KubeObject, reason: string, message: string): Promise<number> {
  try {
    await ctx.client.createEvent({ regarding: runtime, type: "Warning", reason, message });
    return 1;
  } catch (error) {
    ctx.log.warn({ runtime: `${runtime.metadata?.namespace}/${runtime.metadata?.name}`, reason, error: describeError(error) }, "event not recorded");
    return 0;
  }
}

function readyCondition(phase: Phase): ConditionInput {
  return phase === "Ready"
    ? { type: "Ready", status: "True", reason: "Ready", message: "coordinator ready; route RUNNING" }
    : { type: "Ready", status: "False", reason: phase, message: `runtime is ${phase}` };
}

function phaseMessage(phase: Phase, idle: boolean, pool: NodePoolState["state"]): string {
  if (pool === "provisioning") return "waiting for the node pool to become Ready";
  switch (phase) {
    case "Ready": return "coordinator ready";
    case "Suspending": return idle ? "idle past wakeTTL: draining, then scaling to zero" : "suspend requested: draining, then scaling to zero";
    case "Suspended": return idle ? "suspended after idling past wakeTTL" : "suspended";
    case "Resuming": return "resume requested: scaling up";
    default: return "waiting for the coordinator to become ready";
  }
}

function mergeByType(base: ConditionInput[], overrides: ConditionInput[]): ConditionInput[] {
  const byType = new Map(base.map((c) => [c.type, c]));
  for (const c of overrides) byType.set(c.type, c);
  return [...byType.values()];
}

function minDefined(a: number | undefined, b: number): number {
  return a === undefined ? b : Math.min(a, b);
}

function checksum(objects: KubeObject[]): string {
  return createHash("sha256").update(JSON.stringify(objects)).digest("hex").slice(0, 16);
}

/** Writes status through the status subresource when it differs; returns writes issued (0 or 1). */
async function writeStatus(ctx: ReconcileContext, runtime: KubeObject, status: XTrinodeStatus): Promise<number> {
  if (sameStatus(runtime.status as XTrinodeStatus | undefined, status)) return 0;
  await ctx.client.replaceStatus({ ...runtime, status }, plurals.runtime);
  return 1;
}
