// What the user sees when the cluster says no: an object the API server rejects (status
// ApplyRejected, nothing pruned), and a hostname or the default route another runtime already holds
// (condition RoutePublished=False RouteConflict, the holder keeps its route).
import { expect } from "chai";
import { buildRouteTable, selectTarget } from "../../gateway/route-table.ts";
import type { XTrinodePolicy } from "../../renderer/types.ts";
import { ownerLabel, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { reconcileRuntime } from "../../reconciler/reconcile.ts";
import { readRoutes } from "../../reconciler/routes-publisher.ts";
import {
  condition,
  events,
  gatewayNamespace,
  getRuntime,
  phaseOf,
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
} from "./support.ts";

const overlayPolicy: XTrinodePolicy = { ...testPolicy, defaults: { ...testPolicy.defaults, allowValuesOverlay: true } };

describe("reconciler: rejected applies and route conflicts", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  let clock: TestClock;

  beforeEach(async () => {
    cluster = await startCluster();
    clock = new TestClock();
  });
  afterEach(async () => {
    await cluster.close();
  });

  it("a 422 on the HPA after a KEDA → HPA switch: phase Error/ApplyRejected naming the object, the ScaledObject kept, no retries until fixed", async () => {
    const ctx = testContext(cluster, clock, staticPolicy(overlayPolicy));
    await cluster.client.create(
      runtime("team-a", "bi", {
        workers: { mode: "keda", min: 0, max: 4, keda: { queryPressure: { serverAddress: "http://prometheus:9090" } } },
      }),
    );
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    const list = async (apiVersion: string, kind: string) =>
      (await cluster.client.list(apiVersion, kind, "team-a", `${ownerLabel}=bi`)).map((o) => o.metadata!.name);
    expect(await list("keda.sh/v1alpha1", "ScaledObject")).to.deep.equal(["bi-trino-worker"]);

    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-a", name: "bi" },
      {
        spec: {
          workers: { mode: "fixed", count: 2, min: null, max: null, keda: null },
          valuesOverlay: { server: { autoscaling: { enabled: true, maxReplicas: 4 } } },
        },
      },
    );
    const generation = (await getRuntime(cluster.client, "team-a", "bi"))!.metadata!.generation;
    const hpas = "/apis/autoscaling/v2/namespaces/team-a/horizontalpodautoscalers";
    const invalid = 'HorizontalPodAutoscaler.autoscaling "bi-trino-worker" is invalid: spec.metrics: Required value';
    cluster.server.faults.add({ method: "PATCH", pathPrefix: hpas, status: 422, message: invalid, count: 100 });

    const first = await reconcileRuntime(ctx, "team-a", "bi");
    expect(first.phase).to.equal("Error");
    expect(first.requeueAfterMs).to.equal(undefined); // no retry loop of its own
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.phase).to.equal("Error");
    expect(status.observedGeneration).to.equal(generation);
    expect(status.message).to.contain("HorizontalPodAutoscaler team-a/bi-trino-worker").and.contain("HTTP 422").and.contain(invalid);
    expect(condition(status, "Ready")).to.include({ status: "False", reason: "ApplyRejected", message: status.message });
    // Nothing pruned: KEDA keeps scaling the workers while the HPA cannot be created.
    expect(await list("keda.sh/v1alpha1", "ScaledObject")).to.deep.equal(["bi-trino-worker"]);
    expect(cluster.server.requestLog.writes({ method: "DELETE" })).to.deep.equal([]);
    expect(await events(cluster, "team-a", "ApplyRejected")).to.have.length(1);

    // Passes while it stays rejected (resyncs, unrelated changes) write nothing and emit no new Event.
    cluster.server.requestLog.clear();
    const again = await reconcileRuntime(ctx, "team-a", "bi");
    expect(again).to.include({ phase: "Error", writes: 0 });
    expect(cluster.server.requestLog.writes().filter((w) => w.status < 400)).to.deep.equal([]);
    expect(await events(cluster, "team-a", "ApplyRejected")).to.have.length(1);

    // The API server accepts it again (fixed spec or webhook): the HPA is applied, then the ScaledObject pruned.
    cluster.server.faults.clear();
    cluster.server.requestLog.clear();
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    expect(await list("autoscaling/v2", "HorizontalPodAutoscaler")).to.deep.equal(["bi-trino-worker"]);
    expect(await list("keda.sh/v1alpha1", "ScaledObject")).to.deep.equal([]);
    const writes = cluster.server.requestLog.writes().map((w) => `${w.method} ${w.path}`);
    const hpaApplied = writes.indexOf(`PATCH ${hpas}/bi-trino-worker`);
    const scaledObjectDeleted = writes.indexOf("DELETE /apis/keda.sh/v1alpha1/namespaces/team-a/scaledobjects/bi-trino-worker");
    expect(hpaApplied).to.be.greaterThan(-1);
    expect(scaledObjectDeleted).to.be.greaterThan(hpaApplied);
    expect(condition(await statusOf(cluster, "team-a", "bi"), "Ready")).to.include({ status: "True" });
  });

  it("a 403 on a namespace guardrail names the object and the policy; a 500 stays a retried error", async () => {
    const ctx = testContext(cluster, clock);
    await cluster.client.create(runtime("team-a", "bi"));
    await reconcileRuntime(ctx, "team-a", "bi"); // Pending
    cluster.server.faults.add({
      method: "PATCH",
      pathPrefix: "/api/v1/namespaces/team-a/resourcequotas",
      status: 403,
      message: "resourcequotas is forbidden: denied by policy",
      count: 100,
    });
    const result = await reconcileRuntime(ctx, "team-a", "bi");
    expect(result.phase).to.equal("Error");
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.message).to.match(
      /^the API server rejected ResourceQuota team-a\/\S+: HTTP 403: resourcequotas is forbidden: denied by policy; fix the XTrinodePolicy/,
    );
    expect(condition(status, "Ready")).to.include({ reason: "ApplyRejected" });

    cluster.server.faults.clear();
    cluster.server.faults.add({ method: "PATCH", pathPrefix: "/api/v1/namespaces/team-a/resourcequotas", status: 500, count: 1 });
    let thrown: unknown;
    await reconcileRuntime(ctx, "team-a", "bi").catch((error) => (thrown = error));
    expect(thrown, "a server error is retried with backoff by the controller").to.be.instanceOf(Error);
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
  });

  it("a 500 on a new runtime's first apply (a typed patch error): phase Error ApplyFailed naming the object and the server's message, one Event, not left Pending; retried with back-off until it goes through", async () => {
    const ctx = testContext(cluster, clock);
    await cluster.client.create(runtime("team-a", "bi"));
    expect((await reconcileRuntime(ctx, "team-a", "bi")).phase).to.equal("Pending");
    const typed =
      "failed to create typed patch object (/v1, Kind=ResourceQuota) team-a/xtrinode-quota: .spec.hard.pods: expected string, got &value.valueUnstructured{Value:30}";
    cluster.server.faults.add({
      method: "PATCH",
      pathPrefix: "/api/v1/namespaces/team-a/resourcequotas",
      status: 500,
      message: typed,
      count: 100,
    });
    for (let pass = 0; pass < 2; pass++) {
      let thrown: unknown;
      await reconcileRuntime(ctx, "team-a", "bi").catch((error) => (thrown = error));
      expect(thrown, "retried with back-off by the controller").to.be.instanceOf(Error);
    }
    const status = await statusOf(cluster, "team-a", "bi");
    expect(status.phase).to.equal("Error");
    expect(status.message)
      .to.match(/^the API server failed to apply ResourceQuota team-a\/xtrinode-quota: HTTP 500: /)
      .and.contain(typed);
    expect(condition(status, "Ready")).to.include({ status: "False", reason: "ApplyFailed", message: status.message });
    const failed = await events(cluster, "team-a", "ApplyFailed");
    expect(failed).to.have.length(1);
    expect(failed[0].message).to.equal(status.message);
    cluster.server.faults.clear();
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
  });

  it("a kind the cluster does not serve (Prometheus Operator not installed): phase Error ApplyFailed saying what to install, one Event, retried", async () => {
    const ctx = testContext(cluster, clock);
    await cluster.client.delete({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name: "servicemonitors.monitoring.coreos.com",
    });
    await cluster.client.create(runtime("team-a", "watched", { monitoring: { serviceMonitor: true } }));
    expect((await reconcileRuntime(ctx, "team-a", "watched")).phase).to.equal("Pending");
    let thrown: unknown;
    await reconcileRuntime(ctx, "team-a", "watched").catch((error) => (thrown = error));
    expect(thrown, "retried with back-off").to.be.instanceOf(Error);
    const status = await statusOf(cluster, "team-a", "watched");
    expect(status.phase).to.equal("Error");
    expect(status.message)
      .to.contain("does not serve monitoring.coreos.com/v1 ServiceMonitor, needed for ServiceMonitor team-a/watched-trino")
      .and.contain("the Prometheus Operator, for spec.monitoring.serviceMonitor");
    expect(condition(status, "Ready")).to.include({ reason: "ApplyFailed" });
    expect(await events(cluster, "team-a", "ApplyFailed")).to.have.length(1);
  });

  it("a hostname or the default route already held by another namespace's runtime: first come keeps it, the second reports RouteConflict", async () => {
    const ctx = testContext(cluster, clock);
    const host = "bi.trino.example.com";
    await cluster.client.create(runtime("team-a", "bi", { route: { hostnames: [host], default: true } }));
    await reconcileTo(ctx, cluster, "team-a", "bi", "Ready");
    await cluster.client.create(
      runtime("team-b", "sneaky", { route: { hostnames: ["bi.trino.example.com", "sneaky.trino.example.com"], default: true } }),
    );
    for (let i = 0; i < 4; i++) {
      await reconcile(ctx, "team-b", "sneaky");
      await tick();
    }

    expect(await routeOf(cluster.client, "team-a", "bi")).to.deep.include({ hostnames: [host], default: true, state: "RUNNING" });
    const sneaky = await routeOf(cluster.client, "team-b", "sneaky");
    expect(sneaky).to.deep.include({ hostnames: ["sneaky.trino.example.com"], state: "RUNNING" }); // still reachable by header and its own hostname
    expect(sneaky).to.not.have.property("default");
    const table = buildRouteTable(await readRoutes(cluster.client, gatewayNamespace));
    const byHost = selectTarget(table, { hostname: host }) as { target?: { members: Array<{ namespace: string; name: string }> } };
    expect(byHost.target?.members.map((m) => `${m.namespace}/${m.name}`)).to.deep.equal(["team-a/bi"]);
    const byDefault = selectTarget(table, {}) as { target?: { members: Array<{ namespace: string; name: string }> } };
    expect(byDefault.target?.members.map((m) => `${m.namespace}/${m.name}`)).to.deep.equal(["team-a/bi"]);

    const status = await statusOf(cluster, "team-b", "sneaky");
    // It serves (by header and its own hostname): phase and Ready stay, which idle suspension needs.
    expect(status.phase).to.equal("Ready");
    expect(condition(status, "Ready")).to.include({ status: "True" });
    expect(condition(status, "RoutePublished")).to.include({ status: "False", reason: "RouteConflict" });
    expect(status.message).to.contain(
      `hostname "bi.trino.example.com" is already routed to team-a/bi: remove it from spec.route.hostnames`,
    );
    expect(status.message).to.contain("team-a/bi is already the default route: set spec.route.default to false");
    expect(await events(cluster, "team-b", "RouteConflict")).to.have.length(1);
    expect(await phaseOf(cluster.client, "team-a", "bi")).to.equal("Ready");

    // Steady state: no writes while the conflict lasts; it is looked at again periodically.
    cluster.server.requestLog.clear();
    const again = await reconcile(ctx, "team-b", "sneaky");
    expect(again.writes).to.equal(0);
    expect(again.requeueAfterMs).to.be.a("number");
    expect(cluster.server.requestLog.writes()).to.deep.equal([]);

    // The owner reconciles unchanged and keeps everything.
    await reconcile(ctx, "team-a", "bi");
    expect(await routeOf(cluster.client, "team-a", "bi")).to.deep.include({ hostnames: [host], default: true });

    // Once the owner lets go, the other runtime gets the claims.
    await cluster.client.mergePatch(
      { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace: "team-a", name: "bi" },
      { spec: { route: { hostnames: ["bi-a.trino.example.com"], default: false } } },
    );
    await reconcile(ctx, "team-a", "bi");
    await reconcileTo(ctx, cluster, "team-b", "sneaky", "Ready");
    expect(await routeOf(cluster.client, "team-b", "sneaky")).to.deep.include({
      hostnames: ["bi.trino.example.com", "sneaky.trino.example.com"],
      default: true,
    });
    expect(condition(await statusOf(cluster, "team-b", "sneaky"), "RoutePublished")).to.include({ status: "True" });
  });

  it("a routes document that already has a double claim (written before the check) converges: the runtime created first keeps it", async () => {
    const ctx = testContext(cluster, clock);
    const host = "shared.trino.example.com";
    await cluster.client.create(runtime("team-a", "first", { route: { hostnames: [host] } }));
    await reconcileTo(ctx, cluster, "team-a", "first", "Ready");
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a later creationTimestamp (seconds)
    await cluster.client.create(runtime("team-b", "second", { route: { hostnames: [host] } }));
    await reconcileTo(ctx, cluster, "team-b", "second", "Ready");
    // Forge the old state: the second runtime's entry also claims the hostname.
    const configMap = (await cluster.client.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: gatewayNamespace,
      name: routesConfigMapName,
    }))!;
    const data = configMap.data as Record<string, string>;
    const forged = data[routesDataKey].replace(/(name: second\n(?:.*\n)*?\s+namespace: team-b\n)/, `$1    hostnames:\n      - ${host}\n`);
    expect(forged, "forged a double claim").to.not.equal(data[routesDataKey]);
    await cluster.client.replace({ ...configMap, data: { ...data, [routesDataKey]: forged } });
    expect((await routeOf(cluster.client, "team-b", "second"))?.hostnames).to.deep.equal([host]);

    // Reconciled in either order, the older runtime keeps the hostname and the newer one yields.
    await reconcile(ctx, "team-a", "first");
    await reconcile(ctx, "team-b", "second");
    await reconcile(ctx, "team-a", "first");
    expect((await routeOf(cluster.client, "team-a", "first"))?.hostnames).to.deep.equal([host]);
    expect(await routeOf(cluster.client, "team-b", "second")).to.not.have.property("hostnames");
    expect(await phaseOf(cluster.client, "team-a", "first")).to.equal("Ready");
    expect(condition(await statusOf(cluster, "team-b", "second"), "RoutePublished")).to.include({ reason: "RouteConflict" });
  });
});
