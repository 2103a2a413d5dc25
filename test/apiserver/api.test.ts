// The lifecycle API over HTTP, in-process, against the Kubernetes API test server (through
// @kubernetes/client-node). Writes are counted from the test server's request log.
import { expect } from "chai";
import http from "node:http";
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { startApiServer, type ApiServerOptions, type StartedApiServer } from "../../apiserver/start.ts";
import { silentLogger } from "../../lib/logger.ts";
import { request } from "./http.ts";
import {
  leaseName,
  leaseNamespace,
  leasesPath,
  namespace,
  runtimePath,
  startTestCluster,
  tokens,
  gatewayUser,
  type TestCluster,
} from "./setup.ts";

describe("apiserver HTTP API against the Kubernetes API test server", function () {
  this.timeout(20_000);
  let cluster: TestCluster;
  let api: StartedApiServer;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const url = (path: string) => `${api.url}${path}`;
  // token null: send no Authorization header.
  const post = (path: string, token: string | null = tokens.gateway, body?: object | string) =>
    request(url(path), { method: "POST", token: token ?? undefined, body, agent });
  const get = (path: string, token: string | null = tokens.gateway) => request(url(path), { token: token ?? undefined, agent });
  const writesTo = (name: string) => cluster.successfulWrites(runtimePath(name));
  /** An API server on an ephemeral port over the test cluster, with its static token file: what most tests here start. */
  const startOnCluster = (options: ApiServerOptions) =>
    startApiServer({
      port: 0,
      host: "127.0.0.1",
      kubeConfig: cluster.kubeConfig,
      tokenFile: cluster.tokenFile,
      logger: silentLogger(),
      ...options,
    });

  before(async () => {
    cluster = await startTestCluster();
    api = await startOnCluster({ kubeTimeoutMs: 1000 });
  });
  after(async () => {
    agent.destroy();
    await api?.close();
    await cluster?.close();
  });
  afterEach(() => cluster.kube.faults.clear());

  it("resumes a suspended runtime: one Lease create, one intent write, 202 with Retry-After; repeats write nothing", async () => {
    await cluster.createRuntime("sales", { suspended: true, routeState: "PAUSED" });
    cluster.kube.requestLog.clear();
    const first = await post(`/v1/runtimes/${namespace}/sales/resume`);
    expect(first.status).to.equal(202);
    expect(first.headers["retry-after"]).to.equal("5");
    expect(first.headers["content-security-policy"]).to.include("default-src 'self'"); // every answer, resume included
    expect(first.json).to.deep.equal({ namespace, name: "sales", state: "RESUMING", retryAfterSeconds: 5 });

    const runtime = await cluster.getRuntime("sales");
    expect(runtime.spec.lifecycle?.suspended).to.equal(false);
    expect(runtime.metadata.annotations?.["xtrinode.io/resume-requested-by"]).to.equal(gatewayUser);
    expect(Date.parse(runtime.metadata.annotations?.["xtrinode.io/resume-requested-at"] ?? "")).to.be.a("number").and.not.NaN;
    const lease = await cluster.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: leaseNamespace, name: leaseName("sales") });
    expect(lease.spec?.holderIdentity).to.equal(api.identity);
    expect(lease.spec?.leaseDurationSeconds).to.equal(30);

    for (let i = 0; i < 5; i++) expect((await post(`/v1/runtimes/${namespace}/sales/resume`)).status).to.equal(202);
    expect(cluster.kube.requestLog.writes({ pathPrefix: leasesPath }).length).to.equal(1);
    expect(cluster.kube.requestLog.writes({ pathPrefix: "/apis/xtrinode.io" }).length).to.equal(1);
  });

  it("stores the Lease times as MicroTime (RFC 3339 with microseconds)", async () => {
    const raw = await fetch(`${cluster.kube.url}${leasesPath}/${leaseName("sales")}`).then(
      (r) => r.json() as Promise<{ spec: { acquireTime: string; renewTime: string } }>,
    );
    expect(raw.spec.acquireTime).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(raw.spec.renewTime).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  });

  it("answers 200 RUNNING for a running runtime without writing", async () => {
    await cluster.createRuntime("running", { suspended: false, routeState: "RUNNING" });
    cluster.kube.requestLog.clear();
    const answer = await post(`/v1/runtimes/${namespace}/running/resume`);
    expect(answer.status).to.equal(200);
    expect(answer.json).to.include({ state: "RUNNING", routeState: "RUNNING" });
    expect(cluster.kube.requestLog.writes().length).to.equal(0);
  });

  it("answers 404 with a JSON error for an unknown runtime and writes nothing", async () => {
    cluster.kube.requestLog.clear();
    const answer = await post(`/v1/runtimes/${namespace}/ghost/resume`);
    expect(answer.status).to.equal(404);
    expect(answer.json).to.deep.equal({ error: { code: "NotFound", message: `XTrinode ${namespace}/ghost not found` } });
    expect(cluster.kube.requestLog.writes().length).to.equal(0);
  });

  it("rejects bad names (naming the DNS-1123 rule), bad JSON bodies and unknown paths with JSON errors", async () => {
    cluster.kube.requestLog.clear();
    const badName = await post(`/v1/runtimes/${namespace}/Bad_Name/resume`);
    expect(badName.status).to.equal(400);
    expect(badName.json.error.code).to.equal("BadRequest");
    expect(badName.json.error.message).to.contain("DNS-1123");
    const badJson = await post(`/v1/runtimes/${namespace}/sales/activity`, tokens.gateway, "{not json");
    expect(badJson.status).to.equal(400);
    expect(badJson.json.error.message).to.contain("not valid JSON");
    const badAt = await post(`/v1/runtimes/${namespace}/sales/activity`, tokens.gateway, { at: "soon" });
    expect(badAt.status).to.equal(400);
    expect(badAt.json.error.message).to.contain("RFC 3339");
    const unknown = await get("/v2/nothing");
    expect(unknown.status).to.equal(404);
    expect(unknown.json.error.message).to.contain("no such endpoint");
    const wrongMethod = await request(url(`/v1/runtimes/${namespace}/sales/resume`), { method: "DELETE", token: tokens.gateway, agent });
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.json.error.code).to.equal("MethodNotAllowed");
    expect(wrongMethod.headers.allow).to.equal("POST");
    const badEncoding = await post(`/v1/runtimes/${namespace}/sales%E0%A4%A/resume`);
    expect(badEncoding.status).to.equal(400);
    expect(badEncoding.json.error.code).to.equal("BadRequest");
    expect(cluster.kube.requestLog.writes().length).to.equal(0);
  });

  it("answers 401 without or with a bad token and 403 for an identity not allowed the action", async () => {
    await cluster.createRuntime("guarded", { suspended: false, routeState: "RUNNING" });
    cluster.kube.requestLog.clear();
    const none = await post(`/v1/runtimes/${namespace}/guarded/suspend`, null);
    expect(none.status).to.equal(401);
    expect(none.headers["www-authenticate"]).to.contain("Bearer");
    expect(none.json.error.code).to.equal("Unauthorized");
    const bad = await post(`/v1/runtimes/${namespace}/guarded/suspend`, "not-a-token");
    expect(bad.status).to.equal(401);
    const gatewaySuspends = await post(`/v1/runtimes/${namespace}/guarded/suspend`, tokens.gateway);
    expect(gatewaySuspends.status).to.equal(403);
    expect(gatewaySuspends.json.error.message).to.contain(`${gatewayUser} may not suspend`);
    const strangerResumes = await post(`/v1/runtimes/${namespace}/guarded/resume`, tokens.stranger);
    expect(strangerResumes.status).to.equal(403);
    expect(strangerResumes.json.error.code).to.equal("Forbidden");
    for (const token of [null, "not-a-token"]) {
      const resume = await post(`/v1/runtimes/${namespace}/guarded/resume`, token);
      expect(resume.status).to.equal(401);
      expect(resume.headers["www-authenticate"]).to.contain("Bearer");
      expect(resume.json.error.code).to.equal("Unauthorized");
    }
    expect(cluster.kube.requestLog.writes().length).to.equal(0);

    const admin = await post(`/v1/runtimes/${namespace}/guarded/suspend`, tokens.admin);
    expect(admin.status).to.equal(202);
    const runtime = await cluster.getRuntime("guarded");
    expect(runtime.spec.lifecycle?.suspended).to.equal(true);
    expect(runtime.metadata.annotations?.["xtrinode.io/suspend-requested-by"]).to.equal("alice");
  });

  it("scopes an identity to the namespaces its authorisation entry names (a team's own runtimes)", async () => {
    const other = "finance-team";
    await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: other } } });
    await cluster.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: "xtrinode.io",
      version: "v1alpha1",
      namespace: other,
      plural: "xtrinodes",
      body: {
        apiVersion: "xtrinode.io/v1alpha1",
        kind: "XTrinode",
        metadata: { name: "finance", namespace: other },
        spec: { lifecycle: { suspended: false } },
      },
    });
    await cluster.createRuntime("team-owned", { suspended: false, routeState: "RUNNING" });
    const team = { identity: "mallory", namespaces: [namespace] };
    const scoped = await startOnCluster({ kubeTimeoutMs: 1000, authz: { resume: [team], suspend: [team], read: [team], activity: [] } });
    try {
      const as = (method: string, path: string) => request(`${scoped.url}${path}`, { method, token: tokens.stranger, agent });
      cluster.kube.requestLog.clear();
      for (const [method, path] of [
        ["POST", `/v1/runtimes/${other}/finance/suspend`],
        ["POST", `/v1/runtimes/${other}/finance/resume`],
        ["GET", `/v1/runtimes/${other}/finance`],
        ["GET", `/v1/runtimes?namespace=${other}`],
      ]) {
        const refused = await as(method, path);
        expect(refused.status, path).to.equal(403);
        expect(refused.json.error.message, path).to.contain(`namespace ${other}`);
      }
      expect(cluster.kube.requestLog.writes().length).to.equal(0);
      const listed = await as("GET", "/v1/runtimes");
      expect(listed.json.items.map((item: { namespace: string }) => item.namespace))
        .to.include(namespace)
        .and.not.include(other);
      expect((await as("POST", `/v1/runtimes/${namespace}/team-owned/suspend`)).status).to.equal(202);
      expect((await as("POST", `/v1/runtimes/${namespace}/team-owned/activity`)).status).to.equal(403);
    } finally {
      await scoped.close();
      await cluster.kubeConfig.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
        group: "xtrinode.io",
        version: "v1alpha1",
        namespace: other,
        plural: "xtrinodes",
        name: "finance",
      });
    }
  });

  it("serves /healthz, /readyz and /metrics without a token", async () => {
    expect((await get("/healthz", null)).json).to.deep.equal({ status: "ok" });
    expect((await get("/readyz", null)).status).to.equal(200);
    const metrics = await get("/metrics", null);
    expect(metrics.status).to.equal(200);
    expect(metrics.text).to.match(/xtrinode_apiserver_resume_requests_total\{outcome="accepted"\} \d+/);
    expect(metrics.text).to.match(/xtrinode_apiserver_lease_acquisitions_total\{result="won"\} \d+/);
    expect(metrics.text).to.contain('xtrinode_apiserver_kube_writes_total{resource="xtrinode",verb="patch",result="ok"}');
    expect(metrics.text).to.contain("xtrinode_apiserver_request_duration_seconds_bucket");
    expect(metrics.text).to.match(
      /xtrinode_apiserver_request_duration_seconds_count\{method="POST",route="\/v1\/runtimes\/:namespace\/:name\/resume",status="202"\} [1-9]/,
    );
  });

  it("shows status and lists runtimes (optionally by namespace)", async () => {
    const status = await get(`/v1/runtimes/${namespace}/sales`);
    expect(status.status).to.equal(200);
    expect(status.json).to.include({ namespace, name: "sales", suspended: false, routeState: "PAUSED", resumeRequestedBy: gatewayUser });
    const list = await get(`/v1/runtimes?namespace=${namespace}`);
    expect(list.json.items.map((item: { name: string }) => item.name)).to.include.members(["sales", "running", "guarded"]);
    expect((await get("/v1/runtimes?namespace=other-team")).json.items).to.deep.equal([]);
    expect((await get("/v1/runtimes")).json.items.length).to.equal(list.json.items.length);
    expect((await get(`/v1/runtimes/${namespace}/ghost`)).status).to.equal(404);
  });

  it("records gateway activity, moving xtrinode.io/last-activity forward only", async () => {
    await cluster.createRuntime("busy", { suspended: false, routeState: "RUNNING" });
    const at = new Date(Date.now() - 1000).toISOString();
    expect((await post(`/v1/runtimes/${namespace}/busy/activity`, tokens.gateway, { at })).status).to.equal(204);
    expect((await cluster.getRuntime("busy")).metadata.annotations?.["xtrinode.io/last-activity"]).to.equal(at);
    cluster.kube.requestLog.clear();
    expect((await post(`/v1/runtimes/${namespace}/busy/activity`, tokens.gateway, { at: new Date().toISOString() })).status).to.equal(204);
    expect(cluster.kube.requestLog.writes().length).to.equal(0); // throttled: at most one write per interval
  });

  describe("Kubernetes API faults", () => {
    it("answers 503 with a clear message when the Kubernetes API fails, and writes nothing", async () => {
      await cluster.createRuntime("fault-500", { suspended: true, routeState: "PAUSED" });
      cluster.kube.requestLog.clear();
      cluster.kube.faults.failNext(1, 500, { method: "GET", pathPrefix: runtimePath("fault-500") });
      const answer = await post(`/v1/runtimes/${namespace}/fault-500/resume`);
      expect(answer.status).to.equal(503);
      expect(answer.headers["retry-after"]).to.equal("5");
      expect(answer.json.error.code).to.equal("KubernetesUnavailable");
      expect(answer.json.error.message).to.match(/get XTrinode team-a\/fault-500 failed: HTTP 500/);
      expect(cluster.kube.requestLog.writes().length).to.equal(0);
      expect((await cluster.getRuntime("fault-500")).spec.lifecycle?.suspended).to.equal(true);
    });

    it("answers 503 when the Kubernetes API does not answer within the request timeout, and writes nothing", async () => {
      await cluster.createRuntime("fault-slow", { suspended: true, routeState: "PAUSED" });
      cluster.kube.requestLog.clear();
      cluster.kube.faults.delayNext(1, 2500, { method: "GET", pathPrefix: `${leasesPath}/${leaseName("fault-slow")}` });
      const answer = await post(`/v1/runtimes/${namespace}/fault-slow/resume`);
      expect(answer.status).to.equal(503);
      expect(answer.json.error.message).to.contain(
        `get Lease ${leaseNamespace}/${leaseName("fault-slow")} failed: no answer within 1000 ms`,
      );
      expect(cluster.kube.requestLog.writes().length).to.equal(0);
    });

    it("releases the Lease when the intent write fails after winning it, so a retry proceeds", async () => {
      await cluster.createRuntime("fault-patch", { suspended: true, routeState: "PAUSED" });
      cluster.kube.requestLog.clear();
      cluster.kube.faults.failNext(1, 500, { method: "PATCH", pathPrefix: runtimePath("fault-patch") });
      const failed = await post(`/v1/runtimes/${namespace}/fault-patch/resume`);
      expect(failed.status).to.equal(503);
      expect(failed.json.error.message).to.contain("patch XTrinode team-a/fault-patch failed: HTTP 500");
      expect((await cluster.getRuntime("fault-patch")).spec.lifecycle?.suspended).to.equal(true);
      const leases = cluster.kubeConfig.makeApiClient(CoordinationV1Api);
      const gone = await leases.readNamespacedLease({ namespace: leaseNamespace, name: leaseName("fault-patch") }).then(
        () => false,
        () => true,
      );
      expect(gone).to.equal(true);

      const retried = await post(`/v1/runtimes/${namespace}/fault-patch/resume`);
      expect(retried.status).to.equal(202);
      expect((await cluster.getRuntime("fault-patch")).spec.lifecycle?.suspended).to.equal(false);
    });

    it("reports not ready while the Kubernetes API fails", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the readiness cache
      cluster.kube.faults.failNext(1, 500, { method: "GET", pathPrefix: "/apis/coordination.k8s.io/v1" });
      const answer = await get("/readyz", null);
      expect(answer.status).to.equal(503);
      expect(answer.json.error.message).to.contain("discovery of coordination.k8s.io/v1 failed: HTTP 500");
    });
  });

  describe("with a short Lease", () => {
    let shortLease: StartedApiServer;
    before(async () => {
      shortLease = await startOnCluster({ leaseDurationSeconds: 2 });
    });
    after(() => shortLease?.close());

    it("lets a later resume proceed once the Lease has expired, judged on the observer's clock", async () => {
      await cluster.createRuntime("expiry", { suspended: true, routeState: "PAUSED" });
      cluster.kube.requestLog.clear();
      const resumeOn = (server: StartedApiServer) =>
        request(`${server.url}/v1/runtimes/${namespace}/expiry/resume`, { method: "POST", token: tokens.gateway, agent });
      expect((await resumeOn(shortLease)).status).to.equal(202);
      expect(writesTo("expiry")).to.equal(1);
      const firstStamp = (await cluster.getRuntime("expiry")).metadata.annotations?.["xtrinode.io/resume-requested-at"];

      // Another replica sees the 2 s Lease for the first time: held (for 2 s from now, on its clock), no write.
      expect((await resumeOn(api)).status).to.equal(202);
      expect(writesTo("expiry")).to.equal(1);

      await new Promise((resolve) => setTimeout(resolve, 2200));
      expect((await resumeOn(api)).status).to.equal(202);
      expect(writesTo("expiry")).to.equal(2);
      expect(cluster.successfulWrites(`${leasesPath}/${leaseName("expiry")}`, "PUT")).to.equal(1); // taken over at its resourceVersion
      const lease = await cluster.kubeConfig
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: leaseNamespace, name: leaseName("expiry") });
      expect(lease.spec?.holderIdentity).to.equal(api.identity);
      expect(lease.spec?.leaseTransitions).to.equal(1);
      const secondStamp = (await cluster.getRuntime("expiry")).metadata.annotations?.["xtrinode.io/resume-requested-at"];
      expect(Date.parse(secondStamp!)).to.be.greaterThan(Date.parse(firstStamp!));
    });
  });

  describe("with TokenReview authentication", () => {
    let reviewed: StartedApiServer;
    before(async () => {
      reviewed = await startApiServer({ port: 0, host: "127.0.0.1", kubeConfig: cluster.kubeConfig, logger: silentLogger() });
    });
    after(() => reviewed?.close());

    it("authenticates bearer tokens through the Kubernetes TokenReview API and caches the answer", async () => {
      cluster.kube.requestLog.clear();
      const read = (token: string) => request(`${reviewed.url}/v1/runtimes/${namespace}/sales`, { token, agent });
      expect((await read(tokens.gateway)).status).to.equal(200);
      expect((await read(tokens.gateway)).status).to.equal(200);
      expect((await read(tokens.stranger)).status).to.equal(403);
      const rejected = await read("unknown-token");
      expect(rejected.status).to.equal(401);
      expect(rejected.json.error.message).to.contain("TokenReview");
      expect(cluster.kube.requestLog.count({ method: "POST", pathPrefix: "/apis/authentication.k8s.io/v1/tokenreviews" })).to.equal(3);
    });
  });
});
