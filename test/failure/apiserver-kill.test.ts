// A resume stampede (50 concurrent trino-client queries) through the gateway to a suspended
// runtime; the lifecycle API server PROCESS is SIGKILLed in the middle of recording the resume
// (its XTrinode write hangs at the Kubernetes API, after it won the resume Lease). Clients stay
// queued (held) or get a clear XTRINODE_* error, every call settles within a bound, and after the
// API server restarts the resume intent is written exactly once and the queries succeed.
import { expect } from "chai";
import { BasicAuth, Trino } from "trino-client";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";
import { configMapRoutesSource } from "../../gateway/routes-source.ts";
import { defaultGatewayNamespace, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { startGateway, type RunningGateway } from "../../gateway/server.ts";
import { silentLogger } from "../../lib/logger.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import {
  leaseName,
  leaseNamespace,
  leasesPath,
  namespace,
  runtimePath,
  startTestCluster,
  tokens,
  type TestCluster,
} from "../apiserver/setup.ts";
import { runQuery } from "../gateway/support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { killAllChildren, spawnXtrinode, type ChildUnderTest } from "../support/process.ts";
import yaml from "js-yaml";

const gatewayNamespace = defaultGatewayNamespace;
const CLIENTS = 50;
const SETTLE_BOUND_MS = 45_000;
const runtimeName = "sleepy";

function routesText(backend: string, state: string): string {
  return yaml.dump({
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "GatewayRoutes",
    routes: [{ namespace, name: runtimeName, backend, state }],
  });
}

describe("failure: lifecycle API server killed during a resume stampede", function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let client: ClusterClient;
  let trino: TrinoTestServer;
  let gateway: RunningGateway;
  let operatorStandIn: NodeJS.Timeout | undefined;

  const apiServerArgs = (port: string, identity: string) => [
    "apiserver",
    "--port",
    port,
    "--host",
    "127.0.0.1",
    "--kubeconfig",
    cluster.kube.kubeconfigPath,
    "--token-file",
    cluster.tokenFile,
    "--identity",
    identity,
    "--lease-duration-seconds",
    "3",
  ];

  before(async () => {
    cluster = await startTestCluster();
    client = createClusterClient(cluster.kubeConfig);
    trino = await startTrinoTestServer({ name: "sleepy-coordinator" });
    await client.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: gatewayNamespace } });
    await client.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: routesConfigMapName, namespace: gatewayNamespace },
      data: { [routesDataKey]: routesText(trino.url, "PAUSED") },
    });
    await cluster.createRuntime(runtimeName, { suspended: true, routeState: "PAUSED" });
  });
  after(async () => {
    if (operatorStandIn) clearInterval(operatorStandIn);
    await gateway?.close();
    await killAllChildren();
    await trino?.close();
    await cluster?.close();
  });

  /** Successful writes of the XTrinode itself (not its status), i.e. resume intents. */
  const intentWrites = () =>
    cluster.kube.requestLog.writes().filter((e) => e.path === runtimePath(runtimeName) && e.status >= 200 && e.status < 300).length;

  it(`${CLIENTS} held clients survive the kill; after the restart the intent is written once and every query succeeds`, async () => {
    // The runtime's intent write hangs at the Kubernetes API: the API server dies mid-resume.
    cluster.kube.faults.add({ method: "PATCH", pathPrefix: runtimePath(runtimeName), hang: true, count: 1000 });
    const first: ChildUnderTest = await spawnXtrinode(apiServerArgs("0", "apiserver-1"), { env: { XTRINODE_LOG_LEVEL: "warn" } });
    const port = new URL(String(first.ready.url)).port;
    const logger = silentLogger();
    gateway = await startGateway({
      routesSource: configMapRoutesSource(cluster.kubeConfig, gatewayNamespace, logger),
      config: { held: { pollWaitMs: 200 } },
      lifecycleUrl: String(first.ready.url),
      lifecycleToken: () => tokens.gateway,
      port: 0,
      host: "127.0.0.1",
      env: {},
      logger,
    });
    await eventually("the gateway's first routes", () => gateway.core.routes.generation === 1);

    // Stand-in for the operator: once resume intent is recorded, the route goes RUNNING.
    let flips = 0;
    operatorStandIn = setInterval(() => {
      void (async () => {
        const runtime = await client.get({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace, name: runtimeName });
        if ((runtime?.spec as { lifecycle?: { suspended?: boolean } })?.lifecycle?.suspended !== false || flips > 0) return;
        flips++;
        const live = await client.get({ apiVersion: "v1", kind: "ConfigMap", namespace: gatewayNamespace, name: routesConfigMapName });
        await client.replace({ ...live!, data: { [routesDataKey]: routesText(trino.url, "RUNNING") } });
      })().catch(() => undefined);
    }, 100);

    const started = Date.now();
    const outcomes = Array.from({ length: CLIENTS }, () =>
      Promise.race([
        runQuery(
          Trino.create({
            server: gateway.url,
            auth: new BasicAuth("analyst"),
            extraHeaders: { "X-Trino-XTrinode": `${namespace}/${runtimeName}` },
          }),
          "SELECT 1",
        ).then(
          (pages) => ({ ok: true as const, rows: pages.flatMap((page) => page.data ?? []) }),
          (error: Error) => ({ ok: false as const, error: error.message }),
        ),
        new Promise<{ ok: false; error: string }>((resolve) =>
          setTimeout(() => resolve({ ok: false, error: "HUNG: did not settle" }), SETTLE_BOUND_MS).unref(),
        ),
      ]),
    );

    // Mid-stampede: every client is held and the first API server won the Lease, its intent write hanging.
    const settled: string[] = [];
    outcomes.forEach((outcome) => void outcome.then((result) => settled.push(result.ok ? "ok" : result.error)));
    await eventually("all clients held", () => gateway.core.held.size >= CLIENTS, 20_000).catch((error: Error) => {
      throw new Error(
        `${error.message}: ${gateway.core.held.size} held, settled: ${JSON.stringify(settled.slice(0, 3))} (${settled.length})`,
      );
    });
    await eventually(
      "the resume Lease to be taken",
      async () =>
        (await client.get({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          namespace: leaseNamespace,
          name: leaseName(runtimeName),
        })) !== undefined,
      20_000,
    );
    const killedAtMs = Date.now() - started;
    await first.kill("SIGKILL");
    cluster.kube.faults.clear();
    expect(intentWrites(), "no intent recorded by the killed server").to.equal(0);
    const abandoned = cluster.kube.requestLog.writes().filter((e) => e.path === runtimePath(runtimeName) && e.status === 0).length;

    // While the API server is down, polls keep answering (held clients are not failed or hung).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(gateway.core.held.size).to.equal(CLIENTS);

    const second = await spawnXtrinode(apiServerArgs(port, "apiserver-2"), { env: { XTRINODE_LOG_LEVEL: "warn" } });
    expect(second.ready.url).to.equal(first.ready.url);

    const results = await Promise.all(outcomes);
    const failures = results.filter((result) => !result.ok);
    // A client may get a clear gateway error; none may hang.
    for (const failure of failures) expect(failure.error).to.match(/^XTRINODE_[A-Z_]+: /);
    const succeeded = results.filter((result) => result.ok);
    for (const result of succeeded) expect(result.rows).to.deep.equal([[1]]);
    expect(succeeded.length, JSON.stringify(failures.slice(0, 3))).to.equal(CLIENTS);

    // Exactly one successful resume intent write (the restarted server, after the dead holder's Lease expired).
    expect(intentWrites()).to.equal(1);
    expect(flips).to.equal(1);
    const runtime = await cluster.getRuntime(runtimeName);
    expect(runtime.spec.lifecycle?.suspended).to.equal(false);
    expect(runtime.metadata.annotations?.["xtrinode.io/resume-requested-at"]).to.be.a("string");
    expect(trino.stats.statements).to.equal(CLIENTS);
    const leaseWrites = cluster.kube.requestLog.writes({ pathPrefix: leasesPath }).filter((e) => e.status < 300).length;
    const resumeCalls = await (await fetch(`${gateway.url}/metrics`)).text();
    process.stdout.write(
      `      killed ${killedAtMs} ms into the stampede; gateway resume calls: ${resumeCalls
        .split("\n")
        .filter((l) => l.startsWith("xtrinode_gateway_resume_calls_total"))
        .join(", ")}\n`,
    );
    process.stdout.write(
      `      ${CLIENTS} queries ok ${Math.round((Date.now() - started) / 1000)} s after the stampede began; ${leaseWrites} successful Lease writes, 1 intent write (${abandoned} intent writes cut off by the kill)\n`,
    );

    // New queries run directly.
    const fresh = await runQuery(
      Trino.create({
        server: gateway.url,
        auth: new BasicAuth("analyst"),
        extraHeaders: { "X-Trino-XTrinode": `${namespace}/${runtimeName}` },
      }),
      "SELECT 2",
    );
    expect(fresh.flatMap((page) => page.data ?? [])).to.deep.equal([[2]]);
  });
});
