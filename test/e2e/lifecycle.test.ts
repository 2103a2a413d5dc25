// End to end, with every part real: the Kubernetes API test server as control plane (controller
// simulation), the operator, the lifecycle API server and the gateway as child processes, Trino
// protocol test servers as coordinators, and the real `trino-client` package as the user.
// One story, in order: apply → Ready/RUNNING → query by hostname and header → idle → DRAINING →
// PAUSED/Suspended → 100 concurrent queries → exactly one resume → worker modes fixed → KEDA → HPA
// → catalog change rolls only its runtimes → delete → route REMOVED and owned objects gone.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { BasicAuth, Trino } from "trino-client";
import type { KubernetesObject } from "@kubernetes/client-node";
import { startLocalStack, type LocalStack } from "../../fixtures/local-stack/index.ts";
import { heldCoordinatorId } from "../../gateway/query-id.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import { AutoscalerHistory, RouteHistory, coordinatorOfQuery, metricSum, runQuery } from "./support.ts";
import { eventually } from "../support/eventually.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";

const ns = "e2e";
const group = "xtrinode.io/v1alpha1";
const workerDeployment = "alpha-trino-worker";
const alphaHost = "localhost"; // a hostname that maps to 127.0.0.1 everywhere, so trino-client can follow nextUri
const betaHost = "beta.e2e.test";

function catalog(name: string, connector: string, properties: Record<string, string>): KubernetesObject {
  return {
    apiVersion: group,
    kind: "XTrinodeCatalog",
    metadata: { name, namespace: ns },
    spec: { connector, properties },
  } as KubernetesObject;
}

function runtime(name: string, spec: Record<string, unknown>): KubernetesObject {
  return { apiVersion: group, kind: "XTrinode", metadata: { name, namespace: ns }, spec } as KubernetesObject;
}

const alphaBase = { catalogs: { names: ["tpch", "sales"] }, route: { hostnames: [alphaHost] } };
const fixedWorkers = { mode: "fixed", count: 1 };

/** POST /v1/statement with a chosen Host header (fetch cannot set Host); the first QueryResults page. */
function postWithHost(gatewayUrl: string, host: string, sql: string): Promise<{ id: string }> {
  const url = new URL(gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: "/v1/statement", method: "POST", headers: { Host: host, "X-Trino-User": "e2e" } },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      },
    );
    req.on("error", reject);
    req.end(sql);
  });
}

describe("end to end: local stack (real processes, trino-client)", function () {
  this.timeout(30_000);
  let stack: LocalStack;
  let client: ClusterClient;
  let routes: RouteHistory;
  let autoscalers: AutoscalerHistory;
  let policyDir: string;
  let operatorMetricsUrl: string;

  const phase = async (name: string) =>
    ((await client.get({ apiVersion: group, kind: "XTrinode", namespace: ns, name })) as { status?: { phase?: string } } | undefined)
      ?.status?.phase;
  const deployment = (name: string) =>
    client.get({ apiVersion: "apps/v1", kind: "Deployment", namespace: ns, name }) as Promise<
      { metadata: { resourceVersion: string }; spec: { template: { metadata: { annotations?: Record<string, string> } } } } | undefined
    >;
  const catalogChecksum = async (name: string) => (await deployment(name))?.spec.template.metadata.annotations?.["checksum/catalog-config"];
  const byHeader = (target: string) =>
    Trino.create({ server: stack.gatewayUrl, auth: new BasicAuth("e2e"), extraHeaders: { "X-Trino-XTrinode": target } });

  before(async function () {
    this.timeout(60_000);
    policyDir = mkdtempSync(path.join(tmpdir(), "xtrinode-e2e-"));
    const policyFile = path.join(policyDir, "policy.yaml");
    writeFileSync(
      policyFile,
      yaml.dump({ apiVersion: group, kind: "XTrinodePolicy", namespaces: { [ns]: { allowValuesOverlay: true, maxWorkers: 10 } } }),
    );
    stack = await startLocalStack({
      specs: [],
      policyFile,
      namespaces: [ns],
      deploymentReadyDelayMs: 500,
      drainPeriod: "2s",
      resyncPeriod: "10s",
      retryAfterSeconds: 1,
      activityMinIntervalSeconds: 1,
      gatewayConfig: {
        health: { intervalMs: 200, timeoutMs: 500, failureThreshold: 2, ejectionBaseMs: 200, ejectionMaxMs: 1000 },
        held: { pollWaitMs: 200 },
      },
      logLevel: "info",
    });
    client = createClusterClient(stack.kubeConfig);
    operatorMetricsUrl = `http://127.0.0.1:${stack.operator.readyLine.metricsPort}`;
    routes = new RouteHistory(stack.kubeConfig, defaultGatewayNamespace);
    await routes.start();
    autoscalers = new AutoscalerHistory(stack.kubeConfig, ns);
    await autoscalers.start();
  });

  after(async function () {
    this.timeout(30_000);
    routes?.stop();
    autoscalers?.stop();
    await stack?.stop();
    if (policyDir) rmSync(policyDir, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed")
      console.error(`logs of the failed step: ${stack.logDir} (operator.log, apiserver.log, gateway.log)`);
  });

  it("applies catalogs and two XTrinodes: phase Ready, routes RUNNING, coordinators up", async () => {
    await stack.apply(catalog("tpch", "tpch", { "tpch.splits-per-node": "4" }));
    await stack.apply(catalog("sales", "memory", { "memory.max-data-per-node": "64MB" }));
    await stack.apply(runtime("alpha", { ...alphaBase, workers: fixedWorkers, lifecycle: { wakeTTL: "5s" } }));
    await stack.apply(runtime("beta", { workers: fixedWorkers, catalogs: { names: ["tpch"] }, route: { hostnames: [betaHost] } }));
    for (const name of ["alpha", "beta"]) {
      await eventually(`${ns}/${name} phase Ready`, async () => (await phase(name)) === "Ready", {
        timeoutMs: 15_000,
        describe: () => phase(name),
      });
      await eventually(`${ns}/${name} route RUNNING`, () => routes.current(ns, name)?.state === "RUNNING", {
        timeoutMs: 10_000,
        describe: () => routes.states(ns, name),
      });
      await eventually(`${ns}/${name} coordinator test server running`, async () => (await stack.coordinators.state(ns, name)).running);
    }
  });

  it("routes trino-client queries by hostname and by X-Trino-XTrinode header to the right coordinator", async () => {
    const alpha = (await stack.coordinators.state(ns, "alpha")).coordinatorId!;
    const beta = (await stack.coordinators.state(ns, "beta")).coordinatorId!;
    expect(alpha).to.be.a("string").and.not.equal(beta);

    // Hostname: trino-client talks to http://localhost:<port>, i.e. Host: localhost → alpha.
    const gatewayPort = new URL(stack.gatewayUrl).port;
    const byHost = await eventually(
      "a query by hostname to finish",
      async () => {
        const outcome = await runQuery(
          Trino.create({ server: `http://${alphaHost}:${gatewayPort}`, auth: new BasicAuth("e2e") }),
          "SELECT 7",
        );
        return outcome.state === "FINISHED" ? outcome : undefined;
      },
      10_000,
    );
    expect(byHost.rows).to.deep.equal([[7]]);
    expect(coordinatorOfQuery(byHost.id)).to.equal(alpha);
    // Another runtime's hostname goes to that runtime (waiting, like the query above, until this gateway has seen
    // beta RUNNING with a healthy backend; before that it holds the statement under a gateway id).
    const byBetaHost = await eventually(
      "a statement by beta's hostname answered by a coordinator",
      async () => {
        const id = (await postWithHost(stack.gatewayUrl, betaHost, "SELECT 1")).id;
        return coordinatorOfQuery(id) === heldCoordinatorId ? undefined : id;
      },
      10_000,
    );
    expect(coordinatorOfQuery(byBetaHost)).to.equal(beta);

    const byName = await runQuery(byHeader(`${ns}/beta`), "SELECT * FROM xt_rows(2500)");
    expect(byName.state).to.equal("FINISHED");
    expect(byName.rows).to.have.length(2500); // several pages, every follow-up sticky through the gateway
    expect(coordinatorOfQuery(byName.id)).to.equal(beta);
    const byShortName = await runQuery(byHeader("alpha"), "SELECT 3");
    expect(byShortName.rows).to.deep.equal([[3]]);
    expect(coordinatorOfQuery(byShortName.id)).to.equal(alpha);
  });

  it("idles past the wake TTL: route DRAINING then PAUSED, phase Suspended, coordinator stopped", async () => {
    const from = routes.versions.length - 1;
    await eventually("alpha route PAUSED after its wake TTL", () => routes.current(ns, "alpha")?.state === "PAUSED", {
      timeoutMs: 20_000,
      describe: () => routes.states(ns, "alpha", from),
    });
    // RUNNING (unless a slow previous step already let it start draining) → DRAINING → PAUSED.
    const states = routes.states(ns, "alpha", from);
    expect(states.slice(-2), states.join(" → ")).to.deep.equal(["DRAINING", "PAUSED"]);
    expect(
      routes
        .states(ns, "alpha")
        .filter((state) => state === "RUNNING" || state === "DRAINING" || state === "PAUSED")
        .slice(-3),
    ).to.deep.equal(["RUNNING", "DRAINING", "PAUSED"]);
    await eventually("alpha phase Suspended", async () => (await phase("alpha")) === "Suspended", {
      timeoutMs: 10_000,
      describe: () => phase("alpha"),
    });
    await eventually("alpha coordinator test server stopped", async () => !(await stack.coordinators.state(ns, "alpha")).running, 10_000);
    const coordinator = (await deployment("alpha-trino-coordinator")) as unknown as { spec: { replicas?: number } };
    expect(coordinator.spec.replicas).to.equal(0);
    // beta has no wake TTL: untouched.
    expect(routes.current(ns, "beta")?.state).to.equal("RUNNING");
    expect((await stack.coordinators.state(ns, "beta")).running).to.equal(true);
  });

  it("100 concurrent trino-client queries to the paused runtime: exactly one resume, all succeed", async function () {
    this.timeout(45_000);
    // Resume Leases live in xtrinode-system, next to the operator's leader-election Lease (renewed by
    // PUT; created before this test): creates there, and updates of resume Leases.
    const leases = "/apis/coordination.k8s.io/v1/namespaces/xtrinode-system/leases";
    const isResumeLeaseWrite = (entry: { method: string; path: string }) =>
      (entry.method === "POST" && entry.path === leases) ||
      (entry.method === "PUT" && entry.path.startsWith(`${leases}/xtrinode-resume.${ns}.`));
    // Successful Lease creates/updates (a racing create that lost with 409 acquired nothing).
    const leaseWrites = () => stack.kube.requestLog.entries.filter((entry) => isResumeLeaseWrite(entry) && entry.status < 300).length;
    const before = {
      leaseWrites: leaseWrites(),
      won: await metricSum(stack.apiServerUrl, "xtrinode_apiserver_lease_acquisitions_total", { result: "won" }),
      accepted: await metricSum(stack.apiServerUrl, "xtrinode_apiserver_resume_requests_total", { outcome: "accepted" }),
      starts: (await stack.coordinators.state(ns, "alpha")).starts,
    };
    const from = routes.versions.length - 1;

    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => runQuery(byHeader(`${ns}/alpha`), `SELECT ${i}`)));
    const failures = outcomes.filter((o) => o.status === "rejected" || o.value.state !== "FINISHED");
    expect(
      failures,
      `failed queries: ${JSON.stringify(failures.slice(0, 3).map((o) => (o.status === "rejected" ? String(o.reason) : o.value)))}`,
    ).to.have.length(0);
    const alpha = (await stack.coordinators.state(ns, "alpha")).coordinatorId;
    outcomes.forEach((o, i) => {
      const value = (o as PromiseFulfilledResult<{ rows: unknown[][]; id: string }>).value;
      expect(value.rows).to.deep.equal([[i]]);
      expect(coordinatorOfQuery(value.id)).to.equal(alpha);
    });

    const leaseLog = stack.kube.requestLog.entries
      .filter((entry) => entry.path.startsWith(`${leases}/xtrinode-resume.`) || isResumeLeaseWrite(entry))
      .map((entry) => `${entry.method} ${entry.path} ${entry.fieldManager ?? ""} ${entry.status}`);
    expect(
      leaseWrites() - before.leaseWrites,
      `resume Lease creates/updates in the Kubernetes request log: ${leaseLog.join(", ")}`,
    ).to.equal(1);
    expect(
      (await metricSum(stack.apiServerUrl, "xtrinode_apiserver_lease_acquisitions_total", { result: "won" })) - before.won,
      "Lease acquisitions won",
    ).to.equal(1);
    expect(
      (await metricSum(stack.apiServerUrl, "xtrinode_apiserver_resume_requests_total", { outcome: "accepted" })) - before.accepted,
      "resume intents recorded",
    ).to.equal(1);
    expect((await stack.coordinators.state(ns, "alpha")).starts - before.starts, "coordinator starts").to.equal(1);
    expect(await metricSum(stack.gatewayUrl, "xtrinode_gateway_resume_calls_total", { namespace: ns, runtime: "alpha" })).to.be.at.least(1);
    expect(await phase("alpha")).to.equal("Ready");
    expect(routes.states(ns, "alpha", from)).to.include("RUNNING");
  });

  it("switches worker mode fixed → KEDA → HPA: never two autoscalers on the worker Deployment, the stale one pruned", async () => {
    // No more idling from here on (the wake TTL goes away with the spec field).
    await stack.apply(runtime("alpha", { ...alphaBase, workers: fixedWorkers }));
    const hpa = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespace: ns, name: workerDeployment };
    const scaledObject = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", namespace: ns, name: workerDeployment };
    expect(await client.get(hpa)).to.equal(undefined);
    expect(await client.get(scaledObject)).to.equal(undefined);

    await stack.apply(
      runtime("alpha", {
        ...alphaBase,
        workers: {
          mode: "keda",
          min: 0,
          max: 4,
          keda: { queryPressure: { serverAddress: "http://prometheus.monitoring.svc:9090", threshold: 4 } },
        },
      }),
    );
    await eventually("the ScaledObject of alpha's workers", () => client.get(scaledObject));
    expect(await client.get(hpa)).to.equal(undefined);

    await stack.apply(
      runtime("alpha", {
        ...alphaBase,
        workers: fixedWorkers,
        valuesOverlay: { server: { autoscaling: { enabled: true, maxReplicas: 4, targetCPUUtilizationPercentage: 60 } } },
      }),
    );
    await eventually("the HPA of alpha's workers", () => client.get(hpa));
    await eventually("the stale ScaledObject pruned", async () => (await client.get(scaledObject)) === undefined);
    await eventually("alpha phase Ready after the switch", async () => (await phase("alpha")) === "Ready", {
      timeoutMs: 10_000,
      describe: () => phase("alpha"),
    });

    expect([...autoscalers.kindsSeen()].sort(), `watch ends: ${autoscalers.ends.join("; ")}`).to.deep.equal([
      "HorizontalPodAutoscaler",
      "ScaledObject",
    ]);
    expect(
      autoscalers.maxConcurrent(workerDeployment),
      `autoscaler events: ${JSON.stringify(autoscalers.events)}; watch ends: ${autoscalers.ends.join("; ")}`,
    ).to.equal(1);
  });

  it("changing a catalog rolls only the Deployments of runtimes that select it", async () => {
    const names = ["alpha-trino-coordinator", "alpha-trino-worker", "beta-trino-coordinator", "beta-trino-worker"];
    const before = Object.fromEntries(await Promise.all(names.map(async (name) => [name, await catalogChecksum(name)] as const)));
    const betaVersions = await Promise.all(
      ["beta-trino-coordinator", "beta-trino-worker"].map(async (name) => (await deployment(name))?.metadata.resourceVersion),
    );
    for (const name of names) expect(before[name], `checksum/catalog-config of ${name}`).to.be.a("string");

    await stack.apply(catalog("sales", "memory", { "memory.max-data-per-node": "128MB" }));
    for (const name of ["alpha-trino-coordinator", "alpha-trino-worker"]) {
      await eventually(`${name} to roll (new catalog checksum)`, async () => (await catalogChecksum(name)) !== before[name], {
        timeoutMs: 10_000,
        describe: () => catalogChecksum(name),
      });
    }
    // The operator has handled the catalog event (alpha rolled); one more resync pass must not touch beta either.
    await eventually(
      "a reconcile pass after the catalog change",
      async () => (await metricSum(operatorMetricsUrl, "xtrinode_operator_reconcile_total")) > 0,
    );
    for (const name of ["beta-trino-coordinator", "beta-trino-worker"]) expect(await catalogChecksum(name), name).to.equal(before[name]);
    expect(
      await Promise.all(
        ["beta-trino-coordinator", "beta-trino-worker"].map(async (name) => (await deployment(name))?.metadata.resourceVersion),
      ),
    ).to.deep.equal(betaVersions);
    // The rolled runtime comes back (the controller simulation reports the new pods ready).
    await eventually(
      "alpha Ready with route RUNNING after the roll",
      async () => (await phase("alpha")) === "Ready" && routes.current(ns, "alpha")?.state === "RUNNING",
      { timeoutMs: 10_000, describe: async () => [await phase("alpha"), routes.current(ns, "alpha")?.state] },
    );
  });

  it("deleting an XTrinode: route REMOVED then gone, owned objects gone, coordinator stopped", async () => {
    const from = routes.versions.length - 1;
    await client.delete({ apiVersion: group, kind: "XTrinode", namespace: ns, name: "alpha" });
    await eventually(
      "alpha XTrinode gone (finalizer done)",
      async () => (await client.get({ apiVersion: group, kind: "XTrinode", namespace: ns, name: "alpha" })) === undefined,
      15_000,
    );
    await eventually("alpha route entry gone", () => routes.versions.length > from && routes.current(ns, "alpha") === undefined, {
      timeoutMs: 10_000,
      describe: () => routes.states(ns, "alpha", from),
    });
    expect(routes.states(ns, "alpha", from)).to.deep.equal(["RUNNING", "REMOVED", "absent"]);
    for (const [apiVersion, kind] of [
      ["apps/v1", "Deployment"],
      ["v1", "ConfigMap"],
      ["v1", "Service"],
      ["v1", "ServiceAccount"],
      ["autoscaling/v2", "HorizontalPodAutoscaler"],
      ["keda.sh/v1alpha1", "ScaledObject"],
    ]) {
      expect(await client.list(apiVersion, kind, ns, "xtrinode.io/runtime=alpha"), `${kind}s of alpha`).to.deep.equal([]);
    }
    await eventually("alpha coordinator test server stopped", async () => !(await stack.coordinators.state(ns, "alpha")).running);
    // The other runtime still serves.
    expect(routes.current(ns, "beta")?.state).to.equal("RUNNING");
    expect((await runQuery(byHeader(`${ns}/beta`), "SELECT 5")).rows).to.deep.equal([[5]]);
  });
});
