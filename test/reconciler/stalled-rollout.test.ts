// A runtime whose pods cannot start (no room on the nodes, a bad image): the Deployment controller
// gives up at its progress deadline (Progressing=False ProgressDeadlineExceeded) and the pods stay
// Pending. The user sees it in the XTrinode (phase Error, conditions Ready and Progressing with the
// Deployment's and the pod's reason), one Warning Event, and the gateway answers at once from the
// FAILED route instead of holding queries for a runtime that will not come. It recovers by itself.
// Pods that admission refuses (a ResourceQuota: the Deployment's ReplicaFailure=True FailedCreate) are
// reported at once, without waiting for a progress deadline that a refusal never needs.
import { expect } from "chai";
import { reconcileRuntime } from "../../reconciler/reconcile.ts";
import { eventually } from "../support/eventually.ts";
import {
  condition,
  events,
  reconcile,
  reconcileTo,
  routeOf,
  runtime,
  startCluster,
  statusOf,
  TestClock,
  testContext,
  type Cluster,
} from "./support.ts";

describe("reconciler: a rollout that cannot finish", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  const clock = new TestClock();
  beforeEach(async () => (cluster = await startCluster()));
  afterEach(() => cluster.close());

  it("ProgressDeadlineExceeded with unschedulable pods: phase Error naming the Deployment and the pod's reason, one Warning Event, route FAILED; recovers when the pods run", async () => {
    const ctx = testContext(cluster, clock);
    cluster.server.sim.stallWorkload("team-a", "bi-trino-coordinator", "0/3 nodes are available: 3 Insufficient memory.");
    await cluster.client.create(runtime("team-a", "bi"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Error");
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.routeState).to.equal("FAILED");
    const progressing = condition(status, "Progressing");
    expect(progressing).to.include({ status: "False", reason: "ProgressDeadlineExceeded" });
    expect(progressing?.message)
      .to.contain("Deployment team-a/bi-trino-coordinator")
      .and.contain("has timed out progressing")
      .and.contain("Unschedulable")
      .and.contain("3 Insufficient memory");
    expect(condition(status, "Ready")).to.include({ status: "False", reason: "ProgressDeadlineExceeded" });
    expect(status.message).to.contain(progressing!.message!).and.contain("check node capacity");
    const route = await routeOf(cluster.client, "team-a", "bi");
    expect(route).to.include({ state: "FAILED" });
    expect((route as { message?: string }).message).to.contain("3 Insufficient memory");
    expect(await events(cluster, "team-a", "ProgressDeadlineExceeded")).to.have.length(1);

    // Settled: later passes write nothing (no second Event, no pod listing) and poll slowly.
    const again = await reconcileRuntime(ctx, "team-a", "bi");
    expect(again).to.include({ writes: 0, phase: "Error", requeueAfterMs: 30_000 });
    expect(await events(cluster, "team-a", "ProgressDeadlineExceeded")).to.have.length(1);

    // Capacity appears: the pods run, the runtime is Ready and the route RUNNING again.
    cluster.server.sim.markWorkloadReady("Deployment", "team-a", "bi-trino-coordinator");
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    const ready = await statusOf(cluster, "team-a", "bi");
    expect(ready.routeState).to.equal("RUNNING");
    expect(condition(ready, "Progressing")).to.equal(undefined);
    expect((await routeOf(cluster.client, "team-a", "bi")) as object).not.to.have.property("message");
  });

  it("no controller verdict (a scale-up from zero is not a rollout): the operator applies progressDeadlineSeconds itself", async () => {
    const ctx = testContext(cluster, clock);
    cluster.server.sim.setDeploymentReadyDelay(null); // never ready, Progressing stays True
    await cluster.client.create(runtime("team-a", "bi"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Reconciling");
    expect(condition(await statusOf(cluster, "team-a", "bi"), "Progressing")).to.include({ status: "True", reason: "WaitingForPods" });
    clock.advance(599_000);
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Reconciling");
    clock.advance(2_000);
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Error");
    const status = await statusOf(cluster, "team-a", "bi");
    expect(condition(status, "Progressing")?.message).to.contain("0 of 1 pods ready after its progressDeadlineSeconds (600 s)");
    expect(status.routeState).to.equal("FAILED");
  });

  const quotaMessage =
    'pods "bi-trino-worker-7c9f8d6b5-x2k4q" is forbidden: exceeded quota: xtrinode-guardrails, requested: limits.memory=64Gi, used: limits.memory=192Gi, limited: limits.memory=256Gi';

  it("a ResourceQuota refuses the 4th worker pod (ReplicaFailure FailedCreate): Progressing False with the quota's message and one Warning Event at once; the runtime serves with 3 workers; recovers when pods are admitted", async () => {
    const ctx = testContext(cluster, clock);
    cluster.server.sim.refusePods("team-a", "bi-trino-worker", 3, quotaMessage);
    await cluster.client.create(runtime("team-a", "bi", { workers: { mode: "fixed", count: 4 } }));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    // Long before any progress deadline: the refusal is final until the quota or the spec changes.
    await eventually("the refusal reported", async () => {
      await reconcile(ctx, "team-a", "bi");
      return condition(await statusOf(cluster, "team-a", "bi"), "Progressing")?.status === "False";
    });
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status).to.include({ phase: "Ready", routeState: "RUNNING", workers: 3 }); // it serves, with fewer workers
    const progressing = condition(status, "Progressing");
    expect(progressing).to.include({ status: "False", reason: "FailedCreate" });
    expect(progressing?.message).to.contain("Deployment team-a/bi-trino-worker").and.contain("exceeded quota: xtrinode-guardrails");
    expect(await events(cluster, "team-a", "FailedCreate")).to.have.length(1);

    cluster.server.sim.allowPods("team-a", "bi-trino-worker");
    await eventually("the refusal cleared", async () => {
      await reconcile(ctx, "team-a", "bi");
      return condition(await statusOf(cluster, "team-a", "bi"), "Progressing") === undefined;
    });
    expect(await statusOf(cluster, "team-a", "bi")).to.include({ phase: "Ready", workers: 4 });
  });

  it("a ResourceQuota refuses the coordinator pod: phase Error and route FAILED at once, Ready False FailedCreate", async () => {
    const ctx = testContext(cluster, clock);
    cluster.server.sim.refusePods("team-a", "bi-trino-coordinator", 0, quotaMessage.replace("worker", "coordinator"));
    await cluster.client.create(runtime("team-a", "bi"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Error");
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.routeState).to.equal("FAILED");
    expect(condition(status, "Ready")).to.include({ status: "False", reason: "FailedCreate" });
    expect(condition(status, "Progressing")?.message).to.contain("exceeded quota");
  });
});
