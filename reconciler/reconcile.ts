// One level-triggered reconcile of one XTrinode, as a sequence of named steps (Stackable's
// dereference → validate → build → apply → update status; see README.md in this folder):
//   1. read inputs   the runtime, its namespace's catalogs, owned objects, guardrails, routes and the
//                    policy, through ctx.reader (the informer caches in the controller)
//   2. validate      spec, catalogs, policy and Secret references, once (plan.ts)
//   3. build         lifecycle intent and every desired object, no API call (plan.ts)
//   4. apply         guardrails, node pool, dry run, prune, apply: what the server answered (apply.ts)
//   5. assess        phase and route state from what is live after the apply
//   6. publish route this runtime's entry in the routes document, when it changed
//   7. update status from all of the above, when it differs
// A problem the user must fix stops the sequence (StopReconcile) and is reported in status.
import { createHash } from "node:crypto";
import type { Logger } from "../lib/logger.ts";
import type { XTrinodeCatalog, XTrinodePolicy } from "../renderer/types.ts";
import type { GatewayRoutes, XTrinodeStatus } from "../schemas/generated/types.ts";
import { annotations, plurals } from "../schemas/api/index.ts";
import { applyDesired, liveOf, type AppliedState, type ApplyCounters, type LiveInventory } from "./apply.ts";
import type { ClusterReader } from "./cluster-reader.ts";
import type { KubeObject } from "./apply-decision.ts";
import { finalizeRuntime, hasFinalizer, setFinalizer } from "./finalize.ts";
import { describeError, type ClusterClient } from "./kube-client.ts";
import { decidePhase, type LifecycleTimers, type Phase } from "./lifecycle-decisions.ts";
import { buildDesired, resolveSecrets, validateRuntime, type DesiredState, type RendererPort, type ValidRuntime } from "./plan.ts";
import { describeConflicts, doubleClaimsWon, routeConflicts, withoutClaims } from "./route-claims.ts";
import { findRoute, sameRoute, upsertRoute, type RouteState } from "./routes.ts";
import type { RoutesPublisher } from "./routes-publisher.ts";
import { buildStatus, sameStatus, type ConditionInput } from "./status.ts";
import { applyFailureReasons, StopReconcile } from "./stop-reconcile.ts";
import {
  awaitingPods,
  coordinatorReady,
  computeStopped,
  podProblem,
  podSelector,
  readyWorkers,
  stalledDeployment,
  type NodePoolState,
} from "./readiness.ts";

export { StopReconcile } from "./stop-reconcile.ts";
export type { RendererPort } from "./plan.ts";

export interface ReconcileContext {
  client: ClusterClient;
  /** Where every step reads from: the informer caches (controller) or the API server (apiReader). */
  reader: ClusterReader;
  renderer: RendererPort;
  policy: () => XTrinodePolicy | undefined;
  gatewayNamespace: string;
  /** Writes route entries of this process (batched); see RoutesPublisher. */
  routes: RoutesPublisher;
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
const stalledFix =
  "the pods cannot start: check node capacity and spec resources, the image and the pods' events; the runtime recovers by itself once they become ready";
const refusedFix =
  "admission refuses the pods: raise the namespace quota (policy) or lower the spec's workers or resources; the runtime recovers by itself once they are created";
const nodePoolPollMs = 5_000;
/** While a route claim is held by another runtime: look again (the routes document has no watch that requeues us). */
const routeConflictPollMs = 30_000;

/** One reconcile of one runtime: its state while the steps run. */
interface Pass {
  ctx: ReconcileContext;
  runtime: KubeObject;
  namespace: string;
  name: string;
  previous: XTrinodeStatus;
  now: Date;
  /** Writes issued so far (objects, status, events, routes). */
  writes: number;
}

export async function reconcileRuntime(ctx: ReconcileContext, namespace: string, name: string): Promise<ReconcileResult> {
  const found = await ctx.reader.runtime(namespace, name);
  if (!found) return { writes: 0, secretNames: [] };
  if (found.metadata?.deletionTimestamp) {
    return { writes: hasFinalizer(found) ? await finalizeRuntime(ctx, found) : 0, secretNames: [] };
  }
  let runtime = found;
  let writes = 0;
  if (!hasFinalizer(runtime)) {
    runtime = await setFinalizer(ctx.client, runtime, true);
    ctx.reader.wrote(runtime);
    writes++;
  }
  const previous = runtime.status as XTrinodeStatus | undefined;
  const now = ctx.now();
  if (!previous?.phase) {
    // A new runtime: record Pending before any work, then reconcile again at once.
    writes += await writeStatus(
      ctx,
      runtime,
      buildStatus({
        previous,
        generation: runtime.metadata?.generation,
        now,
        phase: "Pending",
        conditions: [],
        message: "waiting for the first reconcile",
      }),
    );
    return { writes, phase: "Pending", requeueAfterMs: 0, secretNames: [] };
  }

  const pass: Pass = { ctx, runtime, namespace, name, previous, now, writes };
  let secretNames: string[] = [];
  const conditions: ConditionInput[] = [];
  try {
    const inputs = await readInputs(ctx, namespace, name);
    const valid = validateRuntime(ctx, runtime, inputs.catalogs, inputs.policy);
    secretNames = valid.secretNames;
    conditions.push(valid.condition, await resolveSecrets(ctx.reader, valid));
    const desired = buildDesired(ctx, runtime, valid, inputs.policy, now);
    const applied = await applyDesired(ctx, desired, inputs.owned, inputs.guardrails);
    pass.writes += applied.writes;
    const assessed = await assess(pass, desired, applied);
    conditions.push(...assessed.conditions);
    const route = await publishRoute(pass, desired, assessed, inputs.routes);
    const requeueAfterMs = route.conflicts ? minDefined(assessed.requeueAfterMs, routeConflictPollMs) : assessed.requeueAfterMs;
    await updateStatus(pass, valid, desired, applied, assessed, route, conditions);
    return { writes: pass.writes, phase: assessed.phase, requeueAfterMs, secretNames };
  } catch (error) {
    if (!(error instanceof StopReconcile)) throw error;
    await reportStop(pass, error, conditions);
    // Reported; the caller's back-off retries (the workqueue, or `xtrinode apply`'s error count).
    if (error.retry) throw error.cause ?? error;
    return { writes: pass.writes, phase: "Error", secretNames };
  }
}

/** What step 1 reads; everything later works on these values. */
interface Inputs {
  catalogs: XTrinodeCatalog[];
  policy: XTrinodePolicy | undefined;
  owned: LiveInventory;
  guardrails: KubeObject[];
  routes: GatewayRoutes;
}

/** Step 1, read inputs: from the informer caches in the controller, so an unchanged runtime costs no request. */
async function readInputs(ctx: ReconcileContext, namespace: string, name: string): Promise<Inputs> {
  const { reader } = ctx;
  const [catalogs, owned, guardrails, routes] = await Promise.all([
    reader.catalogs(namespace),
    reader.owned(namespace, name),
    reader.guardrails(namespace),
    reader.routes(),
  ]);
  return { catalogs, policy: ctx.policy(), owned, guardrails, routes };
}

/** What step 5 decided from the live objects. */
interface Assessment {
  phase: Phase;
  routeState: RouteState;
  pool: NodePoolState["state"];
  /** A stalled rollout's reason and message (Progressing False). */
  stallReason?: string;
  stallMessage?: string;
  conditions: ConditionInput[];
  requeueAfterMs?: number;
}

/**
 * Step 5, assess: the phase and route state from what the apply left live (node pool, Deployments)
 * and the lifecycle intent; a failed node pool stops the reconcile.
 */
async function assess(pass: Pass, desired: DesiredState, applied: AppliedState): Promise<Assessment> {
  const { ctx, runtime, previous, now } = pass;
  const { intent } = desired;
  const { pool } = applied;
  const conditions: ConditionInput[] = pool.state === "none" ? [] : [pool.condition];
  if (pool.state === "failed") {
    const wasFailing = previous.conditions?.some((c) => c.type === "NodePoolReady" && c.reason === "ProvisioningFailed");
    if (!wasFailing) {
      await ctx.client.createEvent({ regarding: runtime, type: "Warning", reason: "NodePoolFailed", message: pool.condition.message });
      pass.writes++;
    }
    throw new StopReconcile(
      "NodePoolFailed",
      `node pool failed: ${pool.condition.message}; fix spec.nodePool (class, instanceType) or the cloud quota`,
      conditions,
    );
  }
  if (!applied.runtimeApplied) {
    // Node pool first; Trino pods wait until it is Ready.
    return {
      phase: "Reconciling",
      routeState: "RESUMING",
      pool: pool.state,
      conditions,
      requeueAfterMs: minDefined(intent.requeueAfterMs, nodePoolPollMs),
    };
  }
  const deployments = liveOf(
    applied,
    desired.objects.filter((o) => o.kind === "Deployment"),
  );
  const decision = decidePhase(intent, previous.phase, {
    coordinatorReady: coordinatorReady(deployments),
    computeStopped: computeStopped(deployments),
  });
  let { phase, routeState } = decision;
  let requeueAfterMs = intent.requeueAfterMs;
  let stallReason: string | undefined;
  let stallMessage: string | undefined;
  if (phase !== "Ready" && phase !== "Suspended") requeueAfterMs = minDefined(requeueAfterMs, settlePollMs);
  if (phase === "Ready" || phase === "Reconciling" || phase === "Resuming") {
    const progress = await rolloutProgress(ctx, deployments, previous, checksum(desired.objects), now);
    if (progress) {
      conditions.push(progress.condition);
      if (progress.stalled) {
        stallReason = progress.condition.reason;
        stallMessage = progress.condition.message;
        if (!hasCondition(previous, "Progressing", progress.condition.reason, progress.condition.message))
          pass.writes += await recordWarningEvent(ctx, runtime, progress.condition.reason, progress.condition.message);
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
  return { phase, routeState, pool: pool.state, stallReason, stallMessage, conditions, requeueAfterMs };
}

/** What step 6 published. */
interface PublishedRoute {
  /** RoutePublished, and its message when claims are held by other runtimes. */
  condition: ConditionInput;
  conflicts: boolean;
}

/**
 * Step 6, publish route: our own entry (only when it changed), without hostnames or the default
 * route another runtime already holds (route-claims.ts).
 */
async function publishRoute(pass: Pass, desired: DesiredState, assessed: Assessment, routesDoc: GatewayRoutes): Promise<PublishedRoute> {
  const { ctx, runtime, namespace, name, previous, now } = pass;
  const { routeState, stallMessage } = assessed;
  const entry = {
    ...desired.rendered.route,
    state: routeState,
    ...(routeState === "FAILED" && stallMessage ? { message: stallMessage.slice(0, 1024) } : {}),
  };
  const won = await doubleClaimsWon(ctx.reader, routesDoc, runtime);
  let conflicts = routeConflicts(routesDoc, entry, won);
  if (!sameRoute(findRoute(routesDoc, namespace, name), withoutClaims(entry, conflicts))) {
    const written = await ctx.routes.publish(`${namespace}/${name}`, (doc) => {
      // Decided again on the document being written, so two claimants racing cannot both win.
      conflicts = routeConflicts(doc, entry, won);
      const next = withoutClaims(entry, conflicts);
      return sameRoute(findRoute(doc, namespace, name), next) ? doc : upsertRoute(doc, { ...next, updatedAt: now.toISOString() });
    });
    if (written) pass.writes++;
  }
  if (!conflicts.length) {
    return {
      condition: { type: "RoutePublished", status: "True", reason: routeState, message: `route ${routeState} in ${ctx.gatewayNamespace}` },
      conflicts: false,
    };
  }
  // The runtime serves (by header and its other claims), so its phase and Ready stay what they
  // are (they also drive idle suspension); the conflict is in RoutePublished, the message and an Event.
  const message = describeConflicts(conflicts);
  if (!hasCondition(previous, "RoutePublished", "RouteConflict", message)) {
    ctx.log.warn({ runtime: `${namespace}/${name}`, conflicts }, "route claims held by other runtimes; published without them");
    pass.writes += await recordWarningEvent(ctx, runtime, "RouteConflict", message);
  }
  return { condition: { type: "RoutePublished", status: "False", reason: "RouteConflict", message }, conflicts: true };
}

/** Step 7, update status: from what was validated, applied and published; written only when it differs. */
async function updateStatus(
  pass: Pass,
  valid: ValidRuntime,
  desired: DesiredState,
  applied: AppliedState,
  assessed: Assessment,
  route: PublishedRoute,
  conditions: ConditionInput[],
): Promise<void> {
  const { ctx, runtime, previous, now } = pass;
  const { phase, routeState, stallReason, stallMessage } = assessed;
  const fix = stallReason === "FailedCreate" ? refusedFix : stalledFix;
  const phaseText = stallMessage ? `${stallMessage}; ${fix}` : phaseMessage(phase, desired.intent.idle, assessed.pool);
  const ready: ConditionInput =
    stallMessage && phase === "Error"
      ? { type: "Ready", status: "False", reason: stallReason ?? "ProgressDeadlineExceeded", message: phaseText }
      : readyCondition(phase);
  // A route conflict is the message the user acts on; phase and Ready stay what they are.
  const message = route.conflicts ? route.condition.message : phaseText;
  const status = buildStatus({
    previous,
    generation: runtime.metadata?.generation,
    now,
    phase,
    routeState,
    message,
    conditions: [ready, ...conditions, route.condition],
    catalogs: valid.checked.catalogs,
    workers: readyWorkers(
      liveOf(
        applied,
        desired.objects.filter((o) => o.kind === "Deployment"),
      ),
    ),
    suspendedAt: desired.intent.suspendedAt,
    lastActivityTime: desired.annotations[annotations.lastActivity],
    configChecksum: checksum(desired.objects),
  });
  pass.writes += await writeStatus(ctx, runtime, status);
}

/** A problem the user must fix: phase Error with the message, nothing further applied. */
async function reportStop(pass: Pass, error: StopReconcile, conditions: ConditionInput[]): Promise<void> {
  const { ctx, runtime, namespace, name, previous, now } = pass;
  ctx.log.warn({ runtime: `${namespace}/${name}`, reason: error.reason, message: error.message }, "runtime error");
  if (applyFailureReasons.has(error.reason) && !hasCondition(previous, "Ready", error.reason, error.message))
    pass.writes += await recordWarningEvent(ctx, runtime, error.reason, error.message);
  const all = mergeByType(conditions, error.conditions);
  all.unshift({ type: "Ready", status: "False", reason: error.reason, message: error.message });
  const status = buildStatus({
    previous,
    generation: runtime.metadata?.generation,
    now,
    phase: "Error",
    conditions: all,
    message: error.message,
  });
  pass.writes += await writeStatus(ctx, runtime, status);
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
      return {
        condition: { type: "Progressing", status: "False", reason: before.reason, message: before.message ?? found.stall.message },
        stalled: true,
        coordinator,
      };
    }
    const selector = podSelector(found.deployment);
    let detail: string | undefined;
    if (selector) {
      try {
        detail = podProblem(await ctx.client.list("v1", "Pod", found.deployment.metadata?.namespace, selector))?.message;
      } catch (error) {
        ctx.log.warn(
          { deployment: found.deployment.metadata?.name, error: describeError(error) },
          "pods of a stalled Deployment not readable",
        );
      }
    }
    const message = detail ? `${found.stall.message}; ${detail}` : found.stall.message;
    return { condition: { type: "Progressing", status: "False", reason: found.stall.reason, message }, stalled: true, coordinator };
  }
  if (!awaitingPods(deployments)) return undefined;
  return {
    condition: { type: "Progressing", status: "True", reason: "WaitingForPods", message: "waiting for the pods to become ready" },
    stalled: false,
    coordinator: false,
  };
}

/** Whether the status already reports this problem in condition `type` (so its Event was already emitted). */
function hasCondition(status: XTrinodeStatus | undefined, type: string, reason: string, message: string): boolean {
  return Boolean(status?.conditions?.some((c) => c.type === type && c.reason === reason && c.message === message));
}

/** A Warning Event on the runtime; best effort (the status carries the same message). Returns writes issued. */
async function recordWarningEvent(ctx: ReconcileContext, runtime: KubeObject, reason: string, message: string): Promise<number> {
  try {
    await ctx.client.createEvent({ regarding: runtime, type: "Warning", reason, message });
    return 1;
  } catch (error) {
    ctx.log.warn(
      { runtime: `${runtime.metadata?.namespace}/${runtime.metadata?.name}`, reason, error: describeError(error) },
      "event not recorded",
    );
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
    case "Ready":
      return "coordinator ready";
    case "Suspending":
      return idle ? "idle past wakeTTL: draining, then scaling to zero" : "suspend requested: draining, then scaling to zero";
    case "Suspended":
      return idle ? "suspended after idling past wakeTTL" : "suspended";
    case "Resuming":
      return "resume requested: scaling up";
    default:
      return "waiting for the coordinator to become ready";
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
  ctx.reader.wrote(await ctx.client.replaceStatus({ ...runtime, status }, plurals.runtime));
  return 1;
}
