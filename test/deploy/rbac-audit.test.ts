// The RBAC in deploy/ is enough, and only just enough, for what the components really do: each
// component runs its real code against the Kubernetes API test server, and every request in the
// server's request log must be allowed by the rules deploy/ binds to that component's ServiceAccount.
// (The static tests in rbac.test.ts cover what a scenario this short cannot reach, e.g. pruning.)
import { expect } from "chai";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { loadCrdFiles, startKubeApiServer, type KubeApiTestServer, type RequestLogEntry } from "../../fixtures/kube-api-server/index.ts";
import { testToken } from "../../fixtures/kube-api-server/kubeconfig.ts";
import { startApiServer } from "../../apiserver/start.ts";
import type { GatewayConfig } from "../../gateway/config.ts";
import { configMapRoutesSource } from "../../gateway/routes-source.ts";
import { startGateway } from "../../gateway/server.ts";
import { silentLogger } from "../../lib/logger.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";
import { operatorNamespace } from "../../reconciler/constants.ts";
import { createClusterClient } from "../../reconciler/kube-client.ts";
import { startOperator } from "../../reconciler/operator.ts";
import { configMapPolicySource } from "../../reconciler/policy.ts";
import { defaultInstallDir, deployDir, objectsOf, repoRoot } from "./layout.ts";
import type { KubeObject } from "./kustomize.ts";
import { allows, requestAttributes, rulesFor } from "./rbac.ts";
import { eventually } from "../support/eventually.ts";

const pollMarker = "audit-poll";

function serviceAccountRules(command: string) {
  const objects = objectsOf(defaultInstallDir);
  const deployment = objects.find((o) => o.kind === "Deployment" && o.spec.template.spec.containers[0].args[0] === command)!;
  return rulesFor(objects, deployment.metadata.namespace, deployment.spec.template.spec.serviceAccountName);
}

/** Requests of the log that the component's RBAC does not allow (discovery and the test's own polls excluded). */
function denied(entries: RequestLogEntry[], command: string): string[] {
  const rules = serviceAccountRules(command);
  return entries
    .filter((entry) => entry.query.audit !== pollMarker)
    .flatMap((entry) => requestAttributes(entry) ?? [])
    .filter((request) => !allows(rules, request))
    .map(
      (request) =>
        `${request.verb} ${request.group || "core"}/${request.resource}${request.namespace ? ` in ${request.namespace}` : ""}${request.name ? ` name=${request.name}` : ""}`,
    )
    .filter((line, index, all) => all.indexOf(line) === index);
}

function xtrinodeCrds(): Record<string, unknown>[] {
  const crdDir = path.join(deployDir, "crds");
  const files = readdirSync(crdDir)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => path.join(crdDir, name));
  expect(files, "deploy/crds/ holds the generated CRDs").to.not.be.empty;
  return loadCrdFiles(files) as Record<string, unknown>[];
}

function exampleSpecs(): KubeObject[] {
  return ["catalogs.yaml", "runtimes.yaml"].flatMap(
    (file) => yaml.loadAll(readFileSync(path.join(repoRoot, "examples/specs", file), "utf8")) as KubeObject[],
  );
}

/** GET through plain fetch, marked so the audit can tell the test's own reads from the component's. */
async function adminGet(kube: KubeApiTestServer, apiPath: string): Promise<any> {
  const response = await fetch(`${kube.url}${apiPath}?audit=${pollMarker}`, { headers: { authorization: `Bearer ${testToken}` } });
  return response.json();
}

/** Waits until the request log has been quiet for a while: watch streams are logged when they close. */
async function logSettled(kube: KubeApiTestServer, quietMs = 200): Promise<void> {
  let seen = -1;
  while (seen !== kube.requestLog.entries.length) {
    seen = kube.requestLog.entries.length;
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

describe("deploy/ RBAC against the components' real Kubernetes requests", function () {
  this.timeout(30_000);
  let kube: KubeApiTestServer;
  let runtimes: KubeObject[];

  before(async () => {
    kube = await startKubeApiServer({ sim: { deploymentReadyDelayMs: 0 } });
    kube.registerCrds(xtrinodeCrds() as never);
    kube.registerThirdPartyCrds();
    const admin = KubernetesObjectApi.makeApiClient(kube.kubeConfig());
    // What `kubectl apply -k deploy/` would create that the components read: namespaces and ConfigMaps.
    const installed = objectsOf(defaultInstallDir).filter((o) => o.kind === "Namespace" || o.kind === "ConfigMap");
    const specs = exampleSpecs();
    runtimes = specs.filter((o) => o.kind === "XTrinode");
    const teamNamespaces = [...new Set(specs.map((o) => o.metadata.namespace as string))];
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "warehouse-db", namespace: teamNamespaces[0] },
      stringData: { username: "u", password: "p" },
    };
    for (const object of [
      ...installed,
      ...teamNamespaces.map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })),
      secret,
      ...specs,
    ]) {
      await admin.create(object as KubernetesObject);
    }
    kube.requestLog.clear();
  });

  after(async () => {
    await kube?.close();
  });

  it("operator: leader election, informers, reconciling the example runtimes to Ready, routes and status", async () => {
    const kubeConfig = kube.kubeConfig();
    const operator = await startOperator({
      kubeConfig,
      gatewayNamespace: defaultGatewayNamespace,
      policy: configMapPolicySource(createClusterClient(kubeConfig), operatorNamespace),
      log: silentLogger(),
      leaderElection: { namespace: operatorNamespace, identity: "audit", leaseDurationMs: 15_000, retryPeriodMs: 100 },
      resyncPeriodMs: 60_000,
    });
    try {
      await eventually("every example runtime Ready", async () => {
        const list = await adminGet(kube, "/apis/xtrinode.io/v1alpha1/xtrinodes");
        return list.items.length === runtimes.length && list.items.every((item: KubeObject) => item.status?.phase === "Ready");
      });
      const routes = await adminGet(kube, `/api/v1/namespaces/${defaultGatewayNamespace}/configmaps/trino-gateway-routes`);
      expect((yaml.load(routes.data["routes.yaml"]) as { routes: unknown[] }).routes).to.have.length(runtimes.length);
    } finally {
      await operator.stop();
      // reconciler/leader.ts: a campaign round in flight during stop() can take the lease back; stop again.
      if (operator.isLeader()) await operator.stop();
    }
    expect(operator.isLeader(), "the operator stopped leading").to.equal(false);
    await logSettled(kube);
    const entries = kube.requestLog.entries.filter((entry) => entry.query.audit !== pollMarker);
    expect(
      entries.some((entry) => entry.method === "PATCH"),
      "the operator applied objects",
    ).to.equal(true);
    expect(denied(kube.requestLog.entries, "operator")).to.deep.equal([]);
    kube.requestLog.clear();
  });

  it("API server: TokenReview, status reads, suspend, Lease-gated resume and activity", async () => {
    kube.addToken("gateway-token", { username: "system:serviceaccount:xtrinode-gateway:xtrinode-gateway" });
    kube.addToken("admin-token", { username: "alice", groups: ["xtrinode-admins"] });
    const server = await startApiServer({
      port: 0,
      host: "127.0.0.1",
      kubeConfig: kube.kubeConfig(),
      identity: "audit",
      logger: silentLogger(),
    });
    const [namespace, name] = [runtimes[0].metadata.namespace, runtimes[0].metadata.name];
    const call = async (method: string, url: string, token: string, body?: unknown) => {
      const response = await fetch(`${server.url}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await response.arrayBuffer();
      return response.status;
    };
    try {
      expect(await call("GET", "/v1/runtimes", "admin-token")).to.equal(200);
      expect(await call("GET", `/v1/runtimes/${namespace}/${name}`, "gateway-token")).to.equal(200);
      // The console's runtime view: catalogs and Events of the namespace.
      expect(await call("GET", `/v1/runtimes/${namespace}/${name}/details`, "admin-token")).to.equal(200);
      expect(await call("POST", `/v1/runtimes/${namespace}/${name}/suspend`, "admin-token")).to.be.oneOf([200, 202]);
      expect(await call("POST", `/v1/runtimes/${namespace}/${name}/resume`, "gateway-token")).to.be.oneOf([200, 202]);
      expect(await call("POST", `/v1/runtimes/${namespace}/${name}/activity`, "gateway-token", { at: new Date().toISOString() })).to.equal(
        204,
      );
      expect(await call("GET", "/readyz", "")).to.equal(200);
    } finally {
      await server.close();
    }
    await logSettled(kube);
    const entries = kube.requestLog.entries;
    expect(
      entries.some((entry) => entry.path.includes("/tokenreviews")),
      "tokens were reviewed by the cluster",
    ).to.equal(true);
    expect(
      entries.some((entry) => entry.path.includes("/leases")),
      "the resume Lease was used",
    ).to.equal(true);
    expect(
      entries.some((entry) => entry.path.includes("/events")),
      "the runtime's Events were read",
    ).to.equal(true);
    expect(denied(entries, "apiserver")).to.deep.equal([]);
    kube.requestLog.clear();
  });

  it("gateway: watching the routes ConfigMap until ready, with the install's gateway config", async () => {
    const configMap = objectsOf(defaultInstallDir).find((o) => o.kind === "ConfigMap" && o.metadata.name === "xtrinode-gateway-config")!;
    const gateway = await startGateway({
      routesSource: configMapRoutesSource(kube.kubeConfig(), defaultGatewayNamespace, silentLogger()),
      config: yaml.load(configMap.data["gateway.yaml"]) as GatewayConfig,
      port: 0,
      host: "127.0.0.1",
      logger: silentLogger(),
    });
    try {
      // Ready means it loaded the routes the operator published above.
      await eventually("the gateway ready", async () => (await fetch(`${gateway.url}/readyz`)).status === 200);
    } finally {
      await gateway.close();
    }
    await logSettled(kube);
    expect(
      kube.requestLog.entries.some((entry) => entry.watch),
      "the gateway watched",
    ).to.equal(true);
    expect(denied(kube.requestLog.entries, "gateway")).to.deep.equal([]);
  });
});
