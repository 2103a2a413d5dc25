// The reconcile of one runtime against the Kubernetes API test server, driven pass by pass with a
// hand-moved clock: ordering, zero writes on a no-op, pruning, lifecycle, node pools, catalogs,
// secrets, bad specs and deletion.
import { expect } from "chai";
import { ownerLabel } from "../../schemas/api/index.ts";
import { fieldManager } from "../../reconciler/constants.ts";
import type { KubeObject } from "../../reconciler/apply-decision.ts";
import { reconcileRuntime, type ReconcileContext } from "../../reconciler/reconcile.ts";
import { pruneGuardrails } from "../../reconciler/guardrails.ts";
import {
  catalog,
  condition,
  gatewayNamespace,
  getRuntime,
  reconcile,
  reconcileTo,
  routeOf,
  runtime,
  startCluster,
  staticPolicy,
  statusOf,
  TestClock,
  testContext,
  testPolicy,
  tick,
  type Cluster,
  type RuntimeStatus,
} from "./support.ts";

const queryPressure = { queryPressure: { serverAddress: "http://prometheus.monitoring.svc:9090" } };

const deployment = (cluster: Cluster, ns: string, name: string) =>
  cluster.client.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name });

/** The spec fields the operator's field manager owns on a Deployment (its managedFields entry): KEDA runtimes leave f:replicas to KEDA. */
async function operatorOwnedSpec(cluster: Cluster, ns: string, name: string): Promise<Record<string, unknown> | undefined> {
  const worker = (await deployment(cluster, ns, name))!;
  const ours = (
    worker.metadata as { managedFields?: Array<{ manager: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }> }
  ).managedFields!.find((m) => m.manager === fieldManager)!;
  return ours.fieldsV1?.["f:spec"];
}

async function createRuntime(cluster: Cluster, object: KubeObject): Promise<void> {
  await cluster.client.create(object);
}

async function mergeSpec(
  cluster: Cluster,
  ns: string,
  name: string,
  spec: Record<string, unknown>,
  metadata?: Record<string, unknown>,
): Promise<void> {
  await cluster.client.mergePatch(
    { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: ns, name },
    { spec, ...(metadata ? { metadata } : {}) },
  );
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
    await createRuntime(
      cluster,
      runtime("team-a", "bi", {
        workers: { mode: "keda", min: 0, max: 4, keda: queryPressure },
        monitoring: { serviceMonitor: true },
        // Quantities the API server canonicalizes ("0.5" → "500m", "2048Mi" → "2Gi") must not count as changes.
        // (An explicit heap: the default 8G would not fit under the 2048Mi limit.)
        coordinator: {
          resources: { requests: { cpu: "0.5", memory: "2048Mi" }, limits: { memory: "2048Mi" } },
          jvm: { maxHeapSize: "1536M" },
        },
      }),
    );
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    await tick();
    const containers = (
      (await deployment(cluster, "team-a", "bi-trino-coordinator"))!.spec as {
        template: { spec: { containers: Array<{ resources?: { requests?: Record<string, string> } }> } };
      }
    ).template.spec.containers;
    expect(containers.map((c) => c.resources?.requests?.cpu)).to.include("500m"); // canonicalized by the server
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
    expect(await operatorOwnedSpec(cluster, "team-a", "bi-trino-worker")).to.not.have.property("f:replicas");

    await mergeSpec(cluster, "team-a", "bi", { workers: { mode: "fixed", count: 3, min: null, max: null, keda: null } });
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    expect(await scaledObjects()).to.deep.equal([]);
    expect(((await deployment(cluster, "team-a", "bi-trino-worker"))!.spec as { replicas?: number }).replicas).to.equal(3);
    expect(cluster.server.requestLog.writes({ method: "DELETE" }).map((e) => e.path)).to.deep.equal([
      "/apis/keda.sh/v1alpha1/namespaces/team-a/scaledobjects/bi-trino-worker",
    ]);
  });

  it("suspend intent: Suspending with route DRAINING while queries run, then PAUSED with compute at zero, then Suspended", async () => {
    await createRuntime(cluster, runtime("team-a", "bi"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    await mergeSpec(cluster, "team-a", "bi", { lifecycle: { suspended: true } });

    const draining = await reconcile(ctx, "team-a", "bi");
    expect(draining.phase).to.equal("Suspending");
    expect(draining.requeueAfterMs).to.be.within(1, 30_001);
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("DRAINING");
    expect(((await deployment(cluster, "team-a", "bi-trino-coordinator"))!.spec as { replicas: number }).replicas).to.equal(1);

    // Gateway activity during the drain keeps it draining past the first deadline.
    clock.advance(20_000);
    await mergeSpec(cluster, "team-a", "bi", {}, { annotations: { "xtrinode.io/last-activity": clock.now().toISOString() } });
    clock.advance(15_000);
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Suspending");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("DRAINING");

    clock.advance(16_000); // 31 s of quiet
    await reconcile(ctx, "team-a", "bi");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("PAUSED");
    expect(((await deployment(cluster, "team-a", "bi-trino-coordinator"))!.spec as { replicas: number }).replicas).to.equal(0);
    expect(((await deployment(cluster, "team-a", "bi-trino-worker"))!.spec as { replicas: number }).replicas).to.equal(0);
    await reconcileTo(ctx, cluster, "team-a", "bi", "Suspended");
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.routeState).to.equal("PAUSED");
    expect(condition(status, "Ready")).to.include({ status: "False", reason: "Suspended" });
  });

  it("suspending a KEDA runtime removes the ScaledObject and scales workers to zero; resuming brings the autoscaler back", async () => {
    await createRuntime(cluster, runtime("team-a", "elastic", { workers: { mode: "keda", min: 1, max: 5, keda: queryPressure } }));
    await reconcileTo(ctx, cluster, "team-a", "elastic", "Ready");
    const scaledObjects = () => cluster.client.list("keda.sh/v1alpha1", "ScaledObject", "team-a", `${ownerLabel}=elastic`);
    expect(await scaledObjects()).to.have.length(1);
    await mergeSpec(cluster, "team-a", "elastic", { lifecycle: { suspended: true } });
    await reconcile(ctx, "team-a", "elastic"); // DRAINING
    clock.advance(31_000);
    await reconcileTo(ctx, cluster, "team-a", "elastic", "Suspended");
    expect(await scaledObjects()).to.deep.equal([]);
    expect(((await deployment(cluster, "team-a", "elastic-trino-worker"))!.spec as { replicas: number }).replicas).to.equal(0);

    await mergeSpec(cluster, "team-a", "elastic", { lifecycle: { suspended: false } });
    await reconcileTo(ctx, cluster, "team-a", "elastic", "Ready");
    expect(await scaledObjects()).to.have.length(1);
    expect(await operatorOwnedSpec(cluster, "team-a", "elastic-trino-worker")).to.not.have.property("f:replicas");
  });

  it("resume intent: Suspended → Resuming → Reconciling → Ready, route RESUMING until the coordinator is ready", async () => {
    await createRuntime(cluster, runtime("team-a", "bi", { lifecycle: { suspended: true } }));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Suspended");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("PAUSED");

    cluster.server.sim.setDeploymentReadyDelay(null);
    await mergeSpec(
      cluster,
      "team-a",
      "bi",
      { lifecycle: { suspended: false } },
      { annotations: { "xtrinode.io/resume-requested-at": clock.now().toISOString() } },
    );
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Resuming");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("RESUMING");
    expect(((await deployment(cluster, "team-a", "bi-trino-coordinator"))!.spec as { replicas: number }).replicas).to.equal(1);
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Reconciling");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("RESUMING");

    cluster.server.sim.markWorkloadReady("Deployment", "team-a", "bi-trino-coordinator");
    expect((await reconcile(ctx, "team-a", "bi")).phase).to.equal("Ready");
    expect((await routeOf(cluster.client, "team-a", "bi"))?.state).to.equal("RUNNING");
  });

  it("idle suspend: past wakeTTL without gateway activity the runtime drains and suspends with spec untouched; a resume request wakes it", async () => {
    await createRuntime(cluster, runtime("team-a", "adhoc", { lifecycle: { wakeTTL: "10m" } }));
    await reconcileTo(ctx, cluster, "team-a", "adhoc", "Ready");
    const ready = await reconcile(ctx, "team-a", "adhoc");
    expect(ready.requeueAfterMs).to.be.within(599_000, 600_001); // requeue at the idle deadline

    clock.advance(5 * 60_000);
    await mergeSpec(cluster, "team-a", "adhoc", {}, { annotations: { "xtrinode.io/last-activity": clock.now().toISOString() } });
    clock.advance(6 * 60_000); // 6 min after the last activity: not idle
    expect((await reconcile(ctx, "team-a", "adhoc")).phase).to.equal("Ready");

    clock.advance(5 * 60_000); // 11 min after the last activity: idle
    expect((await reconcile(ctx, "team-a", "adhoc")).phase).to.equal("Suspending");
    expect((await routeOf(cluster.client, "team-a", "adhoc"))?.state).to.equal("DRAINING");
    clock.advance(31_000);
    await reconcileTo(ctx, cluster, "team-a", "adhoc", "Suspended");
    const suspended = await getRuntime(cluster.client, "team-a", "adhoc");
    // suspended: false is the CRD default the API server fills in; the operator never sets it.
    expect((suspended!.spec as { lifecycle: Record<string, unknown> }).lifecycle).to.deep.equal({ wakeTTL: "10m", suspended: false });
    expect((suspended!.status as RuntimeStatus).message).to.contain("wakeTTL");

    clock.advance(60_000);
    await mergeSpec(cluster, "team-a", "adhoc", {}, { annotations: { "xtrinode.io/resume-requested-at": clock.now().toISOString() } });
    expect((await reconcile(ctx, "team-a", "adhoc")).phase).to.equal("Resuming");
    await reconcileTo(ctx, cluster, "team-a", "adhoc", "Ready");
  });

  it("node pool: created first, Trino pods wait until it is Running; a failure is an Error condition and a Kubernetes Event", async () => {
    cluster.server.sim.options.nodePoolPolicy = "manual";
    const pool = { class: "memory-optimized", instanceType: "r6i.4xlarge", clusterName: "prod" };
    await createRuntime(cluster, runtime("team-a", "bi", { nodePool: pool }));
    await createRuntime(cluster, runtime("team-a", "etl", { nodePool: pool }));

    await reconcile(ctx, "team-a", "bi");
    let status = await statusOf(cluster, "team-a", "bi");
    expect(status.phase).to.equal("Reconciling");
    expect(condition(status, "NodePoolReady")).to.include({ status: "False", reason: "Provisioning" });
    expect(await cluster.client.list("cluster.x-k8s.io/v1beta1", "MachineDeployment", "team-a", `${ownerLabel}=bi`)).to.have.length(1);
    expect(await deployment(cluster, "team-a", "bi-trino-coordinator")).to.equal(undefined);

    cluster.server.sim.markNodePoolReady("team-a", "bi-trino-pool");
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    expect(condition(await statusOf(cluster, "team-a", "bi"), "NodePoolReady")).to.include({ status: "True" });

    await reconcile(ctx, "team-a", "etl");
    cluster.server.sim.failNodePool("team-a", "etl-trino-pool", "no r6i.4xlarge capacity in eu-west-1a");
    await reconcile(ctx, "team-a", "etl");
    await reconcile(ctx, "team-a", "etl"); // a second pass must not repeat the Event
    status = await statusOf(cluster, "team-a", "etl");
    expect(status.phase).to.equal("Error");
    expect(status.message).to.contain("no r6i.4xlarge capacity");
    expect(condition(status, "NodePoolReady")).to.include({ status: "False", reason: "ProvisioningFailed" });
    expect(await deployment(cluster, "team-a", "etl-trino-coordinator")).to.equal(undefined);
    const events = (await cluster.client.list("v1", "Event", "team-a")).filter(
      (e) => (e.involvedObject as { name?: string }).name === "etl",
    );
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ type: "Warning", reason: "NodePoolFailed" });
  });

  it("a catalog change rolls only the runtimes that select it", async () => {
    await cluster.client.create(catalog("team-a", "tpch", { connector: "tpch", properties: { "tpch.splits-per-node": "4" } }));
    await cluster.client.create(catalog("team-a", "other", { connector: "memory" }));
    await createRuntime(cluster, runtime("team-a", "uses", { catalogs: { names: ["tpch"] } }));
    await createRuntime(cluster, runtime("team-a", "skips", { catalogs: { names: ["other"] } }));
    await reconcileTo(ctx, cluster, "team-a", "uses", "Ready");
    await reconcileTo(ctx, cluster, "team-a", "skips", "Ready");
    expect((await statusOf(cluster, "team-a", "uses")) as { catalogs?: string[] })
      .to.have.property("catalogs")
      .that.deep.equals(["tpch"]);
    const template = async (name: string) =>
      JSON.stringify(((await deployment(cluster, "team-a", name))!.spec as { template: unknown }).template);
    const before = { coordinator: await template("uses-trino-coordinator"), skips: await template("skips-trino-coordinator") };

    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinodeCatalog", namespace: "team-a", name: "tpch" },
      { spec: { properties: { "tpch.splits-per-node": "8" } } },
    );
    await tick();
    cluster.server.requestLog.clear();
    await reconcile(ctx, "team-a", "skips");
    expect(cluster.server.requestLog.writes()).to.deep.equal([]);
    await reconcile(ctx, "team-a", "uses");
    const written = cluster.server.requestLog.writes().map((e) => e.path);
    expect(written).to.include("/api/v1/namespaces/team-a/configmaps/uses-trino-catalog");
    expect(written.some((p) => p.includes("skips"))).to.equal(false);
    expect(await template("uses-trino-coordinator")).to.not.equal(before.coordinator);
    expect(await template("skips-trino-coordinator")).to.equal(before.skips);
  });

  it("a bad spec or a missing Secret key is phase Error with a message saying what to fix; other runtimes keep reconciling", async () => {
    // An unknown field never reaches the operator: the client asks for fieldValidation=Strict, so the
    // API server refuses it naming the field (without Strict it would prune it silently).
    const typo = await createRuntime(cluster, runtime("team-a", "bad", { workers: { mode: "fixed", count: -2 }, colour: "blue" })).catch(
      (error: Error) => error,
    );
    expect(String((typo as { body?: unknown }).body)).to.contain('strict decoding error: unknown field \\"spec.colour\\"');
    // (The test server does not check the schema's minimum, as a real one would; the operator does too.)
    await createRuntime(cluster, runtime("team-a", "bad", { workers: { mode: "fixed", count: -2 } }));
    await cluster.client.create(
      catalog("team-a", "pg", {
        connector: "postgresql",
        secretProperties: { "connection-password": { secretName: "pg-creds", key: "password" } },
      }),
    );
    await createRuntime(cluster, runtime("team-a", "needs-secret", { catalogs: { names: ["pg"] } }));
    await createRuntime(cluster, runtime("team-a", "good"));

    await reconcile(ctx, "team-a", "bad");
    const bad = await statusOf(cluster, "team-a", "bad");
    expect(bad.phase).to.equal("Error");
    expect(bad.message).to.contain("spec.workers.count");
    expect(condition(bad, "Ready")).to.include({ status: "False", reason: "InvalidSpec" });

    await reconcile(ctx, "team-a", "needs-secret");
    let secretStatus = await statusOf(cluster, "team-a", "needs-secret");
    expect(secretStatus.phase).to.equal("Error");
    expect(secretStatus.message).to.contain("Secret team-a/pg-creds not found");
    expect(condition(secretStatus, "SecretsResolved")).to.include({ status: "False", reason: "SecretNotFound" });
    expect(await deployment(cluster, "team-a", "needs-secret-trino-coordinator")).to.equal(undefined); // nothing half-applied

    await reconcileTo(ctx, cluster, "team-a", "good", "Ready");

    await cluster.client.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pg-creds", namespace: "team-a" },
      data: { user: "dXNlcg==" },
    });
    await reconcile(ctx, "team-a", "needs-secret");
    secretStatus = await statusOf(cluster, "team-a", "needs-secret");
    expect(secretStatus.message).to.contain('has no key "password"');
    await cluster.client.mergePatch(
      { apiVersion: "v1", kind: "Secret", namespace: "team-a", name: "pg-creds" },
      { data: { password: Buffer.from("sup3r-pa55").toString("base64") } },
    );
    await reconcileTo(ctx, cluster, "team-a", "needs-secret", "Ready");
    expect(condition(await statusOf(cluster, "team-a", "needs-secret"), "SecretsResolved")).to.include({ status: "True" });
    // The secret value never reaches rendered objects.
    const configMaps = await cluster.client.list("v1", "ConfigMap", "team-a", `${ownerLabel}=needs-secret`);
    expect(JSON.stringify(configMaps)).to.not.contain("sup3r-pa55").and.not.contain(Buffer.from("sup3r-pa55").toString("base64"));
  });

  it("delete: the finalizer holds the object until the route is REMOVED and dropped and owned objects are deleted", async () => {
    await createRuntime(cluster, runtime("team-a", "bi"));
    await createRuntime(cluster, runtime("team-a", "stays"));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    await reconcileTo(ctx, cluster, "team-a", "stays", "Ready");
    await cluster.client.delete({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-a", name: "bi" });
    const marked = await getRuntime(cluster.client, "team-a", "bi");
    expect(marked?.metadata?.deletionTimestamp).to.be.a("string");

    cluster.server.requestLog.clear();
    await reconcile(ctx, "team-a", "bi");
    const routeWrites = cluster.server.requestLog.writes({ pathPrefix: `/api/v1/namespaces/${gatewayNamespace}/configmaps` });
    expect(routeWrites).to.have.length(2); // REMOVED, then dropped
    expect(await routeOf(cluster.client, "team-a", "bi")).to.equal(undefined);
    expect(await routeOf(cluster.client, "team-a", "stays")).to.include({ state: "RUNNING" });
    expect(await getRuntime(cluster.client, "team-a", "bi")).to.equal(undefined);
    await tick();
    for (const kind of [
      ["apps/v1", "Deployment"],
      ["v1", "ConfigMap"],
      ["v1", "Service"],
    ]) {
      expect(await cluster.client.list(kind[0], kind[1], "team-a", `${ownerLabel}=bi`)).to.deep.equal([]);
    }
    expect(await deployment(cluster, "team-a", "stays-trino-coordinator")).to.not.equal(undefined);
  });

  it("prunes the namespace guardrails a reloaded policy no longer renders, and no other ResourceQuota", async () => {
    await createRuntime(cluster, runtime("team-a", "bi"));
    await reconcile(ctx, "team-a", "bi"); // the test policy asks for a quota in every namespace
    const quotaNames = async () => (await cluster.client.list("v1", "ResourceQuota", "team-a")).map((q) => q.metadata!.name!).sort();
    const [guardrail] = await quotaNames();
    expect(guardrail, "the guardrail quota").to.be.a("string");
    await cluster.client.create({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "team-own", namespace: "team-a" },
      spec: { hard: { pods: "10" } },
    });

    expect(await pruneGuardrails(ctx, "team-a")).to.deep.equal([]); // still wanted
    const withoutQuota = testContext(
      cluster,
      clock,
      staticPolicy({ ...testPolicy, defaults: { ...testPolicy.defaults, quota: undefined } }),
    );
    expect(await pruneGuardrails(withoutQuota, "team-a")).to.deep.equal([`ResourceQuota/${guardrail}`]);
    expect(await quotaNames()).to.deep.equal(["team-own"]);
    expect(await pruneGuardrails(withoutQuota, "team-a")).to.deep.equal([]); // idempotent
  });
});
