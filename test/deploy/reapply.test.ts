// Upgrading the install = applying it again (`kubectl apply --server-side -k deploy/overlays/example`,
// field manager "kubectl", no --force-conflicts) after the operator has written the routes
// ConfigMap. Against the Kubernetes API test server, whose server-side apply reports conflicts with
// other managers like a real server (checked here too: the old layout, which shipped
// data["routes.yaml"], conflicts exactly as reported on a real cluster).
import { expect } from "chai";
import { ApiException, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { startKubeApiServer, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import { defaultGatewayNamespace, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { createClusterClient } from "../../reconciler/kube-client.ts";
import { parseRoutes, serializeRoutes, emptyRoutes, upsertRoute } from "../../reconciler/routes.ts";
import { updateRoutes } from "../../reconciler/routes-publisher.ts";
import { exampleOverlayDir, objectLabel, objectsOf } from "./layout.ts";
import type { KubeObject } from "./kustomize.ts";

/** kubectl applies Namespaces and CRDs before the objects that need them. */
function kubectlOrder(objects: KubeObject[]): KubeObject[] {
  const rank = (o: KubeObject) => (o.kind === "Namespace" ? 0 : o.kind === "CustomResourceDefinition" ? 1 : 2);
  return [...objects].sort((a, b) => rank(a) - rank(b));
}

describe("install re-apply (upgrade)", function () {
  this.timeout(30_000);
  let server: KubeApiTestServer;
  let client: KubernetesObjectApi;

  beforeEach(async () => {
    server = await startKubeApiServer({ sim: { workloads: false } });
    client = KubernetesObjectApi.makeApiClient(server.kubeConfig());
  });
  afterEach(async () => {
    await server?.close();
  });

  /** `kubectl apply --server-side`: every object, the failures as kubectl prints them (exit code 1 when any). */
  async function kubectlApply(objects: KubeObject[]): Promise<string[]> {
    const failures: string[] = [];
    for (const object of kubectlOrder(objects)) {
      try {
        await client.patch(object as KubernetesObject, undefined, undefined, "kubectl", false, PatchStrategy.ServerSideApply);
      } catch (error) {
        const body = error instanceof ApiException ? JSON.parse(String(error.body)) : { message: String(error) };
        failures.push(`${objectLabel(object)}: ${body.message}`);
      }
    }
    return failures;
  }

  /** The operator publishing a runtime's route, as it does (update with resourceVersion, its field manager). */
  async function operatorPublishesRoute(): Promise<void> {
    const operator = createClusterClient(server.kubeConfig());
    const entry = { name: "bi", namespace: "team-a", backend: "http://bi-trino.team-a.svc.cluster.local:8080", state: "RUNNING" as const };
    await updateRoutes(operator, { namespace: defaultGatewayNamespace }, (doc) => upsertRoute(doc, entry));
  }

  async function routesConfigMap(): Promise<KubeObject> {
    return (await client.read({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: routesConfigMapName, namespace: defaultGatewayNamespace },
    })) as KubeObject;
  }

  it("re-applying the example overlay after the operator wrote the routes succeeds and keeps them", async () => {
    const install = objectsOf(exampleOverlayDir);
    expect(await kubectlApply(install)).to.deep.equal([]);
    await operatorPublishesRoute();
    expect(await kubectlApply(install), "the upgrade re-apply (kubectl would exit 0)").to.deep.equal([]);
    const routes = await routesConfigMap();
    expect(parseRoutes(routes.data[routesDataKey]).routes.map((r) => r.name)).to.deep.equal(["bi"]);
    const owners = (routes.metadata.managedFields as Array<{ manager: string; fieldsV1: { "f:data"?: object } }>)
      .filter((m) => m.fieldsV1["f:data"])
      .map((m) => m.manager);
    expect(owners).to.deep.equal(["xtrinode-operator"]);
  });

  it('the old layout (the install carrying data["routes.yaml"]) conflicts on the re-apply like a real server', async () => {
    const oldLayout = objectsOf(exampleOverlayDir).map((o) =>
      o.kind === "ConfigMap" && o.metadata.name === routesConfigMapName
        ? { ...o, data: { [routesDataKey]: serializeRoutes(emptyRoutes()) } }
        : o,
    );
    expect(await kubectlApply(oldLayout)).to.deep.equal([]);
    await operatorPublishesRoute();
    const failures = await kubectlApply(oldLayout);
    expect(failures).to.have.length(1);
    expect(failures[0])
      .to.contain(
        `ConfigMap ${defaultGatewayNamespace}/${routesConfigMapName}: Apply failed with 1 conflict: conflict with "xtrinode-operator"`,
      )
      .and.contain(".data.routes.yaml");
  });

  it("every install Service port names its protocol (server-side apply on older servers refuses a port without one)", () => {
    const ports = objectsOf(exampleOverlayDir)
      .filter((o) => o.kind === "Service")
      .flatMap((o) =>
        (o.spec.ports as Array<{ name?: string; protocol?: string }>).map(
          (p) => `${objectLabel(o)} ${p.name ?? "?"}: ${p.protocol ?? "no protocol"}`,
        ),
      );
    expect(ports.length).to.be.greaterThan(0);
    expect(ports.filter((p) => !p.endsWith(": TCP"))).to.deep.equal([]);
  });
});
