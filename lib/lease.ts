// Pure coordination.k8s.io/v1 Lease logic shared by the operator's leader election and the lifecycle
// API's resume gate: MicroTime formatting and the client-go style expiry judgement.
//
// Like client-go's leaderelection, a Lease is judged by when *this process* first saw its current
// record (local clock), not by the renewTime written by another machine whose clock may differ:
// a record is expired once observedAt + leaseDurationSeconds has passed locally without change.

/** The fields of a coordination.k8s.io/v1 Lease spec that are read and written. Times are MicroTime strings. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  /** metadata.resourceVersion of the stored Lease (absent for a Lease not yet created). */
  resourceVersion?: string;
}

/** When this process first saw a given Lease record. */
export interface LeaseObservation {
  recordKey: string;
  observedAtMs: number;
  durationMs: number;
  holderIdentity: string;
}

/** RFC 3339 with exactly six fractional digits, as Kubernetes MicroTime (metav1.MicroTime) is written. */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The identity of a record: a change of any of these fields means the holder renewed or a new holder took it. */
export function leaseRecordKey(record: LeaseRecord): string {
  return JSON.stringify([
    record.holderIdentity ?? "",
    record.acquireTime ?? "",
    record.renewTime ?? "",
    record.leaseDurationSeconds ?? 0,
    record.leaseTransitions ?? 0,
  ]);
}

/** Updates the observation of a live record: a record not seen before is observed now. */
export function observeLease(
  live: LeaseRecord,
  previous: LeaseObservation | undefined,
  nowMs: number,
  defaultDurationSeconds: number,
): LeaseObservation {
  const recordKey = leaseRecordKey(live);
  if (previous && previous.recordKey === recordKey) return previous;
  const seconds = live.leaseDurationSeconds && live.leaseDurationSeconds > 0 ? live.leaseDurationSeconds : defaultDurationSeconds;
  return { recordKey, observedAtMs: nowMs, durationMs: seconds * 1000, holderIdentity: live.holderIdentity ?? "" };
}

export type LeaseJudgement = { kind: "held"; holderIdentity: string; expiresAtMs: number } | { kind: "acquirable" };

/**
 * Whether the Lease is held now: by a holder (possibly ourselves: the caller decides what its own Lease
 * means) whose record has not outlived its duration since we first observed it. No holder → acquirable.
 */
export function judgeLease(observation: LeaseObservation, nowMs: number): LeaseJudgement {
  if (observation.holderIdentity === "") return { kind: "acquirable" };
  const expiresAtMs = observation.observedAtMs + observation.durationMs;
  if (nowMs < expiresAtMs) return { kind: "held", holderIdentity: observation.holderIdentity, expiresAtMs };
  return { kind: "acquirable" };
}

/** The record written to take the Lease, from the live one (if any). leaseTransitions counts changes of holder. */
export function acquiredRecord(live: LeaseRecord | undefined, identity: string, durationSeconds: number, nowMs: number): LeaseRecord {
  const now = formatMicroTime(nowMs);
  const transitions = live ? (live.leaseTransitions ?? 0) + (live.holderIdentity === identity ? 0 : 1) : 0;
  return {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: transitions,
    ...(live?.resourceVersion ? { resourceVersion: live.resourceVersion } : {}),
  };
}
