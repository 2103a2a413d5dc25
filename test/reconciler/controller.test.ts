// The controller loop in-process (no leader election): informers drive reconciles without resync,
// Secret and catalog changes requeue the runtimes that use them, requeue-after timers end drains,
// and /healthz and /metrics are served.
import { expect } from "chai";
import { silentLogger } from "../../lib/logger.ts";
import { ownerLabel } from "../../schemas/api/index.ts";
import { startOperator, type RunningOperator } from "../../reconciler/operator.ts";
import type { XTrinodePolicy } from "../../renderer/types.ts";
import { catalog, gatewayNamespace, phaseOf, routeOf, runtime, startCluster, staticPolicy, testPolicy, type Cluster } from "./support.ts";
import { eventually } from "../support/eventually.ts";
import { scrapeMetricSum } from "../support/metrics-text.ts";

describe("reconciler: controller loop (informers, work queue, timers, metrics)", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  let operator: RunningOperator;
  let policy: XTrinodePolicy | undefined = testPolicy; // what the next policy reload finds

  before(async () => {
    cluster = await startCluster({}, ["team-a", "team-b", "team-c"]);
    operator = await startOperator({
      kubeConfig: cluster.kubeConfig,
      gatewayNamespace,
      policy: { current: () => policy, reload: async () => undefined },
      log: silentLogger(),
      metricsPort: 0,
      metricsHost: "127.0.0.1",
      leaderElection: false,
      resyncPeriodMs: 10 * 60_000, // effectively never: everything below is event-driven
      timers: { drainPeriodMs: 300, maxDrainMs: 5_000 },
    });
  });
  after(async () => {
    await operator?.stop();
    await cluster?.close();
  });

  const successfulReconciles = () =>
    scrapeMetricSum(`http://127.0.0.1:${operator.healthPort}`, "xtrinode_operator_reconcile_total", { outcome: "success" });
  /** Waits until `count` (of the test server's requests) stays the same over one poll: the zero-write tests start from a quiet cluster. */
  async function untilQuiet(count: () => number): Promise<void> {
    let seen = -1;
    await eventually(
      "a quiet cluster",
      () => {
        const now = count();
        const quiet = now === seen;
        seen = now;
        return quiet;
      },
      { timeoutMs: 10_000, intervalMs: 500 },
    );
  }

  it("a runtime waiting for a Secret becomes Ready when the Secret appears; a catalog change reaches its config", async () => {
    await cluster.client.create(
      catalog("team-a", "pg", {
        connector: "postgresql",
        properties: { "connection-url": "jdbc:postgresql://db:5432/a" },
        secretProperties: { "connection-password": { secretName: "pg", key: "password" } },
      }),
    );
    await cluster.client.create(runtime("team-a", "bi", { catalogs: { names: ["pg"] } }));
    await eventually("Error for the missing Secret", async () => (await phaseOf(cluster.client, "team-a", "bi")) === "Error");
    await cluster.client.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pg", namespace: "team-a" },
      stringData: { password: "x" },
      data: { password: "eA==" },
    });
    await eventually("Ready after the Secret appeared", async () => (await phaseOf(cluster.client, "team-a", "bi")) === "Ready");

    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinodeCatalog", namespace: "team-a", name: "pg" },
      { spec: { properties: { "connection-url": "jdbc:postgresql://db:5432/b" } } },
    );
    await eventually("the catalog ConfigMap to carry the new URL", async () => {
      const configMaps = await cluster.client.list("v1", "ConfigMap", "team-a", `${ownerLabel}=bi`);
      return JSON.stringify(configMaps).includes("db:5432/b");
    });
  });

  it("keeps XTrinodeCatalog status current: usedBy (names and selectors) and Ready (Secret keys found)", async () => {
    const catalogStatusOf = async (name: string) =>
      (await cluster.client.get({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinodeCatalog", namespace: "team-c", name }))?.status as
        | {
            usedBy?: string[];
            observedGeneration?: number;
            conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
          }
        | undefined;
    const ready = async (name: string) => (await catalogStatusOf(name))?.conditions?.find((c) => c.type === "Ready");
    await cluster.client.create(
      catalog(
        "team-c",
        "lake",
        { connector: "iceberg", secretProperties: { "s3.aws-secret-key": { secretName: "lake-creds", key: "secret" } } },
        { tier: "gold" },
      ),
    );
    await eventually("Ready False naming the missing Secret", async () => (await ready("lake"))?.status === "False");
    expect((await ready("lake"))?.message).to.contain(
      'spec.secretProperties.s3.aws-secret-key: Secret team-c/lake-creds not found; create it with the key "secret"',
    );
    expect((await catalogStatusOf("lake"))?.usedBy).to.deep.equal([]);

    await cluster.client.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "lake-creds", namespace: "team-c" },
      data: { secret: "eA==" },
    });
    await eventually("Ready True once the Secret key exists", async () => (await ready("lake"))?.status === "True");

    await cluster.client.create(runtime("team-c", "by-name", { catalogs: { names: ["lake"] } }));
    await cluster.client.create(runtime("team-c", "by-label", { catalogs: { selector: { matchLabels: { tier: "gold" } } } }));
    await cluster.client.create(runtime("team-c", "neither"));
    await eventually(
      "usedBy both selecting runtimes",
      async () => JSON.stringify((await catalogStatusOf("lake"))?.usedBy) === JSON.stringify(["by-label", "by-name"]),
    );
    await cluster.client.delete({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-c", name: "by-name" });
    await eventually(
      "usedBy without the deleted runtime",
      async () => JSON.stringify((await catalogStatusOf("lake"))?.usedBy) === JSON.stringify(["by-label"]),
    );
    expect((await catalogStatusOf("lake"))?.observedGeneration).to.be.a("number");

    // The cluster-wide Secret watch leaves out Helm release records and service-account tokens.
    const secretRequests = cluster.server.requestLog.filter({ method: "GET", pathPrefix: "/api/v1/secrets" });
    expect(secretRequests.length).to.be.greaterThan(0);
    for (const request of secretRequests)
      expect(request.query.fieldSelector).to.equal("type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token");
  });

  it("suspend intent drains, and the requeue-after timer ends the drain without any other event", async () => {
    await cluster.client.create(runtime("team-b", "etl"));
    await eventually("etl Ready", async () => (await phaseOf(cluster.client, "team-b", "etl")) === "Ready");
    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-b", name: "etl" },
      { spec: { lifecycle: { suspended: true } } },
    );
    await eventually("route DRAINING", async () => (await routeOf(cluster.client, "team-b", "etl"))?.state === "DRAINING");
    await eventually("Suspended", async () => (await phaseOf(cluster.client, "team-b", "etl")) === "Suspended");
    expect((await routeOf(cluster.client, "team-b", "etl"))?.state).to.equal("PAUSED");
  });

  it("an event that changes nothing reconciles from the informer caches with zero writes and no owned-object lists", async () => {
    // Quiet first: nothing written by anyone for a while.
    await untilQuiet(() => cluster.server.requestLog.countWrites());
    const before = await successfulReconciles();
    cluster.server.requestLog.clear();
    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-a", name: "bi" },
      { metadata: { annotations: { "example.com/note": "unrelated" } } },
    );
    await eventually("the runtime to be reconciled", async () => (await successfulReconciles()) > before);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(cluster.server.requestLog.writes().map((e) => `${e.method} ${e.path}`)).to.deep.equal([
      "PATCH /apis/xtrinode.io/v1alpha1/namespaces/team-a/xtrinodes/bi",
    ]);
    const ownedLists = cluster.server.requestLog.filter({ method: "GET" }).filter((e) => e.query.labelSelector && !e.watch);
    expect(ownedLists).to.deep.equal([]);
    expect(
      cluster.server.requestLog.filter({
        method: "GET",
        pathPrefix: `/api/v1/namespaces/${gatewayNamespace}/configmaps/trino-gateway-routes`,
      }),
    ).to.deep.equal([]);
  });

  it("a no-op resync reads everything from the informer caches: 0 requests and 0 writes to the API server", async () => {
    const runtimes = (await cluster.client.list("xtrinode.io/v1alpha1", "XTrinode")).length;
    expect(runtimes).to.be.greaterThan(2);
    await untilQuiet(() => cluster.server.requestLog.filter().filter((e) => !e.watch).length);
    const before = await successfulReconciles();
    cluster.server.requestLog.clear();
    await operator.resync();
    await eventually("every runtime reconciled again", async () => (await successfulReconciles()) >= before + runtimes);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Left out: discovery of an API group the server does not serve (GET /apis/<group>/<version>):
    // the informers of kinds whose CRDs are not installed retry their list with backoff, at times
    // inside this window. That a reconcile reads such a kind as none without asking is
    // test/reconciler/cached-reader.test.ts's.
    const discovery = /^\/apis\/[^/]+\/[^/]+$/;
    const requests = cluster.server.requestLog.filter().filter((e) => !e.watch && !(e.status === 404 && discovery.test(e.path)));
    expect(requests.map((e) => `${e.method} ${e.path}`)).to.deep.equal([]);
    expect(cluster.server.requestLog.countWrites()).to.equal(0);
  });

  it("after dropped watches and a compacted history (410 Gone) the informers relist and keep reconciling", async () => {
    // Move the global resourceVersion past what the XTrinode watch has seen, then forget history:
    // the reconnecting watch asks for a version the server no longer has.
    await cluster.client.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "unrelated", namespace: "default" },
      data: { a: "b" },
    });
    cluster.server.requestLog.clear();
    cluster.server.compactHistory();
    cluster.server.dropWatches();
    await eventually("a relist of XTrinodes", () =>
      cluster.server.requestLog
        .filter({ method: "GET", pathPrefix: "/apis/xtrinode.io/v1alpha1/xtrinodes" })
        .some((e) => !e.watch && e.status === 200),
    );
    await cluster.client.create(runtime("team-b", "after-410"));
    await eventually("after-410 Ready", async () => (await phaseOf(cluster.client, "team-b", "after-410")) === "Ready");
  });

  it("serves /healthz and Prometheus metrics (reconcile outcomes, queue depth, objects applied)", async () => {
    const base = `http://127.0.0.1:${operator.healthPort}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).to.match(/xtrinode_operator_reconcile_total\{outcome="success"\} [1-9]/);
    expect(text).to.match(/xtrinode_operator_objects_applied_total\{kind="Deployment",verb="apply"\} [1-9]/);
    expect(text).to.contain("xtrinode_operator_workqueue_depth");
    expect(text).to.contain("xtrinode_operator_reconcile_duration_seconds_bucket");
  });
  // Last: it changes the policy for the rest of this operator's life.
  it("at a resync, deletes the namespace guardrails the reloaded policy no longer asks for", async () => {
    const quotas = () => cluster.client.list("v1", "ResourceQuota", "team-b", "xtrinode.io/guardrails");
    await eventually("the guardrail quota of team-b", async () => (await quotas()).length === 1);
    policy = { ...testPolicy, defaults: { ...testPolicy.defaults, quota: undefined } };
    await operator.resync();
    expect(await quotas()).to.deep.equal([]);
  });
});

describe("reconciler: controller start against a failing API", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  let operator: RunningOperator | undefined;
  after(async () => {
    await operator?.stop();
    await cluster?.close();
  });

  it("informers whose list fails retry with backoff and then reconcile", async () => {
    cluster = await startCluster();
    await cluster.client.create(runtime("team-a", "early"));
    cluster.server.faults.failNext(2, 500, { method: "GET", pathPrefix: "/apis/xtrinode.io/v1alpha1/xtrinodes" });
    operator = await startOperator({
      kubeConfig: cluster.kubeConfig,
      gatewayNamespace,
      policy: staticPolicy(),
      log: silentLogger(),
      leaderElection: false,
      resyncPeriodMs: 10 * 60_000,
    });
    await eventually(
      "early Ready after the informer recovered",
      async () => (await phaseOf(cluster.client, "team-a", "early")) === "Ready",
    );
    const failed = cluster.server.requestLog
      .filter({ method: "GET", pathPrefix: "/apis/xtrinode.io/v1alpha1/xtrinodes" })
      .filter((e) => e.status === 500);
    expect(failed).to.have.length(2);
  });
});
