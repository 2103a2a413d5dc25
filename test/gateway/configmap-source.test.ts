// Routes from the trino-gateway-routes ConfigMap through @kubernetes/client-node (against the
// Kubernetes API test server): applied on change, last-good kept on invalid YAML or no entries.
import { expect } from "chai";
import { CoreV1Api } from "@kubernetes/client-node";
import yaml from "js-yaml";
import { startKubeApiServer, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import { silentLogger } from "../../lib/logger.ts";
import { configMapRoutesSource } from "../../gateway/routes-source.ts";
import { defaultGatewayNamespace, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { startGateway, type RunningGateway } from "../../gateway/server.ts";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { eventually } from "../support/eventually.ts";

const namespace = defaultGatewayNamespace;
const routesYaml = (routes: RouteEntry[]) => yaml.dump({ apiVersion: "xtrinode.io/v1alpha1", kind: "GatewayRoutes", routes });
const entry = (name: string): RouteEntry => ({ namespace: "team-a", name, backend: "http://127.0.0.1:9", state: "PAUSED" });

describe("gateway routes from the ConfigMap", function () {
  this.timeout(30_000);
  let kube: KubeApiTestServer;
  let core: CoreV1Api;
  let gateway: RunningGateway;

  const writeRoutes = (text: string) =>
    core.replaceNamespacedConfigMap({
      name: routesConfigMapName,
      namespace,
      body: { metadata: { name: routesConfigMapName, namespace }, data: { [routesDataKey]: text } },
    });

  before(async () => {
    kube = await startKubeApiServer({ sim: { workloads: false } });
    core = kube.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: routesConfigMapName, namespace }, data: { [routesDataKey]: routesYaml([entry("a")]) } },
    });
    gateway = await startGateway({
      routesSource: configMapRoutesSource(kube.kubeConfig(), namespace, silentLogger()),
      logger: silentLogger(),
      env: {},
    });
  });
  after(async () => {
    await gateway?.close();
    await kube?.close();
  });

  it("applies the ConfigMap, its valid updates, and keeps last-good on invalid ones", async () => {
    await eventually("the initial routes", () => gateway.core.routes.table.byKey.has("team-a/a"));
    await writeRoutes(routesYaml([entry("a"), entry("b")]));
    await eventually("the valid update", () => gateway.core.routes.table.byKey.has("team-a/b"));
    await writeRoutes("routes: [ {{ not yaml");
    await eventually("the invalid YAML to be rejected", () => gateway.core.routes.invalidUpdates === 1);
    await writeRoutes(routesYaml([]));
    await eventually("the empty routes to be rejected", () => gateway.core.routes.invalidUpdates === 2);
    expect([...gateway.core.routes.table.byKey.keys()]).to.deep.equal(["team-a/a", "team-a/b"]);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).to.match(/^xtrinode_gateway_routes_invalid_updates 2$/m);
    expect(metrics).to.match(/^xtrinode_gateway_routes_generation 2$/m);
  });
});
