// The lifecycle core: resume (Lease-gated, single-flight), suspend, activity reports and status views.
// All Kubernetes I/O goes through a RuntimeStore; time comes from an injected clock.
//
// Resume, in order, with the cheapest answer first:
//  1. this process learnt less than heldRecheckMs ago that the resume Lease is held (it won it, or lost
//     to another holder) and the Lease has not expired on the local clock → 202 RESUMING, no Kubernetes call;
//  2. a resume for the same runtime is already in flight in this process → join it (single-flight). Joiners
//     are answered as soon as the Lease outcome is known (won or lost: 202, the guidance every caller gets
//     while the Lease is held), not after the winner's intent write: that write is the initiating caller's.
//     Should it fail, the Lease is released (below) and the joiners' retry after Retry-After proceeds;
//  3. read the XTrinode (and the Lease, in parallel): absent → 404; route RUNNING and not suspended → 200 RUNNING;
//     route RESUMING and not suspended (the operator is already at it) → 202 without writing;
//  4. judge the Lease like client-go (observed record + duration on the local clock):
//     held (by another, or by us with our intent recorded under it) and not yet consumed (the runtime has
//     not been Ready or suspended, nor suspend intent recorded, since it was acquired) → 202 without writing;
//  5. acquire: create (409 AlreadyExists = lost) or update at the fetched resourceVersion (409 = lost);
//  6. the winner merge-patches the intent onto the XTrinode (suspended=false, resume-requested-at/-by).
//     If that patch fails, the winner deletes the Lease it just wrote (at its resourceVersion) so a retry
//     can proceed at once, forgets its local cache, and answers 503. If that delete fails too, the Lease
//     stays: this process retries immediately anyway (it renews its own Lease when it has no intent
//     recorded under it); other processes take it over once they have seen it without intent on the XTrinode
//     for abandonedLeaseGraceMs (or when it expires), answering 202 meanwhile.
// Nothing is written before the XTrinode is known to exist; a failed read writes nothing.
// Lease and XTrinode writes are counted in metrics (kube_writes_total) by resource, verb and result.
import { annotations } from "../schemas/api/index.ts";
import type { XTrinode, XTrinodeStatus, Condition } from "../schemas/generated/types.ts";
import { ApiError, badRequest, notFound } from "./errors.ts";
import { acquiredRecord, judgeLease, observeLease, type LeaseObservation, type LeaseRecord } from "../lib/lease.ts";
import type { ApiServerMetrics, ResumeOutcome } from "./metrics.ts";
import { defaultLeaseNamespace, resumeLeaseName } from "./names.ts";
import type { MergePatch, RuntimeStore, WriteResult } from "./store.ts";
import type { Logger } from "../lib/logger.ts";
import { parseDurationMs } from "../reconciler/duration.ts";
import { idleDeadlineMs } from "../reconciler/lifecycle-decisions.ts";

/** Reasons of the Events this server records on a runtime when it writes resume or suspend intent. */
export const eventReasons = { resumeRequested: "ResumeRequested", suspendRequested: "SuspendRequested" } as const;

export interface LifecycleOptions {
  store: RuntimeStore;
  metrics: ApiServerMetrics;
  logger: Logger;
  /** Holder identity written into resume Leases; unique per process. */
  identity: string;
  leaseDurationSeconds: number;
  /** Retry guidance given to resume callers. */
  retryAfterSeconds: number;
  /** At most one last-activity write per runtime per this many seconds (per process). */
  activityMinIntervalSeconds: number;
  /**
   * A Lease seen for this long (local clock) with no resume intent recorded under it is abandoned (its holder
   * failed between acquiring it and writing the intent) and may be taken over. Default 10 s.
   */
  abandonedLeaseGraceMs?: number;
  /** Namespace of the resume Leases (default xtrinode-system, the API server's own). */
  leaseNamespace?: string;
  now?: () => number;
}

export type RouteState = NonNullable<XTrinodeStatus["routeState"]>;

export interface LifecycleAnswer {
  status: 200 | 202 | 204;
  body?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

export interface RuntimeView {
  namespace: string;
  name: string;
  phase: string | null;
  routeState: string | null;
  suspended: boolean;
  lastActivity: string | null;
  resumeRequestedAt: string | null;
  resumeRequestedBy: string | null;
  suspendRequestedAt: string | null;
  suspendRequestedBy: string | null;
  readySince: string | null;
  suspendedAt: string | null;
  message: string | null;
  conditions: Condition[];
  /** Worker pool: mode, ready replicas (status) and what the spec asks (fixed count, or keda min..max). */
  workers: WorkersView;
  hostnames: string[];
  pool: string | null;
  /** XTrinodeCatalog names in use (status.catalogs). */
  catalogs: string[];
  wakeTTL: string | null;
  /** When the idle rule suspends it if no query comes (the operator's rule); null when it never idles or is not serving. */
  idleSuspendAt: string | null;
}

export interface WorkersView {
  mode: "fixed" | "keda";
  ready: number | null;
  /** Fixed mode: the count; keda mode: null (between min and max). */
  desired: number | null;
  min: number | null;
  max: number | null;
}

/** The status view of an XTrinode served by GET /v1/runtimes…: spec intent, status and lifecycle annotations. */
export function runtimeView(runtime: XTrinode): RuntimeView {
  const notes = runtime.metadata.annotations ?? {};
  const status = runtime.status ?? {};
  const spec = runtime.spec ?? {};
  const suspended = spec.lifecycle?.suspended === true;
  const wakeTTL = spec.lifecycle?.wakeTTL ?? null;
  const workers = spec.workers ?? {};
  const mode = workers.mode ?? "fixed";
  let idleSuspendAt: string | null = null;
  if (wakeTTL !== null && !suspended && status.routeState === "RUNNING") {
    let wakeTTLMs: number | undefined;
    try {
      wakeTTLMs = parseDurationMs(wakeTTL);
    } catch {
      wakeTTLMs = undefined; // the operator reports an invalid spec in the conditions
    }
    const deadline = idleDeadlineMs({ wakeTTLMs, lastActivity: notes[annotations.lastActivity], resumeRequestedAt: notes[annotations.resumeRequestedAt], status });
    idleSuspendAt = deadline === undefined ? null : new Date(deadline).toISOString();
  }
  return {
    namespace: runtime.metadata.namespace ?? "",
    name: runtime.metadata.name,
    phase: status.phase ?? null,
    routeState: status.routeState ?? null,
    suspended,
    lastActivity: latestTime(notes[annotations.lastActivity], status.lastActivityTime) ?? null,
    resumeRequestedAt: notes[annotations.resumeRequestedAt] ?? null,
    resumeRequestedBy: notes[annotations.resumeRequestedBy] ?? null,
    suspendRequestedAt: notes[annotations.suspendRequestedAt] ?? null,
    suspendRequestedBy: notes[annotations.suspendRequestedBy] ?? null,
    readySince: status.readySince ?? null,
    suspendedAt: status.suspendedAt ?? null,
    message: status.message ?? null,
    conditions: status.conditions ?? [],
    workers: {
      mode,
      ready: status.workers ?? null,
      desired: mode === "fixed" ? (workers.count ?? 1) : null,
      min: mode === "keda" ? (workers.min ?? null) : null,
      max: mode === "keda" ? (workers.max ?? null) : null,
    },
    hostnames: spec.route?.hostnames ?? [],
    pool: spec.route?.pool ?? null,
    catalogs: status.catalogs ?? [],
    wakeTTL,
    idleSuspendAt,
  };
}

function latestTime(...times: Array<string | undefined>): string | undefined {
  let best: string | undefined;
  for (const time of times) if (time && (best === undefined || Date.parse(time) > Date.parse(best))) best = time;
  return best;
}

export function isRunning(runtime: XTrinode): boolean {
  return runtime.status?.routeState === "RUNNING" && runtime.spec?.lifecycle?.suspended !== true;
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
  const laterEvents = [runtime.status?.readySince, runtime.status?.suspendedAt, runtime.metadata.annotations?.[annotations.suspendRequestedAt]];
  return laterEvents.some((time) => time !== undefined && Date.parse(time) > acquiredMs);
}

/** Whether the XTrinode carries the resume intent written under this Lease (the winner stamps resume-requested-at = acquireTime). */
export function intentRecordedUnder(runtime: XTrinode, lease: LeaseRecord): boolean {
  const requestedMs = Date.parse(runtime.metadata.annotations?.[annotations.resumeRequestedAt] ?? "");
  const acquiredMs = Date.parse(lease.acquireTime ?? "");
  return Number.isFinite(requestedMs) && Number.isFinite(acquiredMs) && requestedMs >= acquiredMs;
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
 * How long a "Lease held" answer is reused without any Kubernetes call, at most (never past the Lease's expiry).
 * Short, so a replica notices within seconds that the runtime became RUNNING or was suspended elsewhere;
 * long enough that a stampede costs one read per replica.
 */
export const heldRecheckMs = 2_000;

export class Lifecycle {
  private readonly options: LifecycleOptions;
  private readonly now: () => number;
  /** Per runtime key: until when (local clock) resume answers 202 from memory. */
  private readonly heldUntil = new Map<string, number>();
  private readonly observations = new Map<string, LeaseObservation>();
  /** Per runtime key: the record key of the Lease under which this process recorded resume intent. */
  private readonly intents = new Map<string, string>();
  /** Per runtime key: the answer for callers joining the resume in flight (see resumeOnce's leaseDecided). */
  private readonly inFlight = new Map<string, Promise<LifecycleAnswer>>();
  /** Per runtime key: local time of the last activity check/write. */
  private readonly activityChecks = new Map<string, number>();

  private get leaseNamespace(): string {
    return this.options.leaseNamespace ?? defaultLeaseNamespace;
  }

  constructor(options: LifecycleOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  async resume(namespace: string, name: string, caller: string): Promise<LifecycleAnswer> {
    const key = `${namespace}/${name}`;
    const { resumeRequests } = this.options.metrics;
    const held = this.heldUntil.get(key);
    if (held !== undefined && this.now() < held) {
      resumeRequests.inc({ outcome: "held" });
      return this.resuming(namespace, name);
    }
    const running = this.inFlight.get(key);
    if (running) {
      const answer = await running.catch((error: unknown) => {
        resumeRequests.inc({ outcome: error instanceof ApiError && error.status === 404 ? "not_found" : "error" });
        throw error;
      });
      resumeRequests.inc({ outcome: "coalesced" });
      return answer;
    }
    let outcome: ResumeOutcome = "error";
    let leaseDecided!: (answer: LifecycleAnswer) => void;
    const decided = new Promise<LifecycleAnswer>((resolve) => (leaseDecided = resolve));
    const flight = this.resumeOnce(namespace, name, key, caller, leaseDecided).then((result) => {
      outcome = result.outcome;
      return result.answer;
    });
    // Joiners get the first of: the Lease outcome, or the flight's own end (200, 404, 503, held).
    const forJoiners = Promise.race([decided, flight]);
    forJoiners.catch(() => undefined); // a failed flight with no joiner is not an unhandled rejection
    this.inFlight.set(key, forJoiners);
    try {
      return await flight;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) outcome = "not_found";
      throw error;
    } finally {
      this.inFlight.delete(key);
      resumeRequests.inc({ outcome });
    }
  }

  private resuming(namespace: string, name: string): LifecycleAnswer {
    const retryAfterSeconds = this.options.retryAfterSeconds;
    return { status: 202, retryAfterSeconds, body: { namespace, name, state: "RESUMING", retryAfterSeconds } };
  }

  private async resumeOnce(
    namespace: string,
    name: string,
    key: string,
    caller: string,
    leaseDecided: (answer: LifecycleAnswer) => void,
  ): Promise<{ outcome: ResumeOutcome; answer: LifecycleAnswer }> {
    const { store, identity, leaseDurationSeconds, metrics, logger } = this.options;
    const leaseName = resumeLeaseName(namespace, name);
    const leaseNamespace = this.leaseNamespace;
    // Both reads at once (one round trip less for every caller waiting on this flight); the runtime decides first.
    const leaseRead = store.getLease(leaseNamespace, leaseName).then(
      (lease) => ({ lease }),
      (error: unknown) => ({ error }),
    );
    const runtime = await store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    if (isRunning(runtime)) {
      return { outcome: "running", answer: { status: 200, body: { namespace, name, state: "RUNNING", routeState: "RUNNING" } } };
    }
    if (runtime.spec?.lifecycle?.suspended !== true && runtime.status?.routeState === "RESUMING") {
      // The operator is already bringing it up (intent recorded, route RESUMING): nothing to write.
      return { outcome: "resuming", answer: this.resuming(namespace, name) };
    }
    const read = await leaseRead;
    if ("error" in read) throw read.error;
    const live = read.lease;
    if (live) {
      const observation = this.observe(key, live);
      const judgement = judgeLease(observation, this.now());
      // A Lease whose intent write failed is not worth waiting for: our own (we know we did not record
      // intent under it) at once, anyone's once it has gone without intent for the grace period.
      const ownWithoutIntent = judgement.kind === "held" && judgement.holderIdentity === identity && this.intents.get(key) !== observation.recordKey;
      const abandoned =
        this.now() - observation.observedAtMs > (this.options.abandonedLeaseGraceMs ?? 10_000) && !intentRecordedUnder(runtime, live);
      if (judgement.kind === "held" && !ownWithoutIntent && !abandoned && !resumeLeaseConsumed(runtime, live)) {
        this.holdUntil(key, judgement.expiresAtMs);
        return { outcome: "held", answer: this.resuming(namespace, name) };
      }
    }

    const startedMs = this.now();
    const record = acquiredRecord(live, identity, leaseDurationSeconds, startedMs);
    const acquired = live
      ? await this.write("lease", "update", () => store.updateLease(leaseNamespace, leaseName, record))
      : await this.write("lease", "create", () => store.createLease(leaseNamespace, leaseName, record));
    leaseDecided(this.resuming(namespace, name));
    if (!acquired.ok) {
      metrics.leaseAcquisitions.inc({ result: "lost" });
      await this.rememberLostLease(leaseNamespace, leaseName, key);
      return { outcome: "held", answer: this.resuming(namespace, name) };
    }
    metrics.leaseAcquisitions.inc({ result: "won" });

    const at = new Date(startedMs).toISOString();
    let patched: WriteResult<XTrinode>;
    try {
      patched = await this.write("xtrinode", "patch", () => store.patchRuntime(namespace, name, resumeIntentPatch(at, caller)));
    } catch (error) {
      await this.releaseLease(leaseNamespace, leaseName, key, acquired.value);
      throw error;
    }
    if (!patched.ok) {
      await this.releaseLease(leaseNamespace, leaseName, key, acquired.value);
      throw notFound(`XTrinode ${namespace}/${name} not found`);
    }
    const observation = observeLease(acquired.value, undefined, startedMs, leaseDurationSeconds);
    this.observations.set(key, observation);
    this.intents.set(key, observation.recordKey);
    this.holdUntil(key, startedMs + leaseDurationSeconds * 1000);
    logger.info({ event: "resume-requested", namespace, name, by: caller, lease: leaseName }, "resume intent recorded");
    this.recordEvent(runtime, eventReasons.resumeRequested, `resume requested by ${caller}`);
    return { outcome: "accepted", answer: this.resuming(namespace, name) };
  }

  /**
   * An Event for the runtime's history (kubectl describe, the console). Not awaited: the intent is
   * already recorded, and a slow or failing Event write must not delay or fail the answer.
   */
  private recordEvent(runtime: XTrinode, reason: string, message: string): void {
    this.options.store.createRuntimeEvent(runtime, { type: "Normal", reason, message }).catch((error: unknown) => {
      this.options.logger.warn({ event: "event-record-failed", namespace: runtime.metadata.namespace, name: runtime.metadata.name, reason, err: String(error) }, "could not record the Event");
    });
  }

  private holdUntil(key: string, leaseExpiresAtMs: number): void {
    this.heldUntil.set(key, Math.min(leaseExpiresAtMs, this.now() + heldRecheckMs));
  }

  private forget(key: string): void {
    this.heldUntil.delete(key);
    this.observations.delete(key);
    this.intents.delete(key);
  }

  private observe(key: string, live: LeaseRecord): LeaseObservation {
    const observation = observeLease(live, this.observations.get(key), this.now(), this.options.leaseDurationSeconds);
    this.observations.set(key, observation);
    return observation;
  }

  /** After losing the race, read the winner's record once so this process judges its expiry from (about) when it was written. */
  private async rememberLostLease(leaseNamespace: string, leaseName: string, key: string): Promise<void> {
    const fallback = this.now() + this.options.leaseDurationSeconds * 1000;
    try {
      const live = await this.options.store.getLease(leaseNamespace, leaseName);
      if (!live) return; // released meanwhile: the next call may try again
      const judgement = judgeLease(this.observe(key, live), this.now());
      this.holdUntil(key, judgement.kind === "held" ? judgement.expiresAtMs : fallback);
    } catch {
      this.holdUntil(key, fallback);
    }
  }

  private async releaseLease(leaseNamespace: string, leaseName: string, key: string, record: LeaseRecord): Promise<void> {
    this.forget(key);
    if (!record.resourceVersion) return;
    try {
      const result = await this.write("lease", "delete", () => this.options.store.deleteLease(leaseNamespace, leaseName, record.resourceVersion!));
      if (result.ok) this.options.metrics.leaseAcquisitions.inc({ result: "released" });
    } catch (error) {
      this.options.logger.warn({ event: "lease-release-failed", namespace: leaseNamespace, lease: leaseName, err: String(error) }, "could not release the resume Lease; it expires by itself");
    }
  }

  /** Runs one Kubernetes write and counts it by result. */
  private async write<T>(resource: "lease" | "xtrinode", verb: string, run: () => Promise<WriteResult<T>>): Promise<WriteResult<T>> {
    try {
      const result = await run();
      this.options.metrics.kubeWrites.inc({ resource, verb, result: result.ok ? "ok" : result.reason });
      return result;
    } catch (error) {
      this.options.metrics.kubeWrites.inc({ resource, verb, result: "error" });
      throw error;
    }
  }

  /** Records suspend intent (no write when already suspended) and drops the resume Lease so a later resume proceeds at once. */
  async suspend(namespace: string, name: string, caller: string): Promise<LifecycleAnswer> {
    const { store, logger } = this.options;
    const runtime = await store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    if (runtime.spec?.lifecycle?.suspended === true) {
      const state = runtime.status?.routeState ?? "PAUSED";
      return { status: 202, body: { namespace, name, state, suspended: true } };
    }
    const at = new Date(this.now()).toISOString();
    const patched = await this.write("xtrinode", "patch", () => store.patchRuntime(namespace, name, suspendIntentPatch(at, caller)));
    if (!patched.ok) throw notFound(`XTrinode ${namespace}/${name} not found`);
    logger.info({ event: "suspend-requested", namespace, name, by: caller }, "suspend intent recorded");
    this.recordEvent(runtime, eventReasons.suspendRequested, `suspend requested by ${caller}`);

    const key = `${namespace}/${name}`;
    this.forget(key);
    const leaseName = resumeLeaseName(namespace, name);
    const leaseNamespace = this.leaseNamespace;
    try {
      const live = await store.getLease(leaseNamespace, leaseName);
      if (live?.resourceVersion) await this.write("lease", "delete", () => store.deleteLease(leaseNamespace, leaseName, live.resourceVersion!));
    } catch (error) {
      logger.warn({ event: "lease-release-failed", namespace: leaseNamespace, lease: leaseName, err: String(error) }, "suspend recorded; the resume Lease expires by itself");
    }
    return { status: 202, body: { namespace, name, state: "SUSPENDING", suspended: true } };
  }

  /** Moves xtrinode.io/last-activity forward, at most once per activityMinIntervalSeconds per runtime in this process. */
  async reportActivity(namespace: string, name: string, body: unknown): Promise<LifecycleAnswer> {
    const { store, activityMinIntervalSeconds } = this.options;
    const nowMs = this.now();
    const atMs = parseActivityTime(body, nowMs);
    const key = `${namespace}/${name}`;
    const lastCheck = this.activityChecks.get(key);
    if (lastCheck !== undefined && nowMs - lastCheck < activityMinIntervalSeconds * 1000) return { status: 204 };
    this.activityChecks.set(key, nowMs);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const runtime = await store.getRuntime(namespace, name);
        if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
        const current = runtime.metadata.annotations?.[annotations.lastActivity];
        if (current && Date.parse(current) >= atMs) return { status: 204 };
        const patch: MergePatch = {
          metadata: { resourceVersion: (runtime.metadata as { resourceVersion?: string }).resourceVersion, annotations: { [annotations.lastActivity]: new Date(atMs).toISOString() } },
        };
        const result = await this.write("xtrinode", "patch", () => store.patchRuntime(namespace, name, patch));
        if (result.ok) return { status: 204 };
        if (result.reason === "notFound") throw notFound(`XTrinode ${namespace}/${name} not found`);
      }
      return { status: 204 }; // changed twice under us: someone else is writing activity; ours is not needed
    } catch (error) {
      this.activityChecks.delete(key);
      throw error;
    }
  }

  async status(namespace: string, name: string): Promise<RuntimeView> {
    const runtime = await this.options.store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    return runtimeView(runtime);
  }

  async list(namespace?: string): Promise<RuntimeView[]> {
    const runtimes = await this.options.store.listRuntimes(namespace);
    return runtimes
      .map(runtimeView)
      .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
  }
}
