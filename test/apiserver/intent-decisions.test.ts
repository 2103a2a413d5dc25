// Unit tests of the lifecycle API's pure decisions (given a runtime, a Lease as observed and the time).
import { expect } from "chai";
import type { XTrinode } from "../../schemas/generated/types.ts";
import {
  activityPatch,
  alreadySuspendedAnswer,
  decideOnLease,
  heldAnswerUntil,
  heldRecheckMs,
  intentRecordedUnder,
  resumeByRuntime,
  resumeLeaseConsumed,
  type LeaseFacts,
} from "../../apiserver/intent-decisions.ts";
import { observeLease, type LeaseRecord } from "../../lib/lease.ts";
import { annotations } from "../../schemas/api/index.ts";

const t0 = Date.parse("2026-01-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function runtime(
  options: { suspended?: boolean; routeState?: string; notes?: Record<string, string>; status?: Record<string, string> } = {},
): XTrinode {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinode",
    metadata: { name: "sales", namespace: "team-a", annotations: options.notes, resourceVersion: "7" } as XTrinode["metadata"],
    spec: { lifecycle: { suspended: options.suspended ?? true } },
    status: { ...(options.routeState ? { routeState: options.routeState } : {}), ...options.status } as XTrinode["status"],
  };
}

const lease = (holder: string, acquiredMs = t0): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 30,
  acquireTime: iso(acquiredMs),
  renewTime: iso(acquiredMs),
  leaseTransitions: 0,
  resourceVersion: "3",
});

/** Facts for decideOnLease: the Lease first observed at t0, judged at nowMs (default t0 + 1 s) by replica-a. */
function facts(live: LeaseRecord, overrides: Partial<LeaseFacts> = {}): LeaseFacts {
  return {
    runtime: runtime({ routeState: "PAUSED" }),
    lease: live,
    observation: observeLease(live, undefined, t0, 30),
    identity: "replica-a",
    ownIntentRecordKey: undefined,
    abandonedLeaseGraceMs: 10_000,
    nowMs: t0 + 1000,
    ...overrides,
  };
}

describe("apiserver intent decisions (pure)", () => {
  it("resumeByRuntime: RUNNING and not suspended → running; RESUMING and not suspended → resuming; else the Lease decides", () => {
    expect(resumeByRuntime(runtime({ suspended: false, routeState: "RUNNING" }))).to.equal("running");
    expect(resumeByRuntime(runtime({ suspended: false, routeState: "RESUMING" }))).to.equal("resuming");
    expect(resumeByRuntime(runtime({ suspended: true, routeState: "RUNNING" }))).to.equal("lease");
    expect(resumeByRuntime(runtime({ suspended: true, routeState: "RESUMING" }))).to.equal("lease");
    expect(resumeByRuntime(runtime({ suspended: true, routeState: "PAUSED" }))).to.equal("lease");
    expect(resumeByRuntime(runtime({ suspended: false }))).to.equal("lease");
  });

  describe("decideOnLease", () => {
    it("another holder's unexpired Lease holds the caller back until its expiry on our clock; once expired it may be taken", () => {
      expect(decideOnLease(facts(lease("replica-b")))).to.deep.equal({ kind: "held", expiresAtMs: t0 + 30_000 });
      expect(decideOnLease(facts(lease("replica-b"), { nowMs: t0 + 30_000 }))).to.deep.equal({ kind: "acquire" });
    });

    it("a Lease with no holder may be taken", () => {
      expect(decideOnLease(facts({ ...lease(""), holderIdentity: undefined }))).to.deep.equal({ kind: "acquire" });
    });

    it("our own Lease holds only when our intent is recorded under it", () => {
      const own = lease("replica-a");
      const recordKey = observeLease(own, undefined, t0, 30).recordKey;
      expect(decideOnLease(facts(own, { ownIntentRecordKey: recordKey }))).to.deep.equal({ kind: "held", expiresAtMs: t0 + 30_000 });
      expect(decideOnLease(facts(own))).to.deep.equal({ kind: "acquire" });
      expect(decideOnLease(facts(own, { ownIntentRecordKey: "an older record" }))).to.deep.equal({ kind: "acquire" });
    });

    it("a Lease seen past the grace period with no intent on the XTrinode is abandoned; with the intent it still holds", () => {
      const afterGrace = t0 + 10_001;
      expect(decideOnLease(facts(lease("replica-b"), { nowMs: afterGrace }))).to.deep.equal({ kind: "acquire" });
      expect(decideOnLease(facts(lease("replica-b"), { nowMs: t0 + 10_000 }))).to.deep.equal({ kind: "held", expiresAtMs: t0 + 30_000 });
      const withIntent = runtime({ routeState: "PAUSED", notes: { [annotations.resumeRequestedAt]: iso(t0) } });
      expect(decideOnLease(facts(lease("replica-b"), { nowMs: afterGrace, runtime: withIntent }))).to.deep.equal({
        kind: "held",
        expiresAtMs: t0 + 30_000,
      });
    });

    it("a consumed Lease (Ready, suspended or suspend intent since it was acquired) may be taken at once", () => {
      for (const later of [
        runtime({ status: { readySince: iso(t0 + 1) } }),
        runtime({ status: { suspendedAt: iso(t0 + 1) } }),
        runtime({ notes: { [annotations.suspendRequestedAt]: iso(t0 + 1) } }),
      ]) {
        expect(decideOnLease(facts(lease("replica-b"), { runtime: later }))).to.deep.equal({ kind: "acquire" });
      }
      expect(decideOnLease(facts(lease("replica-b"), { runtime: runtime({ status: { readySince: iso(t0 - 1) } }) }))).to.have.property(
        "kind",
        "held",
      );
    });
  });

  it("resumeLeaseConsumed and intentRecordedUnder compare with the Lease's acquireTime; a Lease without one is neither", () => {
    const noTime = { ...lease("replica-b"), acquireTime: undefined };
    const suspendedLater = runtime({ status: { suspendedAt: iso(t0 + 5) } });
    expect(resumeLeaseConsumed(suspendedLater, lease("replica-b"))).to.equal(true);
    expect(resumeLeaseConsumed(suspendedLater, noTime)).to.equal(false);
    expect(resumeLeaseConsumed(runtime(), lease("replica-b"))).to.equal(false);
    const requestedAt = (ms: number) => runtime({ notes: { [annotations.resumeRequestedAt]: iso(ms) } });
    expect(intentRecordedUnder(requestedAt(t0), lease("replica-b"))).to.equal(true);
    expect(intentRecordedUnder(requestedAt(t0 - 1), lease("replica-b"))).to.equal(false);
    expect(intentRecordedUnder(requestedAt(t0), noTime)).to.equal(false);
  });

  it("heldAnswerUntil: at most heldRecheckMs from now, never past the Lease's expiry", () => {
    expect(heldAnswerUntil(t0 + 30_000, t0)).to.equal(t0 + heldRecheckMs);
    expect(heldAnswerUntil(t0 + 500, t0)).to.equal(t0 + 500);
  });

  it("alreadySuspendedAnswer: 202 with the route state (PAUSED when none) and no write; undefined when not suspended", () => {
    expect(alreadySuspendedAnswer(runtime({ suspended: true, routeState: "DRAINING" }), "team-a", "sales")).to.deep.equal({
      status: 202,
      body: { namespace: "team-a", name: "sales", state: "DRAINING", suspended: true },
    });
    expect(alreadySuspendedAnswer(runtime({ suspended: true }), "team-a", "sales")?.body).to.include({ state: "PAUSED" });
    expect(alreadySuspendedAnswer(runtime({ suspended: false }), "team-a", "sales")).to.equal(undefined);
  });

  it("activityPatch: moves last-activity forward only, conditional on the resourceVersion", () => {
    const at = runtime({ notes: { [annotations.lastActivity]: iso(t0) } });
    expect(activityPatch(at, t0)).to.equal(undefined);
    expect(activityPatch(at, t0 - 1)).to.equal(undefined);
    expect(activityPatch(at, t0 + 1)).to.deep.equal({
      metadata: { resourceVersion: "7", annotations: { [annotations.lastActivity]: iso(t0 + 1) } },
    });
    expect(activityPatch(runtime(), t0)).to.deep.equal({
      metadata: { resourceVersion: "7", annotations: { [annotations.lastActivity]: iso(t0) } },
    });
  });
});
