// The endpoints behind the web console, in-process with an in-memory store: who am I and where may I
// act, per-runtime `allowed`, the runtime details (Events, catalogs with Ready, history), the gateway
// status read server-side and limited to what the caller may read, the console's files and headers,
// and --console=false. The browser side is tested in test/console/ (Chromium against real processes).
import { expect } from "chai";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { staticTokenAuthenticator, type AuthzConfig, type Identity } from "../../apiserver/auth.ts";
import { loadConsoleAssets } from "../../apiserver/console.ts";
import { gatewayStatusReader, visibleGatewayStatus } from "../../apiserver/gateway-status.ts";
import { lastActivityOf, runtimeView } from "../../apiserver/runtime-view.ts";
import { createMetrics } from "../../apiserver/metrics.ts";
import { createApiServerHandler, listen, type ApiServerDeps, type RunningApiServer } from "../../apiserver/server.ts";
import type { GatewayStatus } from "../../gateway/status.ts";
import type { XTrinode } from "../../schemas/generated/types.ts";
import { silentLogger } from "../../lib/logger.ts";
import { request } from "./http.ts";
import { MemoryStore, testLifecycle } from "./memory-store.ts";

const authz: AuthzConfig = {
  read: ["group:admins", { identity: "group:team-a", namespaces: ["team-a"] }, "viewer"],
  resume: ["group:admins", { identity: "group:team-a", namespaces: ["team-a"] }],
  suspend: ["group:admins"],
  activity: [],
};
const identities: Record<string, Identity> = {
  "admin-token": { username: "alice", groups: ["admins"] },
  "team-token": { username: "bob", groups: ["team-a"] },
  "viewer-token": { username: "viewer", groups: [] },
};

function gatewayStatus(): GatewayStatus {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "GatewayStatus",
    generatedAt: new Date().toISOString(),
    routes: { generation: 3, lastGoodAgeSeconds: 12, invalidUpdates: 0, rejectedSinceLastGood: 0 },
    held: { count: 2, max: 1000 },
    inFlight: { count: 1 },
    runtimes: [
      { namespace: "team-a", name: "sales", routeState: "PAUSED", backend: "http://a:8080", heldQueries: 2, inFlightQueries: 0 },
      { namespace: "team-b", name: "secret", routeState: "RUNNING", backend: "http://b:8080", heldQueries: 0, inFlightQueries: 1 },
    ],
    backends: [
      { url: "http://a:8080", health: "healthy", breaker: "closed", ejections: 0 },
      { url: "http://b:8080", health: "unhealthy", breaker: "open", ejections: 2, openSecondsLeft: 4 },
    ],
  };
}

describe("apiserver: the web console's endpoints", () => {
  let store: MemoryStore;
  let api: RunningApiServer;
  let gateway: http.Server;
  let gatewayUrl: string;
  let gatewayAuthorization: string[] = [];
  let gatewayAnswer = 200;

  async function start(overrides: Partial<ApiServerDeps> = {}): Promise<RunningApiServer> {
    const metrics = createMetrics();
    const lifecycle = testLifecycle(store, metrics);
    const handler = createApiServerHandler({
      lifecycle,
      store,
      authenticate: staticTokenAuthenticator(new Map(Object.entries(identities))),
      authz,
      metrics,
      logger: silentLogger(),
      console: loadConsoleAssets(),
      gatewayStatus: gatewayStatusReader(gatewayUrl, { timeoutMs: 2000, token: "gateway-admin" }),
      ...overrides,
    });
    return listen(handler, 0, "127.0.0.1");
  }
  const get = (path: string, token?: string) => request(`${api.url}${path}`, { token });

  before(async () => {
    gateway = http.createServer((req, res) => {
      gatewayAuthorization.push(req.headers.authorization ?? "");
      res.writeHead(gatewayAnswer, { "content-type": "application/json" });
      res.end(JSON.stringify(gatewayAnswer === 200 ? gatewayStatus() : { error: "no" }));
    });
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    store = new MemoryStore();
    store.addRuntime("team-a", "sales", {
      suspended: false,
      routeState: "RUNNING",
      annotations: { "xtrinode.io/suspend-requested-at": "2026-01-01T10:00:00Z", "xtrinode.io/suspend-requested-by": "alice" },
    });
    store.addRuntime("team-b", "secret", { suspended: true, routeState: "PAUSED" });
    store.runtimes.get("team-a/sales")!.status = {
      phase: "Ready",
      routeState: "RUNNING",
      readySince: "2026-01-01T11:00:00Z",
      catalogs: ["tpch", "gone"],
    };
    store.catalogs.set("team-a", [
      { name: "tpch", conditions: [{ type: "Ready", status: "True", reason: "SecretsFound", message: "ok" }] },
    ]);
    store.events.set("team-a/sales", [
      {
        type: "Normal",
        reason: "Resumed",
        message: "coordinator ready",
        at: "2026-01-01T11:00:01Z",
        count: 1,
        source: "xtrinode-operator",
      },
      {
        type: "Warning",
        reason: "NodePoolFailed",
        message: "<b>pool</b>",
        at: "2026-01-01T09:00:00Z",
        count: 3,
        source: "xtrinode-operator",
      },
    ]);
    api = await start();
  });
  after(async () => {
    await api?.close();
    gateway?.close();
  });

  it("GET /v1/whoami: 401 without a token; who the caller is and where it may do what", async () => {
    expect((await get("/v1/whoami")).status).to.equal(401);
    expect((await get("/v1/whoami", "wrong")).status).to.equal(401);
    const admin = (await get("/v1/whoami", "admin-token")).json;
    expect(admin).to.deep.include({ username: "alice", gateway: true });
    expect(admin.permissions.suspend).to.deep.equal({ everywhere: true, namespaces: [] });
    const team = (await get("/v1/whoami", "team-token")).json;
    expect(team.permissions.read).to.deep.equal({ everywhere: false, namespaces: ["team-a"] });
    expect(team.permissions.suspend).to.deep.equal({ everywhere: false, namespaces: [] });
  });

  it("lists runtimes with the caller's rights on each (allowed.resume / allowed.suspend)", async () => {
    const admin = (await get("/v1/runtimes", "admin-token")).json;
    expect(admin.items.map((item: { name: string; allowed: object }) => [item.name, item.allowed])).to.deep.equal([
      ["sales", { resume: true, suspend: true }],
      ["secret", { resume: true, suspend: true }],
    ]);
    expect(Date.parse(admin.serverTime)).to.be.a("number").and.not.NaN;
    const team = (await get("/v1/runtimes", "team-token")).json;
    expect(team.items.map((item: { name: string; allowed: object }) => [item.name, item.allowed])).to.deep.equal([
      ["sales", { resume: true, suspend: false }],
    ]);
    const viewer = (await get("/v1/runtimes", "viewer-token")).json;
    expect(
      viewer.items.every((item: { allowed: { resume: boolean; suspend: boolean } }) => !item.allowed.resume && !item.allowed.suspend),
    ).to.equal(true);
    // The server still refuses what the console would not offer.
    expect((await request(`${api.url}/v1/runtimes/team-a/sales/suspend`, { method: "POST", token: "viewer-token" })).status).to.equal(403);
    expect((await request(`${api.url}/v1/runtimes/team-a/sales/suspend`, { method: "POST", token: "team-token" })).status).to.equal(403);
  });

  it("GET …/details: Events newest first, catalogs in use with Ready (Missing when gone), history; authorised per namespace", async () => {
    const answer = await get("/v1/runtimes/team-a/sales/details", "team-token");
    expect(answer.status).to.equal(200);
    expect(answer.json.events.map((event: { reason: string }) => event.reason)).to.deep.equal(["Resumed", "NodePoolFailed"]);
    expect(answer.json.catalogs).to.deep.equal([
      { name: "tpch", ready: "True", reason: "SecretsFound", message: "ok" },
      { name: "gone", ready: "Missing", reason: null, message: null },
    ]);
    expect(answer.json.history).to.deep.equal([
      { at: "2026-01-01T11:00:01Z", what: "Resumed: coordinator ready", by: "xtrinode-operator" },
      { at: "2026-01-01T11:00:00Z", what: "ready (route RUNNING)", by: null },
      { at: "2026-01-01T10:00:00Z", what: "suspend requested", by: "alice" },
    ]);
    expect(answer.json.runtime.allowed).to.deep.equal({ resume: true, suspend: false });
    expect((await get("/v1/runtimes/team-b/secret/details", "team-token")).status).to.equal(403);
    expect((await get("/v1/runtimes/team-a/ghost/details", "admin-token")).status).to.equal(404);
    expect((await get("/v1/runtimes/team-a/sales/details")).status).to.equal(401);
  });

  it("a suspend or resume through the API records an Event that the history shows (who asked); a failing Event write fails nothing", async () => {
    store.addRuntime("team-a", "events", { suspended: false, routeState: "RUNNING" });
    expect((await request(`${api.url}/v1/runtimes/team-a/events/suspend`, { method: "POST", token: "admin-token" })).status).to.equal(202);
    const details = (await get("/v1/runtimes/team-a/events/details", "admin-token")).json;
    expect(details.events.map((event: { reason: string; message: string }) => `${event.reason}: ${event.message}`)).to.deep.equal([
      "SuspendRequested: suspend requested by alice",
    ]);
    expect(details.history.map((entry: { what: string }) => entry.what)).to.deep.equal(["suspend requested by alice"]); // not twice (Event and annotation)

    store.failing.add("createRuntimeEvent");
    try {
      expect((await request(`${api.url}/v1/runtimes/team-a/events/resume`, { method: "POST", token: "admin-token" })).status).to.equal(202);
    } finally {
      store.failing.delete("createRuntimeEvent");
    }
    const after = (await get("/v1/runtimes/team-a/events/details", "admin-token")).json;
    expect(after.runtime.suspended).to.equal(false);
    expect(after.history.map((entry: { what: string; by: string | null }) => `${entry.what} / ${entry.by}`)).to.include(
      "resume requested / alice",
    ); // from the annotation
  });

  it("GET /v1/gateway: read server-side with the gateway's admin token, limited to the namespaces the caller may read", async () => {
    gatewayAuthorization = [];
    const admin = (await get("/v1/gateway", "admin-token")).json as GatewayStatus;
    expect(admin.runtimes.map((runtime) => runtime.name)).to.deep.equal(["sales", "secret"]);
    expect(gatewayAuthorization).to.deep.equal(["Bearer gateway-admin"]);
    const team = (await get("/v1/gateway", "team-token")).json as GatewayStatus;
    expect(team.runtimes.map((runtime) => runtime.name)).to.deep.equal(["sales"]);
    expect(team.backends.map((backend) => backend.url)).to.deep.equal(["http://a:8080"]);
    expect(team.held).to.deep.equal({ count: 2, max: 1000 });
    expect((await get("/v1/gateway")).status).to.equal(401);

    gatewayAnswer = 401;
    try {
      const refused = await get("/v1/gateway", "admin-token");
      expect(refused.status).to.equal(503);
      expect(refused.json.error.code).to.equal("GatewayUnavailable");
      expect(refused.json.error.message).to.include("--gateway-token-file");
    } finally {
      gatewayAnswer = 200;
    }
    expect(visibleGatewayStatus(gatewayStatus(), () => true)).to.deep.include({ runtimes: gatewayStatus().runtimes });
  });

  it("GET /v1/gateway without --gateway-url: 404 naming the flag; whoami says there is no gateway", async () => {
    const bare = await start({ gatewayStatus: undefined });
    try {
      const answer = await request(`${bare.url}/v1/gateway`, { token: "admin-token" });
      expect(answer.status).to.equal(404);
      expect(answer.json.error.message).to.include("--gateway-url");
      expect((await request(`${bare.url}/v1/whoami`, { token: "admin-token" })).json.gateway).to.equal(false);
    } finally {
      await bare.close();
    }
  });

  it("serves the console's files with a strict CSP (also on JSON answers); /console redirects; --console=false: 404", async () => {
    const page = await get("/console/");
    expect(page.status).to.equal(200);
    expect(page.headers["content-type"]).to.match(/^text\/html/);
    expect(page.headers["content-security-policy"]).to.include("default-src 'self'").and.include("script-src 'self'");
    expect((await get("/console/app.js")).headers["content-type"]).to.match(/^text\/javascript/);
    expect((await get("/console/nope.js")).status).to.equal(404);
    const redirect = await get("/console");
    expect(redirect.status).to.equal(301);
    expect(redirect.headers.location).to.equal("/console/");
    const json = await get("/v1/runtimes", "admin-token");
    expect(json.headers["content-security-policy"]).to.include("frame-ancestors 'none'");
    expect(json.headers["x-content-type-options"]).to.equal("nosniff");

    const off = await start({ console: undefined });
    try {
      expect((await request(`${off.url}/console/`)).status).to.equal(404);
      expect((await request(`${off.url}/console/app.js`)).status).to.equal(404);
      expect((await request(`${off.url}/v1/runtimes`, { token: "admin-token" })).status).to.equal(200);
    } finally {
      await off.close();
    }
  });

  it("the console's script inserts server text as text only (no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)", () => {
    const script = readFileSync(new URL("../../apiserver/console/app.js", import.meta.url), "utf8");
    expect(script).not.to.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    const html = readFileSync(new URL("../../apiserver/console/index.html", import.meta.url), "utf8");
    expect(html).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=/i); // no inline script or handler
  });

  it("runtimeView: workers, hostnames, and the idle-suspend deadline (the operator's idle rule) only while RUNNING", () => {
    const base = {
      apiVersion: "xtrinode.io/v1alpha1" as const,
      kind: "XTrinode" as const,
      metadata: { name: "r", namespace: "n", annotations: { "xtrinode.io/last-activity": "2026-01-01T12:00:00Z" } },
      spec: { workers: { mode: "keda" as const, min: 0, max: 8 }, lifecycle: { wakeTTL: "30m" }, route: { hostnames: ["r.example.com"] } },
      status: { routeState: "RUNNING" as const, readySince: "2026-01-01T11:00:00Z", workers: 2 },
    };
    const view = runtimeView(base);
    expect(view.idleSuspendAt).to.equal("2026-01-01T12:30:00.000Z");
    expect(view.workers).to.deep.equal({ mode: "keda", ready: 2, desired: null, min: 0, max: 8 });
    expect(view.hostnames).to.deep.equal(["r.example.com"]);
    expect(runtimeView({ ...base, status: { ...base.status, routeState: "PAUSED" } }).idleSuspendAt).to.equal(null);
    expect(runtimeView({ ...base, spec: { ...base.spec, lifecycle: {} } }).idleSuspendAt).to.equal(null);
    expect(runtimeView({ ...base, spec: {} }).workers).to.deep.equal({ mode: "fixed", ready: 2, desired: 1, min: null, max: null });
  });

  it("lastActivityOf: the later of the gateway's annotation and the operator's status time; an unparseable one counts as absent", () => {
    const runtime = (annotation: string | undefined, statusTime: string | undefined): XTrinode => ({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "XTrinode",
      metadata: { name: "r", namespace: "n", annotations: annotation === undefined ? {} : { "xtrinode.io/last-activity": annotation } },
      spec: {},
      status: statusTime === undefined ? {} : { lastActivityTime: statusTime },
    });
    expect(lastActivityOf(runtime("2026-01-01T12:00:00Z", "2026-01-01T11:00:00Z"))).to.equal("2026-01-01T12:00:00Z");
    expect(lastActivityOf(runtime("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"))).to.equal("2026-01-01T11:00:00Z");
    expect(lastActivityOf(runtime("soon", "2026-01-01T11:00:00Z"))).to.equal("2026-01-01T11:00:00Z");
    expect(lastActivityOf(runtime(undefined, undefined))).to.equal(undefined);
  });
});
