// The lifecycle API's pure decisions: given a runtime (and a resume Lease as observed, and the time),
// what to answer and what intent to write. No I/O and no clock of their own: the stateful resume gate
// (resume-gate.ts) and the other actions (lifecycle-actions.ts) read, call these, then write.
import { annotations } from "../schemas/api/index.ts";
import type { XTrinode, XTrinodeStatus } from "../schemas/generated/types.ts";
import { badRequest } from "./errors.ts";
import { judgeLease, type LeaseObservation, type LeaseRecord } from "../lib/lease.ts";
import type { MergePatch } from "./store.ts";

/** Reasons of the Events this server records on a runtime when it writes resume or suspend intent. */
export const eventReasons = { resumeRequested: "ResumeRequested", suspendRequested: "SuspendRequested" } as const;

export type RouteState = NonNullable<XTrinodeStatus["routeState"]>;

/** What a lifecycle action answers (server.ts turns it into status, Retry-After and JSON body). */
export interface LifecycleAnswer {
  status: 200 | 202 | 204;
  body?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/**
 * How long a "Lease held" answer is reused without any Kubernetes call, at most (never past the Lease's expiry).
 * Short, so a replica notices within seconds that the runtime became RUNNING or was suspended elsewhere;
 * long enough that a stampede costs one read per replica.
 */
export const heldRecheckMs = 2_000;

/** Until when (local clock) a "held" answer may be given from memory. */
export function heldAnswerUntil(leaseExpiresAtMs: number, nowMs: number): number {
  return Math.min(leaseExpiresAtMs, nowMs + heldRecheckMs);
}

/** 202 RESUMING with retry guidance: what every resume caller gets while a resume is under way. */
export function resumingAnswer(namespace: string, name: string, retryAfterSeconds: number): LifecycleAnswer {
  return { status: 202, retryAfterSeconds, body: { namespace, name, state: "RESUMING", retryAfterSeconds } };
}

export function isRunning(runtime: XTrinode): boolean {
  return runtime.status?.routeState === "RUNNING" && runtime.spec?.lifecycle?.suspended !== true;
}

/**
 * Resume, judged from the runtime alone: RUNNING and not suspended → "running" (200); route RESUMING and not
 * suspended (the operator is already bringing it up, intent recorded) → "resuming" (202, nothing to write);
 * otherwise the resume Lease decides ("lease").
 */
export function resumeByRuntime(runtime: XTrinode): "running" | "resuming" | "lease" {
  if (isRunning(runtime)) return "running";
  if (runtime.spec?.lifecycle?.suspended !== true && runtime.status?.routeState === "RESUMING") return "resuming";
  return "lease";
}

/**
 * A resume Lease gates one resume: once the runtime has been Ready or suspended again after the Lease was
 * acquired (operator status times; a wake TTL shorter than the Lease would otherwise block the next resume),
 * or suspend intent was recorded after it (the suspending replica could not delete the Lease), the Lease no
 * longer holds other callers back.
 */
export function resumeLeaseConsumed(runtime: XTrinode, lease: LeaseRecord): boolean {
  const acquiredMs = Date.parse(lease.acquireTime ?? "");
  if (!Number.isFinite(acquiredMs)) return false;
  const laterEvents = [
    runtime.status?.readySince,
    runtime.status?.suspendedAt,
    runtime.metadata.annotations?.[annotations.suspendRequestedAt],
  ];
  return laterEvents.some((time) => time !== undefined && Date.parse(time) > acquiredMs);
}

/** Whether the XTrinode carries the resume intent written under this Lease (the winner stamps resume-requested-at = acquireTime). */
export function intentRecordedUnder(runtime: XTrinode, lease: LeaseRecord): boolean {
  const requestedMs = Date.parse(runtime.metadata.annotations?.[annotations.resumeRequestedAt] ?? "");
  const acquiredMs = Date.parse(lease.acquireTime ?? "");
  return Number.isFinite(requestedMs) && Number.isFinite(acquiredMs) && requestedMs >= acquiredMs;
}

export interface LeaseFacts {
  runtime: XTrinode;
  /** The live Lease record and this process's observation of it. */
  lease: LeaseRecord;
  observation: LeaseObservation;
  /** This process's holder identity. */
  identity: string;
  /** The record key of the Lease under which this process recorded intent for this runtime, if any. */
  ownIntentRecordKey: string | undefined;
  /** A Lease seen this long with no intent recorded under it is abandoned. */
  abandonedLeaseGraceMs: number;
  nowMs: number;
}

/**
 * Whether an existing resume Lease holds this caller back ("held" until its expiry on our clock) or may be
 * taken ("acquire"). Held: by another identity, or by us with our intent recorded under it, and neither
 * consumed nor abandoned. A Lease whose intent write failed is not worth waiting for: our own at once (we
 * know we did not record intent under it), anyone's once it has gone without intent for the grace period.
 */
export function decideOnLease(facts: LeaseFacts): { kind: "held"; expiresAtMs: number } | { kind: "acquire" } {
  const { runtime, lease, observation, nowMs } = facts;
  const judgement = judgeLease(observation, nowMs);
  if (judgement.kind !== "held") return { kind: "acquire" };
  const ownWithoutIntent = judgement.holderIdentity === facts.identity && facts.ownIntentRecordKey !== observation.recordKey;
  const abandoned = nowMs - observation.observedAtMs > facts.abandonedLeaseGraceMs && !intentRecordedUnder(runtime, lease);
  if (ownWithoutIntent || abandoned || resumeLeaseConsumed(runtime, lease)) return { kind: "acquire" };
  return { kind: "held", expiresAtMs: judgement.expiresAtMs };
}

/** The merge patch recording resume intent. */
export function resumeIntentPatch(at: string, by: string): MergePatch {
  return {
    metadata: { annotations: { [annotations.resumeRequestedAt]: at, [annotations.resumeRequestedBy]: by } },
    spec: { lifecycle: { suspended: false } },
  };
}

/** The merge patch recording suspend intent. */
export function suspendIntentPatch(at: string, by: string): MergePatch {
  return {
    metadata: { annotations: { [annotations.suspendRequestedAt]: at, [annotations.suspendRequestedBy]: by } },
    spec: { lifecycle: { suspended: true } },
  };
}

/** Suspend of a runtime already suspended: the answer, with no write; undefined when suspend intent is to be written. */
export function alreadySuspendedAnswer(runtime: XTrinode, namespace: string, name: string): LifecycleAnswer | undefined {
  if (runtime.spec?.lifecycle?.suspended !== true) return undefined;
  const state = runtime.status?.routeState ?? "PAUSED";
  return { status: 202, body: { namespace, name, state, suspended: true } };
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses the activity report body { at: "<RFC 3339>" }; a time in the future is clamped to now (clock skew must not keep a runtime awake). */
export function parseActivityTime(body: unknown, nowMs: number): number {
  const at = body && typeof body === "object" ? (body as { at?: unknown }).at : undefined;
  if (typeof at !== "string" || !rfc3339.test(at) || !Number.isFinite(Date.parse(at))) {
    throw badRequest('activity body must be a JSON object {"at": "<RFC 3339 time>"}, e.g. {"at": "2026-01-01T12:00:00Z"}');
  }
  return Math.min(Date.parse(at), nowMs);
}

/**
 * The merge patch moving xtrinode.io/last-activity forward to atMs, conditional on the runtime's
 * resourceVersion; undefined when the recorded activity is already as late (last-activity only moves forward).
 */
export function activityPatch(runtime: XTrinode, atMs: number): MergePatch | undefined {
  const current = runtime.metadata.annotations?.[annotations.lastActivity];
  if (current && Date.parse(current) >= atMs) return undefined;
  const resourceVersion = (runtime.metadata as { resourceVersion?: string }).resourceVersion;
  return { metadata: { resourceVersion, annotations: { [annotations.lastActivity]: new Date(atMs).toISOString() } } };
}
