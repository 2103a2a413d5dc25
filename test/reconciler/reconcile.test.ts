// The reconcile of one runtime against the Kubernetes API test server, driven pass by pass with a
// hand-moved clock: ordering, zero writes on a no-op, pruning, lifecycle, node pools, catalogs,
// secrets, bad specs and deletion.
import { expect } from "chai";
import { fieldManager, ownerLabel } from "../../reconciler/constants.ts";
import type { KubeObject } from "../../reconciler/diff.ts";
import { reconcileRuntime, type ReconcileContext } from "../../reconciler/reconcile.ts";
import { catalog, gatewayNamespace, getRuntime, phaseOf, reconcile, routeOf, runtime, startCluster, testContext, tick, TestClock, type Cluster } from "./support.ts";

const queryPressure = { queryPressure: { serverAddress: "http://prometheus.monitoring.svc:9090" } };

type Status = { phase?: string; routeState?: string; message?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; observedGeneration?: number };

const statusOf = async (cluster: Cluster, ns: string, name: string) => ((await getRuntime(cluster.client, ns, name))?.status ?? {}) as Status;
const condition = (status: Status, type: string) => status.conditions?.find((c) => c.type === type);
const deployment = (cluster: Cluster, ns: string, name: string) => cluster.client.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name });

async function createRuntime(cluster: Cluster, object: KubeObject): Promise<void> {
  await cluster.client.create(object);
}

async function mergeSpec(cluster: Cluster, ns: string, name: string, spec: Record<string, unknown>, metadata?: Record<string, unknown>): Promise<void> {
  await cluster.client.mergePatch({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: ns, name }, { spec, ...(metadata ? { metadata } : {}) });
}

/** Reconciles, lets the simulated controllers react, and reconciles again until the phase is `phase`. */
async function reconcileTo(ctx: ReconcileContext, cluster: Cluster, ns: string, name: string, phase: string, passes = 10): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await reconcile(ctx, ns, name);
    if ((await phaseOf(cluster.client, ns, name)) === phase) return;
    await tick();
  }
  throw new Error(`${ns}/${name} did not reach ${phase}: ${JSON.stringify(await statusOf(cluster, ns, name))}`);
}

describe("reconciler: reconcile against the Kubernetes API test server", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  let clock: TestClock;
  let ctx: ReconcileContext;

  beforeEach(async () => {
    cluster = await startCluster();
    clock = new TestClock();
    ctx = testContext(cluster, clock);
  });
  afterEach(async () => {
    await cluster.close();
  });

  it("creates a runtime: Pending, then Reconciling with route RESUMING, then Ready with route RUNNING; status via the status subresource", async () => {
    await createRuntime(cluster, runtime("team-a", "bi", { route: { hostnames: ["bi.example.com"], default: true } }));
    const first = await reconcileRuntime(ctx, "team-a", "bi");
    expect(first.phase).to.equal("Pending");
    expect((await getRuntime(cluster.client, "team-a", "bi"))!.metadata!.finalizers).to.include("xtrinode.io/finalizer");

    cluster.server.sim.setDeploymentReadyDelay(null); // coordinator not ready yet
    await reconcile(ctx, "team-a", "bi");
    let status = await statusOf(cluster, "team-a", "bi");
    expect(status.phase).to.equal("Reconciling");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("RESUMING");
    const coordinator = await deployment(cluster, "team-a", "bi-trino-coordinator");
    expect(coordinator?.metadata?.labels?.[ownerLabel]).to.equal("bi");
    expect(await deployment(cluster, "team-a", "bi-trino-worker")).to.not.equal(undefined);

    cluster.server.sim.markWorkloadReady("Deployment", "team-a", "bi-trino-coordinator");
    await reconcile(ctx, "team-a", "bi");
    status = await statusOf(cluster, "team-a", "bi");
    expect(status.phase).to.equal("Ready");
    expect(status.routeState).to.equal("RUNNING");
    expect(status.observedGeneration).to.equal((await getRuntime(cluster.client, "team-a", "bi"))!.metadata!.generation);
    expect(condition(status, "Ready")?.status).to.equal("True");
    expect(condition(status, "CatalogsResolved")?.status).to.equal("True");
    expect(condition(status, "RoutePublished")?.reason).to.equal("RUNNING");
    const route = await routeOf(cluster.client, "team-a", "bi");
    expect(route).to.include({ state: "RUNNING", backend: "http://bi-trino.team-a.svc.cluster.local:8080", default: true });
    expect(route?.hostnames).to.deep.equal(["bi.example.com"]);
    // Guardrails from the policy were applied in the runtime's namespace before runtime objects.
    const applies = cluster.server.requestLog.writes({ method: "PATCH", fieldManager }).map((e) => e.path);
    const quotaAt = applies.findIndex((p) => p.includes("/resourcequotas/"));
    const firstDeploymentAt = applies.findIndex((p) => p.includes("/deployments/"));
    expect(quotaAt).to.be.greaterThan(-1);
    expect(quotaAt).to.be.lessThan(firstDeploymentAt);
    // Every write is a server-side apply (or status/route update) under the one field manager.
    expect(cluster.server.requestLog.writes({ pathPrefix: "/apis/apps" }).every((e) => e.fieldManager === fieldManager)).to.equal(true);
  });

  it("an unchanged runtime reconciles with zero write requests", async () => {
    await createRuntime(cluster, runtime("team-a", "bi", { workers: { mode: "keda", min: 0, max: 4, keda: queryPressure }, monitoring: { serviceMonitor: true } }));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    await tick();
    cluster.server.requestLog.clear();
    clock.advance(60_000);
    const result = await reconcile(ctx, "team-a", "bi");
    expect(result.phase).to.equal("Ready");
    expect(result.writes).to.equal(0);
    expect(cluster.server.requestLog.writes()).to.deep.equal([]);
    expect(cluster.server.requestLog.count()).to.be.greaterThan(0); // it did read
  });

  it("prunes the ScaledObject after switching from KEDA to fixed workers, and never owns spec.replicas under an autoscaler", async () => {
    await createRuntime(cluster, runtime("team-a", "bi", { workers: { mode: "keda", min: 1, max: 5, keda: queryPressure } }));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    const scaledObjects = () => cluster.client.list("keda.sh/v1alpha1", "ScaledObject", "team-a", `${ownerLabel}=bi`);
    expect(await scaledObjects()).to.have.length(1);
    const worker = (await deployment(cluster, "team-a", "bi-trino-worker"))!;
    const ours = (worker.metadata as { managedFields?: Array<{ manager: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }> }).managedFields!.find((m) => m.manager === fieldManager)!;
    expect(ours.fieldsV1?.["f:spec"]).to.not.have.property("f:replicas");

    await mergeSpec(cluster, "team-a", "bi", { workers: { mode: "fixed", count: 3, min: null, max: null, keda: null } });
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    expect(await scaledObjects()).to.deep.equal([]);
    expect(((await deployment(cluster, "team-a", "bi-trino-worker"))!.spec as { replicas?: number }).replicas).to.equal(3);
    expect(cluster.server.requestLog.writes({ method: "DELETE" }).map((e) => e.path)).to.deep.equal(["/apis/keda.sh/v1alpha1/namespaces/team-a/scaledobjects/bi-trino-worker"]);
  });
});
