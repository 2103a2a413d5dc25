// `xtrinode status` as a process against the Kubernetes API test server (XTrinodes seeded with the
// status the operator writes) and a real gateway (held and in-flight queries from its status
// endpoint): the table, -A -o wide, -o json, --watch, the note when the gateway is not reachable,
// and the errors for no cluster, no CRDs, no permission and an unknown runtime.
import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadCrdFiles, startKubeApiServer, type KubeApiTestServer } from "../../fixtures/kube-api-server/index.ts";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import type { RunningGateway } from "../../gateway/server.ts";
import type { XTrinode } from "../../schemas/generated/types.ts";
import { RoutesFile, startTestGateway } from "../gateway/support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { killAllChildren, repoRoot, runXtrinode, xtrinodeBin } from "../support/process.ts";

const adminToken = "status-cli-test-admin-token-0123456789";
const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function xtrinodeCrds() {
  const crdDir = path.join(repoRoot, "deploy", "crds");
  return loadCrdFiles(
    readdirSync(crdDir)
      .filter((file) => file.startsWith("xtrinode.io_"))
      .map((file) => path.join(crdDir, file)),
  );
}

async function seed(kc: KubeConfig, runtime: XTrinode): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const { status, ...body } = runtime;
  const namespace = runtime.metadata.namespace!;
  const created = (await api.createNamespacedCustomObject({
    group: "xtrinode.io",
    version: "v1alpha1",
    namespace,
    plural: "xtrinodes",
    body,
  })) as XTrinode;
  await api.replaceNamespacedCustomObjectStatus({
    group: "xtrinode.io",
    version: "v1alpha1",
    namespace,
    plural: "xtrinodes",
    name: runtime.metadata.name,
    body: { ...created, status },
  });
}

function table(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split("\n")
    .map((line) => line.split(/ {3,}/));
}

describe("xtrinode status (process)", function () {
  this.timeout(60_000);
  let server: KubeApiTestServer;
  let backend: TrinoTestServer;
  let routes: RoutesFile;
  let gateway: RunningGateway;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-status-"));
    tokenFile = path.join(dir, "admin.token");
    writeFileSync(tokenFile, adminToken);
    server = await startKubeApiServer({ crds: xtrinodeCrds() });
    const kc = server.kubeConfig();
    for (const name of ["team-a", "team-b"]) await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
    await seed(kc, {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "analytics", namespace: "team-a", annotations: { "xtrinode.io/last-activity": minutesAgo(10) } },
      spec: {
        workers: { mode: "keda", min: 0, max: 8 },
        lifecycle: { wakeTTL: "30m" },
        route: { hostnames: ["analytics.trino.example.com"] },
      },
      status: {
        phase: "Ready",
        routeState: "RUNNING",
        workers: 2,
        readySince: minutesAgo(40),
        lastActivityTime: minutesAgo(10),
        conditions: [{ type: "Ready", status: "True", reason: "CoordinatorReady" }],
      },
    });
    await seed(kc, {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "bi", namespace: "team-a" },
      spec: { workers: { count: 2 }, lifecycle: { wakeTTL: "15m" }, route: { pool: "shared" } },
      status: {
        phase: "Suspended",
        routeState: "PAUSED",
        workers: 0,
        suspendedAt: minutesAgo(5),
        conditions: [{ type: "Ready", status: "False", reason: "Suspended" }],
      },
    });
    await seed(kc, {
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "etl", namespace: "team-b" },
      spec: {},
      status: {
        phase: "Error",
        message: "apply of Deployment etl-trino-worker rejected",
        conditions: [{ type: "Ready", status: "False", reason: "ApplyRejected" }],
      },
    });

    // A gateway that routes both team-a runtimes: one query in flight on analytics, one held for bi.
    backend = await startTrinoTestServer({ queuedPolls: 1000 });
    routes = new RoutesFile();
    routes.write([
      { namespace: "team-a", name: "analytics", backend: backend.url, state: "RUNNING", hostnames: ["analytics.trino.example.com"] },
      { namespace: "team-a", name: "bi", backend: "http://127.0.0.1:9", state: "PAUSED", pool: "shared" },
    ]);
    gateway = await startTestGateway(routes, { admin: { tokenFile } });
    const post = (runtime: string) =>
      fetch(`${gateway.url}/v1/statement`, {
        method: "POST",
        headers: { "x-trino-user": "alice", "x-trino-xtrinode": runtime },
        body: "SELECT 1",
      }).then((response) => response.json());
    await post("team-a/analytics");
    await post("team-a/bi");
    await eventually("one held and one in-flight query", () => gateway.core.held.size === 1 && gateway.core.inFlight.size === 1);
  });
  afterEach(() => server.faults.clear());
  after(async () => {
    await killAllChildren();
    await gateway?.close();
    await backend?.close();
    routes?.remove();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gatewayArgs = () => ["--gateway-url", gateway.url, "--gateway-token-file", tokenFile];

  it("prints one namespace's runtimes with held and in-flight queries from the gateway", async () => {
    const { code, stdout, stderr } = await runXtrinode(["status", "-n", "team-a", "--kubeconfig", server.kubeconfigPath, ...gatewayArgs()]);
    expect(stderr).to.equal("");
    expect(code).to.equal(0);
    const [header, analytics, bi, ...rest] = table(stdout);
    expect(rest).to.deep.equal([]);
    expect(header).to.deep.equal(["NAME", "PHASE", "ROUTE", "WORKERS", "HELD", "IN-FLIGHT", "LAST ACTIVITY", "WAKE TTL", "AGE"]);
    expect(analytics.slice(0, 7)).to.deep.equal(["analytics", "Ready", "RUNNING", "2/0-8 keda", "0", "1", "10m ago"]);
    // 30m wakeTTL, last activity 10 minutes ago: about 20 minutes left.
    expect(analytics[7]).to.match(/^(19|20)m$/);
    expect(bi.slice(0, 8)).to.deep.equal(["bi", "Suspended", "PAUSED", "0/0 fixed", "1", "0", "<none>", "-"]);
  });

  it("-A -o wide adds NAMESPACE and the conditions' reasons, hostnames, pool and backend; blank counts and a note without the gateway", async () => {
    const { code, stdout, stderr } = await runXtrinode(["status", "-A", "-o", "wide", "--kubeconfig", server.kubeconfigPath]);
    expect(code).to.equal(0);
    expect(stderr).to.contain("note: HELD and IN-FLIGHT are blank: no --gateway-url given");
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0].split(/ {3,}/)).to.deep.equal([
      "NAMESPACE",
      "NAME",
      "PHASE",
      "ROUTE",
      "WORKERS",
      "HELD",
      "IN-FLIGHT",
      "LAST ACTIVITY",
      "WAKE TTL",
      "AGE",
      "CONDITIONS",
      "HOSTNAMES",
      "POOL",
      "BACKEND",
    ]);
    const etl = lines.find((line) => line.startsWith("team-b"))!;
    expect(etl).to.contain("Ready=False:ApplyRejected").and.contain("http://etl-trino.team-b.svc.cluster.local:8080");
    const analytics = lines.find((line) => line.includes("analytics"))!;
    expect(analytics).to.contain("analytics.trino.example.com");
    // HELD and IN-FLIGHT are blank: the cell after WORKERS is LAST ACTIVITY's, aligned under its header.
    const heldColumn = lines[0].indexOf("HELD");
    expect(analytics.slice(heldColumn, lines[0].indexOf("LAST ACTIVITY")).trim()).to.equal("");
  });

  it("-o json gives the rows with the gateway's counts; -o yaml the same document", async () => {
    const { code, stdout } = await runXtrinode(["status", "-A", "-o", "json", "--kubeconfig", server.kubeconfigPath, ...gatewayArgs()]);
    expect(code).to.equal(0);
    const document = JSON.parse(stdout) as { kind: string; gateway: { reachable: boolean }; items: Array<Record<string, unknown>> };
    expect(document.kind).to.equal("XTrinodeStatusList");
    expect(document.gateway.reachable).to.equal(true);
    expect(document.items.map((item) => `${item.namespace}/${item.name}`)).to.deep.equal(["team-a/analytics", "team-a/bi", "team-b/etl"]);
    expect(document.items[1]).to.include({ phase: "Suspended", heldQueries: 1, inFlightQueries: 0, pool: "shared" });
    expect(document.items[2]).to.include({ phase: "Error", message: "apply of Deployment etl-trino-worker rejected" });
    // team-b/etl is not routed by this gateway: zero queries, not unknown.
    expect(document.items[2]).to.include({ heldQueries: 0, inFlightQueries: 0 });
    const yamlRun = await runXtrinode(["status", "etl", "-n", "team-b", "-o", "yaml", "--kubeconfig", server.kubeconfigPath]);
    expect(yamlRun.stdout).to.contain("kind: XTrinodeStatusList").and.contain("name: etl").and.contain("reachable: false");
  });

  it("--watch prints a row again when the runtime changes", async () => {
    const child = spawn(
      process.execPath,
      [xtrinodeBin, "status", "-n", "team-b", "--watch", "--interval", "0.5", "--kubeconfig", server.kubeconfigPath],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      await eventually("the first table", () => stdout.includes("Error"), 20_000);
      const api = server.kubeConfig().makeApiClient(CustomObjectsApi);
      const live = (await api.getNamespacedCustomObject({
        group: "xtrinode.io",
        version: "v1alpha1",
        namespace: "team-b",
        plural: "xtrinodes",
        name: "etl",
      })) as XTrinode;
      await api.replaceNamespacedCustomObjectStatus({
        group: "xtrinode.io",
        version: "v1alpha1",
        namespace: "team-b",
        plural: "xtrinodes",
        name: "etl",
        body: { ...live, status: { ...live.status, phase: "Reconciling", routeState: "RESUMING", conditions: [] } },
      });
      await eventually("the changed row", () => stdout.includes("RESUMING"), 20_000);
      const lines = stdout.trimEnd().split("\n");
      expect(lines.filter((line) => line.startsWith("NAME"))).to.have.length(1);
      expect(lines[lines.length - 1]).to.match(/^etl\s+Reconciling\s+RESUMING/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("names the fix for no cluster, no CRDs, no permission, and an unknown runtime (exit 1)", async () => {
    // No cluster: a kubeconfig whose server nothing listens on.
    const deadKubeconfig = path.join(dir, "dead.kubeconfig");
    writeFileSync(
      deadKubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "http://127.0.0.1:9" } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n`,
    );
    const dead = await runXtrinode(["status", "--kubeconfig", deadKubeconfig]);
    expect(dead.code).to.equal(1);
    expect(dead.stderr).to.contain("cannot reach the Kubernetes API server at http://127.0.0.1:9").and.contain("--kubeconfig");
    expect(dead.stderr).to.not.contain("    at "); // one line, no stack

    const emptyKubeconfig = path.join(dir, "empty.kubeconfig");
    writeFileSync(emptyKubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    const none = await runXtrinode(["status", "--kubeconfig", emptyKubeconfig]);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain("no Kubernetes cluster configured");

    const bare = await startKubeApiServer();
    try {
      const noCrd = await runXtrinode(["status", "-A", "--kubeconfig", bare.kubeconfigPath]);
      expect(noCrd.code).to.equal(1);
      expect(noCrd.stderr).to.contain("CRD is not installed").and.contain("kubectl apply --server-side -k deploy/crds");
    } finally {
      await bare.close();
    }

    server.faults.failNext(1, 403, { pathPrefix: "/apis/xtrinode.io/v1alpha1/namespaces/team-a/xtrinodes" });
    const denied = await runXtrinode(["status", "-n", "team-a", "--kubeconfig", server.kubeconfigPath]);
    expect(denied.code).to.equal(1);
    expect(denied.stderr)
      .to.contain("permission denied")
      .and.contain("may not list xtrinodes.xtrinode.io in namespace team-a")
      .and.contain("kubectl create clusterrole xtrinode-viewer");

    // An API server that never answers: the CLI gives up after its request timeout instead of hanging.
    server.faults.add({ hang: true, pathPrefix: "/apis/xtrinode.io/v1alpha1/namespaces/team-a/xtrinodes" });
    const hung = await runXtrinode(["status", "-n", "team-a", "--kubeconfig", server.kubeconfigPath]);
    expect(hung.code).to.equal(1);
    expect(hung.stderr).to.contain("no answer within 10 s");

    const missing = await runXtrinode(["status", "nope", "-n", "team-a", "--kubeconfig", server.kubeconfigPath]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain("XTrinode nope not found in namespace team-a");
  });

  it("says why the counts are blank when the gateway refuses or cannot be reached", async () => {
    const refused = await runXtrinode(["status", "-n", "team-a", "--kubeconfig", server.kubeconfigPath, "--gateway-url", gateway.url]);
    expect(refused.code).to.equal(0);
    expect(refused.stderr).to.contain("refused the status request (401)").and.contain("--gateway-token-file");
    const unreachable = await runXtrinode([
      "status",
      "-n",
      "team-a",
      "--kubeconfig",
      server.kubeconfigPath,
      "--gateway-url",
      "http://127.0.0.1:9",
    ]);
    expect(unreachable.code).to.equal(0);
    expect(unreachable.stderr).to.contain("the gateway at http://127.0.0.1:9 is unreachable");
    expect(table(unreachable.stdout)[1][0]).to.equal("analytics");
  });
});
