// End to end, with every part real: the Kubernetes API test server as control plane (controller
// simulation), the operator, the lifecycle API server and the gateway as child processes, Trino
// protocol test servers as coordinators, and the real `trino-client` package as the user.
// The stages of a runtime's life, each test on runtimes of its own (one stack for all, started once):
// apply → Ready/RUNNING → query by hostname and header → idle → DRAINING → PAUSED/Suspended → 100
// concurrent queries → exactly one resume → worker modes fixed → KEDA → HPA → catalog change rolls
// only its runtimes → delete → route REMOVED and owned objects gone. Every test sets up what it needs,
// so any one of them passes alone (`mocha --grep`), in any order.
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
import { scrapeMetricSum } from "../support/metrics-text.ts";
import { AutoscalerHistory, RouteHistory, coordinatorOfQuery, runQuery } from "./support.ts";
import { eventually } from "../support/eventually.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";

const ns = "e2e";
const group = "xtrinode.io/v1alpha1";
/** A hostname that maps to 127.0.0.1 everywhere, so trino-client can follow nextUri (one runtime may claim it). */
const localHost = "localhost";

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

const fixedWorkers = { mode: "fixed", count: 1 };
/** A runtime of the shared catalogs, reached by its own hostname (and by X-Trino-XTrinode). */
const served = (name: string, extra: Record<string, unknown> = {}) => ({
  catalogs: { names: ["tpch", "sales"] },
  route: { hostnames: [`${name}.e2e.test`] },
  workers: fixedWorkers,
  ...extra,
});

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
  // Bounds only (a test on a slow machine waits longer; none measures time): each test starts its own runtimes.
  this.timeout(60_000);
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
      | {
          metadata: { resourceVersion: string };
          spec: { replicas?: number; template: { metadata: { annotations?: Record<string, string> } } };
        }
      | undefined
    >;
  const catalogChecksum = async (name: string) => (await deployment(name))?.spec.template.metadata.annotations?.["checksum/catalog-config"];
  const byHeader = (target: string) =>
    Trino.create({ server: stack.gatewayUrl, auth: new BasicAuth("e2e"), extraHeaders: { "X-Trino-XTrinode": target } });
  /** The runtime's route states since it was first seen (consecutive repeats collapsed). */
  const routeStates = (name: string) => {
    const states = routes.states(ns, name);
    return states[0] === "absent" ? states.slice(1) : states;
  };

  /** Waits until an applied runtime serves: phase Ready, route RUNNING, its coordinator test server up. */
  async function waitServing(name: string): Promise<void> {
    await eventually(`${ns}/${name} phase Ready`, async () => (await phase(name)) === "Ready", {
      timeoutMs: 30_000,
      describe: () => phase(name),
    });
    await eventually(`${ns}/${name} route RUNNING`, () => routes.current(ns, name)?.state === "RUNNING", {
      timeoutMs: 20_000,
      describe: () => routes.states(ns, name),
    });
    await eventually(`${ns}/${name} coordinator test server running`, async () => (await stack.coordinators.state(ns, name)).running);
  }

  async function startRuntime(name: string, spec: Record<string, unknown>): Promise<void> {
    await stack.apply(runtime(name, spec));
    await waitServing(name);
  }

  before(async function () {
    this.timeout(90_000);
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
    // The shared catalogs: read by every test's runtimes, changed by none (the catalog test changes its own).
    await stack.apply(catalog("tpch", "tpch", { "tpch.splits-per-node": "4" }));
    await stack.apply(catalog("sales", "memory", { "memory.max-data-per-node": "64MB" }));
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

  it("applies two XTrinodes: phase Ready, routes RUNNING, coordinators up", async () => {
    await stack.apply(runtime("apply-a", served("apply-a")));
    await stack.apply(
      runtime("apply-b", { workers: fixedWorkers, catalogs: { names: ["tpch"] }, route: { hostnames: ["apply-b.e2e.test"] } }),
    );
    for (const name of ["apply-a", "apply-b"]) await waitServing(name);
    const [a, b] = await Promise.all(["apply-a", "apply-b"].map(async (name) => (await stack.coordinators.state(ns, name)).coordinatorId));
    expect(a).to.be.a("string").and.not.equal(b);
  });

  it("routes trino-client queries by hostname and by X-Trino-XTrinode header to the right coordinator", async () => {
    await startRuntime("router-a", served("router-a", { route: { hostnames: [localHost] } }));
    await startRuntime("router-b", served("router-b"));
    const alpha = (await stack.coordinators.state(ns, "router-a")).coordinatorId!;
    const beta = (await stack.coordinators.state(ns, "router-b")).coordinatorId!;
    expect(alpha).to.be.a("string").and.not.equal(beta);

    // Hostname: trino-client talks to http://localhost:<port>, i.e. Host: localhost → router-a.
    const gatewayPort = new URL(stack.gatewayUrl).port;
    const byHost = await eventually(
      "a query by hostname to finish",
      async () => {
        const outcome = await runQuery(
          Trino.create({ server: `http://${localHost}:${gatewayPort}`, auth: new BasicAuth("e2e") }),
          "SELECT 7",
        );
        return outcome.state === "FINISHED" ? outcome : undefined;
      },
      20_000,
    );
    expect(byHost.rows).to.deep.equal([[7]]);
    expect(coordinatorOfQuery(byHost.id)).to.equal(alpha);
    // Another runtime's hostname goes to that runtime (waiting, like the query above, until this gateway has seen
    // it RUNNING with a healthy backend; before that it holds the statement under a gateway id).
    const byBetaHost = await eventually(
      "a statement by router-b's hostname answered by a coordinator",
      async () => {
        const id = (await postWithHost(stack.gatewayUrl, "router-b.e2e.test", "SELECT 1")).id;
        return coordinatorOfQuery(id) === heldCoordinatorId ? undefined : id;
      },
      20_000,
    );
    expect(coordinatorOfQuery(byBetaHost)).to.equal(beta);

    const byName = await runQuery(byHeader(`${ns}/router-b`), "SELECT * FROM xt_rows(2500)");
    expect(byName.state).to.equal("FINISHED");
    expect(byName.rows).to.have.length(2500); // several pages, every follow-up sticky through the gateway
    expect(coordinatorOfQuery(byName.id)).to.equal(beta);
    const byShortName = await runQuery(byHeader("router-a"), "SELECT 3");
    expect(byShortName.rows).to.deep.equal([[3]]);
    expect(coordinatorOfQuery(byShortName.id)).to.equal(alpha);
  });

  it("idles past the wake TTL: route DRAINING then PAUSED, phase Suspended, coordinator stopped", async () => {
    // No query reaches `idler`: its wake TTL runs from when it became ready. `steady` has no wake TTL.
    await stack.apply(runtime("idler", served("idler", { lifecycle: { wakeTTL: "5s" } })));
    await startRuntime("steady", served("steady"));
    await eventually("idler route PAUSED after its wake TTL", () => routes.current(ns, "idler")?.state === "PAUSED", {
      timeoutMs: 45_000,
      describe: () => routeStates("idler"),
    });
    // Served, then drained, then paused: whatever else it passed through (RESUMING while it first came up).
    const servingStates = routeStates("idler").filter((state) => state === "RUNNING" || state === "DRAINING" || state === "PAUSED");
    expect(servingStates, routeStates("idler").join(" → ")).to.deep.equal(["RUNNING", "DRAINING", "PAUSED"]);
    await eventually("idler phase Suspended", async () => (await phase("idler")) === "Suspended", {
      timeoutMs: 20_000,
      describe: () => phase("idler"),
    });
    await eventually("idler coordinator test server stopped", async () => !(await stack.coordinators.state(ns, "idler")).running, 20_000);
    expect((await deployment("idler-trino-coordinator"))?.spec.replicas).to.equal(0);
    // Without a wake TTL: untouched all along.
    expect(routeStates("steady").filter((state) => state !== "RESUMING")).to.deep.equal(["RUNNING"]);
    expect((await stack.coordinators.state(ns, "steady")).running).to.equal(true);
  });

  it("100 concurrent trino-client queries to the paused runtime: exactly one resume, all succeed", async function () {
    this.timeout(120_000);
    // A runtime that ran, then was paused by suspend intent (no wake TTL: nothing pauses it again while the
    // queries run, however slow the machine).
    await startRuntime("herd", served("herd"));
    const suspend = await fetch(`${stack.apiServerUrl}/v1/runtimes/${ns}/herd/suspend`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(suspend.status, await suspend.text()).to.equal(202);
    await eventually("herd route PAUSED", () => routes.current(ns, "herd")?.state === "PAUSED", {
      timeoutMs: 30_000,
      describe: () => routeStates("herd"),
    });
    await eventually("herd phase Suspended", async () => (await phase("herd")) === "Suspended", {
      timeoutMs: 20_000,
      describe: () => phase("herd"),
    });
    await eventually("herd coordinator test server stopped", async () => !(await stack.coordinators.state(ns, "herd")).running, 20_000);

    // Resume Leases live in xtrinode-system, next to the operator's leader-election Lease (renewed by
    // PUT): creates there, and updates of resume Leases.
    const leases = "/apis/coordination.k8s.io/v1/namespaces/xtrinode-system/leases";
    const isResumeLeaseWrite = (entry: { method: string; path: string }) =>
      (entry.method === "POST" && entry.path === leases) ||
      (entry.method === "PUT" && entry.path.startsWith(`${leases}/xtrinode-resume.${ns}.`));
    // Successful Lease creates/updates (a racing create that lost with 409 acquired nothing).
    const leaseWrites = () => stack.kube.requestLog.entries.filter((entry) => isResumeLeaseWrite(entry) && entry.status < 300).length;
    const before = {
      leaseWrites: leaseWrites(),
      won: await scrapeMetricSum(stack.apiServerUrl, "xtrinode_apiserver_lease_acquisitions_total", { result: "won" }),
      accepted: await scrapeMetricSum(stack.apiServerUrl, "xtrinode_apiserver_resume_requests_total", { outcome: "accepted" }),
      starts: (await stack.coordinators.state(ns, "herd")).starts,
      resumeCalls: await scrapeMetricSum(stack.gatewayUrl, "xtrinode_gateway_resume_calls_total", { namespace: ns, runtime: "herd" }),
    };
    const from = routes.versions.length - 1;

    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => runQuery(byHeader(`${ns}/herd`), `SELECT ${i}`)));
    const failures = outcomes.filter((o) => o.status === "rejected" || o.value.state !== "FINISHED");
    expect(
      failures,
      `failed queries: ${JSON.stringify(failures.slice(0, 3).map((o) => (o.status === "rejected" ? String(o.reason) : o.value)))}`,
    ).to.have.length(0);
    const herd = (await stack.coordinators.state(ns, "herd")).coordinatorId;
    outcomes.forEach((o, i) => {
      const value = (o as PromiseFulfilledResult<{ rows: unknown[][]; id: string }>).value;
      expect(value.rows).to.deep.equal([[i]]);
      expect(coordinatorOfQuery(value.id)).to.equal(herd);
    });

    const leaseLog = stack.kube.requestLog.entries
      .filter((entry) => entry.path.startsWith(`${leases}/xtrinode-resume.`) || isResumeLeaseWrite(entry))
      .map((entry) => `${entry.method} ${entry.path} ${entry.fieldManager ?? ""} ${entry.status}`);
    expect(
      leaseWrites() - before.leaseWrites,
      `resume Lease creates/updates in the Kubernetes request log: ${leaseLog.join(", ")}`,
    ).to.equal(1);
    expect(
      (await scrapeMetricSum(stack.apiServerUrl, "xtrinode_apiserver_lease_acquisitions_total", { result: "won" })) - before.won,
      "Lease acquisitions won",
    ).to.equal(1);
    expect(
      (await scrapeMetricSum(stack.apiServerUrl, "xtrinode_apiserver_resume_requests_total", { outcome: "accepted" })) - before.accepted,
      "resume intents recorded",
    ).to.equal(1);
    expect((await stack.coordinators.state(ns, "herd")).starts - before.starts, "coordinator starts").to.equal(1);
    expect(
      (await scrapeMetricSum(stack.gatewayUrl, "xtrinode_gateway_resume_calls_total", { namespace: ns, runtime: "herd" })) -
        before.resumeCalls,
      "gateway resume calls",
    ).to.be.at.least(1);
    expect(await phase("herd")).to.equal("Ready");
    expect(routes.states(ns, "herd", from)).to.include("RUNNING");
  });

  it("switches worker mode fixed → KEDA → HPA: never two autoscalers on the worker Deployment, the stale one pruned", async () => {
    const workerDeployment = "scaler-trino-worker";
    await startRuntime("scaler", served("scaler"));
    const hpa = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespace: ns, name: workerDeployment };
    const scaledObject = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", namespace: ns, name: workerDeployment };
    expect(await client.get(hpa)).to.equal(undefined);
    expect(await client.get(scaledObject)).to.equal(undefined);

    await stack.apply(
      runtime(
        "scaler",
        served("scaler", {
          workers: {
            mode: "keda",
            min: 0,
            max: 4,
            keda: { queryPressure: { serverAddress: "http://prometheus.monitoring.svc:9090", threshold: 4 } },
          },
        }),
      ),
    );
    await eventually("the ScaledObject of scaler's workers", () => client.get(scaledObject));
    expect(await client.get(hpa)).to.equal(undefined);

    await stack.apply(
      runtime(
        "scaler",
        served("scaler", {
          valuesOverlay: { server: { autoscaling: { enabled: true, maxReplicas: 4, targetCPUUtilizationPercentage: 60 } } },
        }),
      ),
    );
    await eventually("the HPA of scaler's workers", () => client.get(hpa));
    await eventually("the stale ScaledObject pruned", async () => (await client.get(scaledObject)) === undefined);
    await eventually("scaler phase Ready after the switch", async () => (await phase("scaler")) === "Ready", {
      timeoutMs: 20_000,
      describe: () => phase("scaler"),
    });

    expect([...autoscalers.kindsSeen(workerDeployment)].sort(), `watch ends: ${autoscalers.ends.join("; ")}`).to.deep.equal([
      "HorizontalPodAutoscaler",
      "ScaledObject",
    ]);
    expect(
      autoscalers.maxConcurrent(workerDeployment),
      `autoscaler events: ${JSON.stringify(autoscalers.events)}; watch ends: ${autoscalers.ends.join("; ")}`,
    ).to.equal(1);
  });

  it("changing a catalog rolls only the Deployments of runtimes that select it", async () => {
    // A catalog of this test alone, selected by roll-a and not by roll-b.
    await stack.apply(catalog("rolled", "memory", { "memory.max-data-per-node": "64MB" }));
    await startRuntime("roll-a", served("roll-a", { catalogs: { names: ["tpch", "rolled"] } }));
    await startRuntime("roll-b", served("roll-b", { catalogs: { names: ["tpch"] } }));
    const rolling = ["roll-a-trino-coordinator", "roll-a-trino-worker"];
    const untouched = ["roll-b-trino-coordinator", "roll-b-trino-worker"];
    const before = Object.fromEntries(
      await Promise.all([...rolling, ...untouched].map(async (name) => [name, await catalogChecksum(name)] as const)),
    );
    const untouchedVersions = await Promise.all(untouched.map(async (name) => (await deployment(name))?.metadata.resourceVersion));
    for (const name of [...rolling, ...untouched]) expect(before[name], `checksum/catalog-config of ${name}`).to.be.a("string");

    await stack.apply(catalog("rolled", "memory", { "memory.max-data-per-node": "128MB" }));
    for (const name of rolling) {
      await eventually(`${name} to roll (new catalog checksum)`, async () => (await catalogChecksum(name)) !== before[name], {
        timeoutMs: 20_000,
        describe: () => catalogChecksum(name),
      });
    }
    // The operator has handled the catalog event (roll-a rolled); a full resync pass after it (every runtime
    // reconciled at least once more) must not touch roll-b either.
    const runtimeCount = (await client.list(group, "XTrinode", ns)).length;
    const reconciles = await scrapeMetricSum(operatorMetricsUrl, "xtrinode_operator_reconcile_total");
    await eventually(
      `${runtimeCount} more reconciles (a resync pass) after the catalog change`,
      async () => (await scrapeMetricSum(operatorMetricsUrl, "xtrinode_operator_reconcile_total")) >= reconciles + runtimeCount,
      {
        timeoutMs: 40_000,
        describe: async () => (await scrapeMetricSum(operatorMetricsUrl, "xtrinode_operator_reconcile_total")) - reconciles,
      },
    );
    for (const name of untouched) expect(await catalogChecksum(name), name).to.equal(before[name]);
    expect(await Promise.all(untouched.map(async (name) => (await deployment(name))?.metadata.resourceVersion))).to.deep.equal(
      untouchedVersions,
    );
    // The rolled runtime comes back (the controller simulation reports the new pods ready).
    await eventually(
      "roll-a Ready with route RUNNING after the roll",
      async () => (await phase("roll-a")) === "Ready" && routes.current(ns, "roll-a")?.state === "RUNNING",
      { timeoutMs: 20_000, describe: async () => [await phase("roll-a"), routes.current(ns, "roll-a")?.state] },
    );
  });

  it("deleting an XTrinode: route REMOVED then gone, owned objects gone, coordinator stopped", async () => {
    // With an HPA among its objects, so that pruning an autoscaler on delete is seen too.
    await startRuntime(
      "doomed",
      served("doomed", {
        valuesOverlay: { server: { autoscaling: { enabled: true, maxReplicas: 4, targetCPUUtilizationPercentage: 60 } } },
      }),
    );
    await startRuntime("survivor", served("survivor"));
    const owned = [
      ["apps/v1", "Deployment"],
      ["v1", "ConfigMap"],
      ["v1", "Service"],
      ["v1", "ServiceAccount"],
      ["autoscaling/v2", "HorizontalPodAutoscaler"],
    ];
    for (const [apiVersion, kind] of owned)
      expect(await client.list(apiVersion, kind, ns, "xtrinode.io/runtime=doomed"), `${kind}s of doomed`).to.not.be.empty;

    const from = routes.versions.length - 1;
    await client.delete({ apiVersion: group, kind: "XTrinode", namespace: ns, name: "doomed" });
    await eventually(
      "doomed XTrinode gone (finalizer done)",
      async () => (await client.get({ apiVersion: group, kind: "XTrinode", namespace: ns, name: "doomed" })) === undefined,
      30_000,
    );
    await eventually("doomed route entry gone", () => routes.versions.length > from && routes.current(ns, "doomed") === undefined, {
      timeoutMs: 20_000,
      describe: () => routes.states(ns, "doomed", from),
    });
    expect(routes.states(ns, "doomed", from)).to.deep.equal(["RUNNING", "REMOVED", "absent"]);
    for (const [apiVersion, kind] of [...owned, ["keda.sh/v1alpha1", "ScaledObject"]]) {
      expect(await client.list(apiVersion, kind, ns, "xtrinode.io/runtime=doomed"), `${kind}s of doomed`).to.deep.equal([]);
    }
    await eventually("doomed coordinator test server stopped", async () => !(await stack.coordinators.state(ns, "doomed")).running);
    // The other runtime still serves.
    expect(routes.current(ns, "survivor")?.state).to.equal("RUNNING");
    const survivor = await runQuery(byHeader(`${ns}/survivor`), "SELECT 5");
    expect(survivor.rows, survivor.error ?? survivor.state).to.deep.equal([[5]]);
  });
});
