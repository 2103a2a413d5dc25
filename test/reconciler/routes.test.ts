// Concurrent writers of the trino-gateway-routes ConfigMap: optimistic concurrency must lose nothing.
import { expect } from "chai";
import yaml from "js-yaml";
import { routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { createClusterClient } from "../../reconciler/kube-client.ts";
import { upsertRoute } from "../../reconciler/routes.ts";
import { readRoutes, updateRoutes } from "../../reconciler/routes-publisher.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import { gatewayNamespace, reconcile, routeOf, runtime, startCluster, testContext, type Cluster } from "./support.ts";

describe("reconciler: gateway routes ConfigMap under concurrent writers", function () {
  this.timeout(30_000);
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await startCluster();
  });
  afterEach(async () => {
    await cluster.close();
  });

  it("20 writers racing from a missing ConfigMap each keep their entry (AlreadyExists and 409 Conflict retried)", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `rt-${String(i).padStart(2, "0")}`);
    await Promise.all(
      names.map((name) => {
        const client = createClusterClient(cluster.kubeConfig); // one client per writer, like separate workers
        return updateRoutes(client, { namespace: gatewayNamespace }, (doc) =>
          upsertRoute(doc, { name, namespace: "team-a", backend: `http://${name}-trino.team-a.svc.cluster.local:8080`, state: "RUNNING" }),
        );
      }),
    );
    const doc = await readRoutes(cluster.client, gatewayNamespace);
    expect(doc.routes.map((r) => r.name)).to.deep.equal(names);
    const conflicts = cluster.server.requestLog
      .filter({ pathPrefix: `/api/v1/namespaces/${gatewayNamespace}/configmaps` })
      .filter((e) => e.status === 409);
    expect(conflicts.length).to.be.greaterThan(0); // the race really happened
    const configMap = await cluster.client.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: gatewayNamespace,
      name: routesConfigMapName,
    });
    expect(validateAgainstSchema("GatewayRoutes", yaml.load((configMap!.data as Record<string, string>)[routesDataKey]))).to.deep.equal([]);
  });

  it("20 runtimes reconciled at once all publish their route", async () => {
    const ctx = testContext(cluster);
    const names = Array.from({ length: 20 }, (_, i) => `rt-${i}`);
    for (const name of names) await cluster.client.create(runtime(name.endsWith("0") ? "team-b" : "team-a", name));
    await Promise.all(names.map((name) => reconcile(ctx, name.endsWith("0") ? "team-b" : "team-a", name)));
    for (const name of names)
      expect(await routeOf(cluster.client, name.endsWith("0") ? "team-b" : "team-a", name), name).to.not.equal(undefined);
    const doc = await readRoutes(cluster.client, gatewayNamespace);
    expect(doc.routes).to.have.length(20);
    const order = doc.routes.map((r) => `${r.namespace}/${r.name}`);
    expect(order).to.deep.equal([...order].sort((a, b) => a.localeCompare(b)));
  });
});
