// 1,000 concurrent resume calls spread over three `xtrinode apiserver` processes sharing one
// Kubernetes API: exactly one Lease acquisition and one XTrinode write, everyone answered 202.
import { expect } from "chai";
import http from "node:http";
import { apiServerReadyTimeoutMs, request, spawnApiServer, type ApiServerProcess } from "./http.ts";
import { leasesPath, namespace, runtimePath, startTestCluster, tokens, type TestCluster } from "./setup.ts";

describe("apiserver resume stampede across processes", function () {
  this.timeout(45_000);
  let cluster: TestCluster;
  let servers: ApiServerProcess[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });

  before(async function () {
    // The three replicas start at once: bounded by one start's ready wait (plus the test cluster's start).
    this.timeout(apiServerReadyTimeoutMs + 30_000);
    cluster = await startTestCluster();
    servers = await Promise.all(
      [1, 2, 3].map((i) =>
        spawnApiServer(["--kubeconfig", cluster.kube.kubeconfigPath, "--token-file", cluster.tokenFile, "--identity", `replica-${i}`]),
      ),
    );
  });
  after(async () => {
    agent.destroy();
    await Promise.all(servers.map((server) => server.stop()));
    await cluster?.close();
  });

  it("turns 1,000 concurrent resume calls on 3 processes into one Lease acquisition and one intent write", async () => {
    await cluster.createRuntime("stampede", { suspended: true, routeState: "PAUSED" });
    cluster.kube.requestLog.clear();
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        request(`${servers[i % servers.length].url}/v1/runtimes/${namespace}/stampede/resume`, {
          method: "POST",
          token: tokens.gateway,
          agent,
        }),
      ),
    );
    const statuses = new Map<number, number>();
    for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).to.deep.equal({ 202: 1000 });
    expect(
      answers.every((a) => a.headers["retry-after"] === "5" && a.json.state === "RESUMING" && a.json.retryAfterSeconds === 5),
    ).to.equal(true);

    // Lease: every process may try once (create → 409 for the losers), exactly one succeeds.
    expect(cluster.successfulWrites(leasesPath)).to.equal(1);
    const leaseAttempts = cluster.kube.requestLog.writes({ pathPrefix: leasesPath });
    expect(leaseAttempts.length).to.be.at.most(servers.length);
    expect(leaseAttempts.filter((e) => e.status === 409).length).to.equal(leaseAttempts.length - 1);
    expect(cluster.kube.requestLog.writes({ pathPrefix: runtimePath("stampede") }).length).to.equal(1);
    // Besides those, only the winner's ResumeRequested Event (history; written after the answer, so maybe not yet).
    expect(cluster.kube.requestLog.writes().filter((entry) => !entry.path.includes("/events")).length).to.equal(leaseAttempts.length + 1);

    const runtime = await cluster.getRuntime("stampede");
    expect(runtime.spec.lifecycle?.suspended).to.equal(false);
    expect(runtime.metadata.annotations?.["xtrinode.io/resume-requested-at"]).to.be.a("string");
  });

  it("refuses to start on a bad --token-file, naming the flag and file", async function () {
    this.timeout(apiServerReadyTimeoutMs + 15_000);
    const failure = await spawnApiServer(["--kubeconfig", cluster.kube.kubeconfigPath, "--token-file", `${cluster.dir}/missing.csv`]).then(
      () => new Error("expected the apiserver to fail"),
      (error: Error) => error,
    );
    expect(failure.message).to.match(
      /exited with 2 before it was ready: xtrinode apiserver: --token-file .*missing\.csv: cannot read it \(ENOENT\)/,
    );
  });

  it("stops cleanly on SIGTERM", async function () {
    this.timeout(apiServerReadyTimeoutMs + 15_000);
    // A replica of its own: the stampede's replicas stay as they are whatever runs first.
    const server = await spawnApiServer(["--kubeconfig", cluster.kube.kubeconfigPath, "--token-file", cluster.tokenFile]);
    await server.stop();
    expect(server.child.exitCode).to.equal(0);
  });
});
