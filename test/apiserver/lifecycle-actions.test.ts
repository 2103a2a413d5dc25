// Unit tests of the lifecycle core against an in-memory store (no network).
import { expect } from "chai";
import { ApiError } from "../../apiserver/errors.ts";
import { heldRecheckMs, parseActivityTime } from "../../apiserver/intent-decisions.ts";
import { runtimeView } from "../../apiserver/runtime-view.ts";
import { annotations } from "../../schemas/api/index.ts";
import { createMetrics } from "../../apiserver/metrics.ts";
import { MemoryStore, testLifecycle } from "./memory-store.ts";

const leaseKey = "xtrinode-system/xtrinode-resume.team-a.sales";

function setup(options: { identity?: string; store?: MemoryStore; clock?: { now: number } } = {}) {
  const store = options.store ?? new MemoryStore();
  const clock = options.clock ?? { now: Date.parse("2026-01-01T12:00:00Z") };
  const metrics = createMetrics();
  const lifecycle = testLifecycle(store, metrics, { identity: options.identity ?? "replica-a", now: () => clock.now });
  return { store, clock, metrics, lifecycle };
}

/** Two API server processes (replica-a, replica-b) sharing one store and clock, with runtime team-a/sales. */
function twoReplicas(runtime: Parameters<MemoryStore["addRuntime"]>[2] = {}) {
  const store = new MemoryStore();
  const clock = { now: Date.parse("2026-01-01T12:00:00Z") };
  store.addRuntime("team-a", "sales", runtime);
  return { store, clock, a: setup({ store, clock, identity: "replica-a" }), b: setup({ store, clock, identity: "replica-b" }) };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error("expected a rejection");
}

describe("apiserver lifecycle core", () => {
  describe("resume", () => {
    it("records resume intent once on a suspended runtime and answers 202 with retry guidance", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales", { suspended: true, routeState: "PAUSED" });
      const answer = await lifecycle.resume("team-a", "sales", "system:serviceaccount:xtrinode-gateway:xtrinode-gateway");
      expect(answer).to.deep.equal({
        status: 202,
        retryAfterSeconds: 5,
        body: { namespace: "team-a", name: "sales", state: "RESUMING", retryAfterSeconds: 5 },
      });
      const runtime = store.runtimes.get("team-a/sales")!;
      expect(runtime.spec.lifecycle?.suspended).to.equal(false);
      expect(runtime.metadata.annotations?.[annotations.resumeRequestedAt]).to.equal("2026-01-01T12:00:00.000Z");
      expect(runtime.metadata.annotations?.[annotations.resumeRequestedBy]).to.equal(
        "system:serviceaccount:xtrinode-gateway:xtrinode-gateway",
      );
      const lease = store.leases.get(leaseKey)!;
      expect(lease.holderIdentity).to.equal("replica-a");
      expect(lease.leaseDurationSeconds).to.equal(30);
      expect(lease.acquireTime).to.equal("2026-01-01T12:00:00.000000Z");
      expect(store.count("createLease")).to.equal(1);
      expect(store.count("patchRuntime")).to.equal(1);

      // Later calls while the lease is held: same guidance, no Kubernetes call at all.
      const callsBefore = store.calls.length;
      expect((await lifecycle.resume("team-a", "sales", "someone")).status).to.equal(202);
      expect(store.calls.length).to.equal(callsBefore);
    });

    it("coalesces concurrent resumes into one lease create and one intent write", async () => {
      const { store, lifecycle, metrics } = setup();
      store.addRuntime("team-a", "sales");
      let open!: () => void;
      store.gate = new Promise((resolve) => (open = resolve));
      const answers = Array.from({ length: 200 }, () => lifecycle.resume("team-a", "sales", "gw"));
      open();
      const settled = await Promise.all(answers);
      expect(settled.every((a) => a.status === 202 && a.retryAfterSeconds === 5)).to.equal(true);
      expect(store.count("getRuntime")).to.equal(1);
      expect(store.count("createLease")).to.equal(1);
      expect(store.count("patchRuntime")).to.equal(1);
      const outcomes = await metrics.resumeRequests.get();
      const byOutcome = Object.fromEntries(outcomes.values.map((v) => [v.labels.outcome, v.value]));
      expect(byOutcome).to.deep.equal({ accepted: 1, coalesced: 199 });
    });

    it("answers callers that joined the flight once the Lease is won, before the winner's intent write returns", async () => {
      const { store, lifecycle, metrics } = setup();
      store.addRuntime("team-a", "sales");
      let releasePatch!: () => void;
      store.holds.set("patchRuntime", new Promise((resolve) => (releasePatch = resolve)));
      const initiator = lifecycle.resume("team-a", "sales", "gw");
      const joiners = Array.from({ length: 5 }, () => lifecycle.resume("team-a", "sales", "gw"));
      const joined = await Promise.all(joiners); // resolves although the intent write is still held
      expect(joined.every((a) => a.status === 202 && a.retryAfterSeconds === 5)).to.equal(true);
      expect(store.count("createLease")).to.equal(1);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(true); // not written yet
      releasePatch();
      expect((await initiator).status).to.equal(202);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
      expect(store.count("patchRuntime")).to.equal(1);
      const byOutcome = Object.fromEntries((await metrics.resumeRequests.get()).values.map((v) => [v.labels.outcome, v.value]));
      expect(byOutcome).to.deep.equal({ accepted: 1, coalesced: 5 });
    });

    it("when the winner's intent write fails, joiners already have 202 and their retry proceeds on the released Lease", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales");
      store.failing.add("patchRuntime");
      const initiator = rejection(lifecycle.resume("team-a", "sales", "gw"));
      const joiner = lifecycle.resume("team-a", "sales", "gw");
      expect((await joiner).status).to.equal(202);
      expect((await initiator).status).to.equal(503);
      expect(store.leases.has(leaseKey)).to.equal(false); // released
      store.failing.clear();
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202); // the joiner's retry
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
    });

    it("gives joiners the flight's own answer when it ends before any Lease decision (404, 503, 200)", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "up", { suspended: false, routeState: "RUNNING" });
      const running = await Promise.all([lifecycle.resume("team-a", "up", "gw"), lifecycle.resume("team-a", "up", "gw")]);
      expect(running.map((a) => a.status)).to.deep.equal([200, 200]);
      const unknown = await Promise.all([
        rejection(lifecycle.resume("team-a", "ghost", "gw")),
        rejection(lifecycle.resume("team-a", "ghost", "gw")),
      ]);
      expect(unknown.map((e) => e.status)).to.deep.equal([404, 404]);
      store.addRuntime("team-a", "sales");
      store.failing.add("getLease");
      const failed = await Promise.all([
        rejection(lifecycle.resume("team-a", "sales", "gw")),
        rejection(lifecycle.resume("team-a", "sales", "gw")),
      ]);
      expect(failed.map((e) => e.status)).to.deep.equal([503, 503]);
      expect(store.count("createLease")).to.equal(0);
    });

    it("loses to another holder's unexpired lease without writing, and takes it over once expired on the local clock", async () => {
      const { store, clock, a, b } = twoReplicas();
      await a.lifecycle.resume("team-a", "sales", "gw");
      const patchesAfterA = store.count("patchRuntime");

      clock.now += 29_000; // B first sees A's record now: for B it is valid for 30 s from now
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("updateLease") + store.count("createLease")).to.equal(1);
      expect(store.count("patchRuntime")).to.equal(patchesAfterA);

      clock.now += 29_000; // 58 s after A wrote it but only 29 s since B observed it: still held for B
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("patchRuntime")).to.equal(patchesAfterA);

      clock.now += 2_000; // observed 31 s ago without renewal: expired
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("updateLease")).to.equal(1);
      expect(store.count("patchRuntime")).to.equal(patchesAfterA + 1);
      const lease = store.leases.get(leaseKey)!;
      expect(lease.holderIdentity).to.equal("replica-b");
      expect(lease.leaseTransitions).to.equal(1);
    });

    it("rechecks a held Lease every couple of seconds: the winner does not write again, and RUNNING shows as 200", async () => {
      const { store, lifecycle, clock } = setup();
      store.addRuntime("team-a", "sales", { suspended: true, routeState: "PAUSED" });
      await lifecycle.resume("team-a", "sales", "gw");
      clock.now += heldRecheckMs + 1;
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("getRuntime")).to.equal(2);
      expect(store.count("createLease") + store.count("updateLease") + store.count("patchRuntime")).to.equal(2);

      store.runtimes.get("team-a/sales")!.status = { routeState: "RUNNING" };
      clock.now += heldRecheckMs + 1;
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(200);
    });

    it("lets another replica resume within seconds after a suspend went through the Lease winner", async () => {
      const { store, clock, a, b } = twoReplicas();
      await a.lifecycle.resume("team-a", "sales", "gw");
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202); // held by A
      await a.lifecycle.suspend("team-a", "sales", "admin"); // records intent and deletes the Lease
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(true);
      clock.now += heldRecheckMs + 1;
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-b");
    });

    it("lets another replica resume after a suspend whose Lease delete failed (the suspend intent consumes the Lease)", async () => {
      const { store, clock, a, b } = twoReplicas();
      await a.lifecycle.resume("team-a", "sales", "gw");
      clock.now += 1_000;
      store.failing.add("deleteLease");
      expect((await a.lifecycle.suspend("team-a", "sales", "admin")).status).to.equal(202);
      store.failing.clear();
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-a"); // the delete failed: A's Lease is still there

      clock.now += 1_000; // well within A's 30 s Lease
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-b");
    });

    it("does not hold back a new resume once the runtime was Ready and paused again under the same Lease", async () => {
      const { store, clock, a, b } = twoReplicas({ suspended: false, routeState: "PAUSED" });
      await a.lifecycle.resume("team-a", "sales", "gw");
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("patchRuntime")).to.equal(1);

      // The operator brought it up and idle-suspended it again within the Lease's 30 s (short wake TTL).
      store.runtimes.get("team-a/sales")!.status = {
        routeState: "PAUSED",
        readySince: "2026-01-01T12:00:05Z",
        suspendedAt: "2026-01-01T12:00:10Z",
      };
      clock.now += 12_000;
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("patchRuntime")).to.equal(2);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-b");
      clock.now += heldRecheckMs + 1;
      expect((await a.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202); // B's fresh Lease holds A back
      expect(store.count("patchRuntime")).to.equal(2);
    });

    it("takes over another replica's Lease that never got its intent written, after the grace period", async () => {
      const { store, clock, a, b } = twoReplicas();
      store.failing.add("patchRuntime").add("deleteLease"); // A wins the Lease, then neither writes intent nor releases
      expect((await rejection(a.lifecycle.resume("team-a", "sales", "gw"))).status).to.equal(503);
      store.failing.clear();

      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202); // seen now: within grace
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(true);
      clock.now += 10_001; // seen for longer than the 10 s grace with no intent under it: abandoned
      expect((await b.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-b");

      clock.now += 10_001; // B's intent is recorded under its Lease: not abandoned, A stays held back
      expect((await a.lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-b");
    });

    it("treats a lost create race (409 AlreadyExists) as held", async () => {
      const store = new MemoryStore();
      store.addRuntime("team-a", "sales");
      const a = setup({ store, identity: "replica-a" });
      const b = setup({ store, identity: "replica-b" });
      let open!: () => void;
      store.gate = new Promise((resolve) => (open = resolve));
      const both = Promise.all([a.lifecycle.resume("team-a", "sales", "gw"), b.lifecycle.resume("team-a", "sales", "gw")]);
      open();
      const answers = await both;
      expect(answers.map((x) => x.status)).to.deep.equal([202, 202]);
      expect(store.count("createLease")).to.equal(2);
      expect(store.count("patchRuntime")).to.equal(1);
    });

    it("answers 200 RUNNING without writing when the route is RUNNING and not suspended", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales", { suspended: false, routeState: "RUNNING" });
      const answer = await lifecycle.resume("team-a", "sales", "gw");
      expect(answer.status).to.equal(200);
      expect(answer.body).to.include({ state: "RUNNING", routeState: "RUNNING" });
      expect(store.count("createLease") + store.count("patchRuntime")).to.equal(0);
    });

    it("writes nothing while the operator already resumes it (not suspended, route RESUMING)", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales", { suspended: false, routeState: "RESUMING" });
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("createLease") + store.count("patchRuntime")).to.equal(0);
    });

    it("answers 404 for an unknown runtime and writes nothing", async () => {
      const { store, lifecycle } = setup();
      const error = await rejection(lifecycle.resume("team-a", "ghost", "gw"));
      expect(error.status).to.equal(404);
      expect(error.message).to.contain("team-a/ghost");
      expect(store.count("createLease") + store.count("updateLease") + store.count("patchRuntime")).to.equal(0);
    });

    it("on a failed intent write releases the lease it won, answers 503, and lets a retry proceed", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales");
      store.failing.add("patchRuntime");
      const error = await rejection(lifecycle.resume("team-a", "sales", "gw"));
      expect(error.status).to.equal(503);
      expect(store.leases.has(leaseKey)).to.equal(false);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(true);

      store.failing.clear();
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
    });

    it("when both the intent write and the release fail, the same process retries at once (its own lease is acquirable)", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales");
      store.failing.add("patchRuntime").add("deleteLease");
      expect((await rejection(lifecycle.resume("team-a", "sales", "gw"))).status).to.equal(503);
      expect(store.leases.get(leaseKey)?.holderIdentity).to.equal("replica-a");
      store.failing.clear();
      expect((await lifecycle.resume("team-a", "sales", "gw")).status).to.equal(202);
      expect(store.count("updateLease")).to.equal(1);
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
    });

    it("writes no lease when reading the runtime fails", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales");
      store.failing.add("getRuntime");
      expect((await rejection(lifecycle.resume("team-a", "sales", "gw"))).status).to.equal(503);
      expect(store.count("createLease") + store.count("patchRuntime")).to.equal(0);
    });
  });

  describe("suspend", () => {
    it("records suspend intent and drops the resume lease so a later resume proceeds at once", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales", { suspended: false, routeState: "PAUSED" });
      await lifecycle.resume("team-a", "sales", "gw");
      expect(store.leases.has(leaseKey)).to.equal(true);
      const answer = await lifecycle.suspend("team-a", "sales", "admin");
      expect(answer.status).to.equal(202);
      const runtime = store.runtimes.get("team-a/sales")!;
      expect(runtime.spec.lifecycle?.suspended).to.equal(true);
      expect(runtime.metadata.annotations?.[annotations.suspendRequestedBy]).to.equal("admin");
      expect(store.leases.has(leaseKey)).to.equal(false);
      await lifecycle.resume("team-a", "sales", "gw");
      expect(store.runtimes.get("team-a/sales")!.spec.lifecycle?.suspended).to.equal(false);
    });

    it("does not write when the runtime is already suspended", async () => {
      const { store, lifecycle } = setup();
      store.addRuntime("team-a", "sales", { suspended: true, routeState: "PAUSED" });
      const answer = await lifecycle.suspend("team-a", "sales", "admin");
      expect(answer).to.deep.include({ status: 202 });
      expect(answer.body).to.include({ state: "PAUSED", suspended: true });
      expect(store.count("patchRuntime")).to.equal(0);
    });
  });

  describe("activity", () => {
    it("moves last-activity forward only, at most once per interval per runtime", async () => {
      const { store, lifecycle, clock } = setup();
      store.addRuntime("team-a", "sales", { annotations: { [annotations.lastActivity]: "2026-01-01T11:59:00.000Z" } });
      await lifecycle.reportActivity("team-a", "sales", { at: "2026-01-01T11:59:30Z" });
      expect(store.runtimes.get("team-a/sales")!.metadata.annotations?.[annotations.lastActivity]).to.equal("2026-01-01T11:59:30.000Z");

      await lifecycle.reportActivity("team-a", "sales", { at: "2026-01-01T11:59:59Z" }); // within 10 s: throttled
      expect(store.count("patchRuntime")).to.equal(1);

      clock.now += 11_000;
      await lifecycle.reportActivity("team-a", "sales", { at: "2026-01-01T11:58:00Z" }); // older: never moves back
      expect(store.count("patchRuntime")).to.equal(1);
      expect(store.runtimes.get("team-a/sales")!.metadata.annotations?.[annotations.lastActivity]).to.equal("2026-01-01T11:59:30.000Z");
    });

    it("clamps a future time to now and rejects a body without an RFC 3339 'at'", () => {
      const now = Date.parse("2026-01-01T12:00:00Z");
      expect(parseActivityTime({ at: "2030-01-01T00:00:00Z" }, now)).to.equal(now);
      expect(parseActivityTime({ at: "2026-01-01T11:00:00+01:00" }, now)).to.equal(Date.parse("2026-01-01T10:00:00Z"));
      for (const body of [undefined, {}, { at: 5 }, { at: "yesterday" }, { at: "2026-01-01" }]) {
        expect(() => parseActivityTime(body, now)).to.throw(ApiError, /RFC 3339/);
      }
    });
  });

  it("builds the status view from spec intent, status and annotations", () => {
    const view = runtimeView({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "sales", namespace: "team-a", annotations: { [annotations.lastActivity]: "2026-01-01T10:00:00Z" } },
      spec: { lifecycle: { suspended: true } },
      status: {
        phase: "Suspended",
        routeState: "PAUSED",
        lastActivityTime: "2026-01-01T11:00:00Z",
        conditions: [{ type: "Ready", status: "False" }],
      },
    });
    expect(view).to.include({
      namespace: "team-a",
      name: "sales",
      phase: "Suspended",
      routeState: "PAUSED",
      suspended: true,
      lastActivity: "2026-01-01T11:00:00Z",
    });
    expect(view.conditions).to.deep.equal([{ type: "Ready", status: "False" }]);
  });
});
