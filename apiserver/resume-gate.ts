// The stateful resume gate: one resume per runtime across replicas (a per-runtime Lease), single-flight
// within this process, and "held" answers from memory for a couple of seconds. The decisions themselves
// are pure (intent-decisions.ts); this file holds what this process remembers and the Kubernetes calls.
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
//  4. judge the Lease like client-go (observed record + duration on the local clock), decideOnLease:
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
import type { XTrinode } from "../schemas/generated/types.ts";
import type { Logger } from "../lib/logger.ts";
import { ApiError, notFound } from "./errors.ts";
import {
  decideOnLease,
  eventReasons,
  heldAnswerUntil,
  resumeByRuntime,
  resumeIntentPatch,
  resumingAnswer,
  type LifecycleAnswer,
} from "./intent-decisions.ts";
import { acquiredRecord, judgeLease, observeLease, type LeaseObservation, type LeaseRecord } from "../lib/lease.ts";
import { countedWrite, type ApiServerMetrics, type ResumeOutcome } from "./metrics.ts";
import { resumeLeaseName } from "./names.ts";
import { recordEventInBackground, type RuntimeStore, type WriteResult } from "./store.ts";

export interface ResumeGateOptions {
  store: RuntimeStore;
  metrics: ApiServerMetrics;
  logger: Logger;
  /** Holder identity written into resume Leases; unique per process. */
  identity: string;
  leaseDurationSeconds: number;
  /** Namespace of the resume Leases. */
  leaseNamespace: string;
  /** Retry guidance given to resume callers. */
  retryAfterSeconds: number;
  /**
   * A Lease seen for this long (local clock) with no resume intent recorded under it is abandoned (its holder
   * failed between acquiring it and writing the intent) and may be taken over.
   */
  abandonedLeaseGraceMs: number;
  now: () => number;
}

export class ResumeGate {
  private readonly options: ResumeGateOptions;
  private readonly now: () => number;
  /** Per runtime key: until when (local clock) resume answers 202 from memory. */
  private readonly heldUntil = new Map<string, number>();
  private readonly observations = new Map<string, LeaseObservation>();
  /** Per runtime key: the record key of the Lease under which this process recorded resume intent. */
  private readonly intents = new Map<string, string>();
  /** Per runtime key: the answer for callers joining the resume in flight (see resumeOnce's leaseDecided). */
  private readonly inFlight = new Map<string, Promise<LifecycleAnswer>>();

  constructor(options: ResumeGateOptions) {
    this.options = options;
    this.now = options.now;
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

  /**
   * After suspend intent was recorded: forget what this process knew about the runtime's resume Lease and
   * delete the Lease, so a later resume proceeds at once. Should the delete fail, the suspend intent itself
   * marks the Lease consumed (resumeLeaseConsumed).
   */
  async openAfterSuspend(namespace: string, name: string): Promise<void> {
    const { store, logger } = this.options;
    this.forget(`${namespace}/${name}`);
    const leaseName = resumeLeaseName(namespace, name);
    const leaseNamespace = this.options.leaseNamespace;
    try {
      const live = await store.getLease(leaseNamespace, leaseName);
      if (live?.resourceVersion)
        await this.write("lease", "delete", () => store.deleteLease(leaseNamespace, leaseName, live.resourceVersion!));
    } catch (error) {
      logger.warn(
        { event: "lease-release-failed", namespace: leaseNamespace, lease: leaseName, err: String(error) },
        "suspend recorded; the resume Lease expires by itself",
      );
    }
  }

  private resuming(namespace: string, name: string): LifecycleAnswer {
    return resumingAnswer(namespace, name, this.options.retryAfterSeconds);
  }

  private async resumeOnce(
    namespace: string,
    name: string,
    key: string,
    caller: string,
    leaseDecided: (answer: LifecycleAnswer) => void,
  ): Promise<{ outcome: ResumeOutcome; answer: LifecycleAnswer }> {
    const { store, identity, leaseDurationSeconds, leaseNamespace, metrics, logger } = this.options;
    const leaseName = resumeLeaseName(namespace, name);
    // Both reads at once (one round trip less for every caller waiting on this flight); the runtime decides first.
    const leaseRead = store.getLease(leaseNamespace, leaseName).then(
      (lease) => ({ lease }),
      (error: unknown) => ({ error }),
    );
    const runtime = await store.getRuntime(namespace, name);
    if (!runtime) throw notFound(`XTrinode ${namespace}/${name} not found`);
    const byRuntime = resumeByRuntime(runtime);
    if (byRuntime === "running") {
      return { outcome: "running", answer: { status: 200, body: { namespace, name, state: "RUNNING", routeState: "RUNNING" } } };
    }
    if (byRuntime === "resuming") return { outcome: "resuming", answer: this.resuming(namespace, name) };
    const read = await leaseRead;
    if ("error" in read) throw read.error;
    const live = read.lease;
    if (live) {
      const decision = decideOnLease({
        runtime,
        lease: live,
        observation: this.observeAndRemember(key, live),
        identity,
        ownIntentRecordKey: this.intents.get(key),
        abandonedLeaseGraceMs: this.options.abandonedLeaseGraceMs,
        nowMs: this.now(),
      });
      if (decision.kind === "held") {
        this.holdUntil(key, decision.expiresAtMs);
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
      await this.readLostLeaseAndHold(leaseNamespace, leaseName, key);
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
    recordEventInBackground(store, logger, runtime, eventReasons.resumeRequested, `resume requested by ${caller}`);
    return { outcome: "accepted", answer: this.resuming(namespace, name) };
  }

  private holdUntil(key: string, leaseExpiresAtMs: number): void {
    this.heldUntil.set(key, heldAnswerUntil(leaseExpiresAtMs, this.now()));
  }

  private forget(key: string): void {
    this.heldUntil.delete(key);
    this.observations.delete(key);
    this.intents.delete(key);
  }

  private observeAndRemember(key: string, live: LeaseRecord): LeaseObservation {
    const observation = observeLease(live, this.observations.get(key), this.now(), this.options.leaseDurationSeconds);
    this.observations.set(key, observation);
    return observation;
  }

  /** After losing the race, read the winner's record once so this process judges its expiry from (about) when it was written. */
  private async readLostLeaseAndHold(leaseNamespace: string, leaseName: string, key: string): Promise<void> {
    const fallback = this.now() + this.options.leaseDurationSeconds * 1000;
    try {
      const live = await this.options.store.getLease(leaseNamespace, leaseName);
      if (!live) return; // released meanwhile: the next call may try again
      const judgement = judgeLease(this.observeAndRemember(key, live), this.now());
      this.holdUntil(key, judgement.kind === "held" ? judgement.expiresAtMs : fallback);
    } catch {
      this.holdUntil(key, fallback);
    }
  }

  private async releaseLease(leaseNamespace: string, leaseName: string, key: string, record: LeaseRecord): Promise<void> {
    this.forget(key);
    if (!record.resourceVersion) return;
    try {
      const result = await this.write("lease", "delete", () =>
        this.options.store.deleteLease(leaseNamespace, leaseName, record.resourceVersion!),
      );
      if (result.ok) this.options.metrics.leaseAcquisitions.inc({ result: "released" });
    } catch (error) {
      this.options.logger.warn(
        { event: "lease-release-failed", namespace: leaseNamespace, lease: leaseName, err: String(error) },
        "could not release the resume Lease; it expires by itself",
      );
    }
  }

  private write<T>(resource: "lease" | "xtrinode", verb: string, run: () => Promise<WriteResult<T>>): Promise<WriteResult<T>> {
    return countedWrite(this.options.metrics, resource, verb, run);
  }
}
