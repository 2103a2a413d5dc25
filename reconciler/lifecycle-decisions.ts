// The runtime lifecycle as pure functions: from intent (spec.lifecycle.suspended), the idle rule,
// the gateway activity signal and what is live, decide whether compute runs, the route state and
// the phase. Time comes in as an argument, so every transition is testable without waiting.
//
// "Queries still run" while suspending is judged from gateway activity: the gateway reports activity
// (annotation xtrinode.io/last-activity) at most every 30 s while queries flow. The route stays
// DRAINING until drainPeriod has passed since both the start of the suspension and the last
// reported activity, and never longer than maxDrain after the suspension started.
import type { XTrinodeStatus } from "../schemas/generated/types.ts";
import type { RouteState } from "./routes.ts";

export type Phase = NonNullable<XTrinodeStatus["phase"]>;

export interface LifecycleTimers {
  /** Quiet time after the last activity before a suspending runtime stops draining. */
  drainPeriodMs: number;
  /** Upper bound of a drain, however busy the runtime is. */
  maxDrainMs: number;
}

export const defaultLifecycleTimers: LifecycleTimers = { drainPeriodMs: 30_000, maxDrainMs: 10 * 60_000 };

export interface IntentInput {
  now: Date;
  suspendedIntent: boolean;
  wakeTTLMs?: number;
  lastActivity?: string;
  resumeRequestedAt?: string;
  status: Pick<XTrinodeStatus, "phase" | "routeState" | "readySince" | "suspendedAt">;
  timers: LifecycleTimers;
}

export interface Intent {
  /** The runtime should be (or become) suspended: by intent or because it is idle. */
  suspend: boolean;
  idle: boolean;
  /** Suspending, but the route still drains: compute keeps running. */
  draining: boolean;
  /** Render compute with zero replicas. */
  scaleToZero: boolean;
  suspendedAt?: string;
  /** When the decision changes by itself (idle deadline, drain end), in ms from now. */
  requeueAfterMs?: number;
}

function time(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function latest(...values: Array<string | undefined>): number | undefined {
  const times = values.map(time).filter((t): t is number => t !== undefined);
  return times.length ? Math.max(...times) : undefined;
}

/**
 * When the idle rule will call the runtime idle (epoch ms): max(last-activity, resume-requested-at,
 * status.readySince) + wakeTTL; undefined without a wakeTTL or before the runtime was ever ready or used.
 */
export function idleDeadlineMs(
  input: Pick<IntentInput, "wakeTTLMs" | "lastActivity" | "resumeRequestedAt" | "status">,
): number | undefined {
  if (input.wakeTTLMs === undefined) return undefined;
  const reference = latest(input.lastActivity, input.resumeRequestedAt, input.status.readySince);
  return reference === undefined ? undefined : reference + input.wakeTTLMs;
}

/**
 * The idle rule (docs/CONTRACTS.md): with a wakeTTL, idle when
 * now − max(last-activity, resume-requested-at, status.readySince) > wakeTTL.
 * Returns the idle flag and, when not idle yet, how long until it would be.
 */
export function evaluateIdle(input: Pick<IntentInput, "now" | "wakeTTLMs" | "lastActivity" | "resumeRequestedAt" | "status">): {
  idle: boolean;
  idleInMs?: number;
} {
  const idleAt = idleDeadlineMs(input);
  if (idleAt === undefined) return { idle: false };
  const now = input.now.getTime();
  return now > idleAt ? { idle: true } : { idle: false, idleInMs: idleAt - now + 1 };
}

export function decideIntent(input: IntentInput): Intent {
  const { now, status, timers } = input;
  const { idle, idleInMs } = evaluateIdle(input);
  const suspend = input.suspendedIntent || idle;
  if (!suspend) return { suspend, idle, draining: false, scaleToZero: false, requeueAfterMs: idleInMs };

  const alreadySuspending = status.phase === "Suspending" || status.phase === "Suspended";
  const suspendedAt = alreadySuspending && status.suspendedAt ? status.suspendedAt : now.toISOString();
  const wasServing = status.routeState === "RUNNING" || status.routeState === "DRAINING";
  if (wasServing) {
    const start = time(suspendedAt)!;
    const quietFrom = Math.max(start, time(input.lastActivity) ?? start);
    const drainEnd = Math.min(quietFrom + timers.drainPeriodMs, start + timers.maxDrainMs);
    if (now.getTime() < drainEnd) {
      return { suspend, idle, draining: true, scaleToZero: false, suspendedAt, requeueAfterMs: drainEnd - now.getTime() + 1 };
    }
  }
  return { suspend, idle, draining: false, scaleToZero: true, suspendedAt };
}

export interface Readiness {
  coordinatorReady: boolean;
  /** No coordinator or worker pod is running any more (all replica counts zero). */
  computeStopped: boolean;
}

export interface PhaseDecision {
  phase: Phase;
  routeState: RouteState;
}

/** Phase and route state once the desired objects have been applied. */
export function decidePhase(intent: Intent, previous: Phase | undefined, readiness: Readiness): PhaseDecision {
  if (intent.suspend) {
    if (intent.draining) return { phase: "Suspending", routeState: "DRAINING" };
    return { phase: readiness.computeStopped ? "Suspended" : "Suspending", routeState: "PAUSED" };
  }
  if (previous === "Suspended" || previous === "Suspending") return { phase: "Resuming", routeState: "RESUMING" };
  if (readiness.coordinatorReady) return { phase: "Ready", routeState: "RUNNING" };
  return { phase: "Reconciling", routeState: "RESUMING" };
}
