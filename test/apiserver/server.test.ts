// The lifecycle API's one request path, in-process with an in-memory store: every route, resume included,
// answers through the same error boundary (JSON errors, security headers, the request histogram by route)
// and the router's 405/501 with Allow.
import { expect } from "chai";
import { pino } from "pino";
import { staticTokenAuthenticator, type AuthzConfig } from "../../apiserver/auth.ts";
import { createMetrics, type ApiServerMetrics } from "../../apiserver/metrics.ts";
import { createApiServerHandler, listen, type RunningApiServer } from "../../apiserver/server.ts";
import { request } from "./http.ts";
import { MemoryStore, testLifecycle } from "./memory-store.ts";

const authz: AuthzConfig = { read: ["admin"], resume: ["admin"], suspend: ["admin"], activity: ["admin"] };
const token = "admin-token";

/** A store whose runtime reads fail with an unexpected (non-API) error carrying internal detail. */
class BrokenStore extends MemoryStore {
  override async getRuntime(): Promise<never> {
    throw new Error("socket hang up at 10.0.0.7 (internal detail)");
  }
}

describe("apiserver: one request path, one error boundary", () => {
  let api: RunningApiServer;
  let metrics: ApiServerMetrics;
  let store: MemoryStore;
  const logLines: Array<Record<string, unknown>> = [];

  async function start(runtimeStore: MemoryStore): Promise<void> {
    store = runtimeStore;
    metrics = createMetrics();
    const logger = pino({ level: "info" }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
    const lifecycle = testLifecycle(store, metrics);
    const handler = createApiServerHandler({
      lifecycle,
      store,
      authenticate: staticTokenAuthenticator(new Map([[token, { username: "admin", groups: [] }]])),
      authz,
      metrics,
      logger,
    });
    api = await listen(handler, 0, "127.0.0.1");
  }
  const call = (method: string, path: string, withToken: string | null = token) =>
    request(`${api.url}${path}`, { method, token: withToken ?? undefined });

  afterEach(async () => {
    await api?.close();
    logLines.length = 0;
  });

  it("answers resume through the same boundary as every route: 202 with Retry-After and the security headers, counted by route", async () => {
    await start(new MemoryStore());
    store.addRuntime("team-a", "sales", { suspended: true, routeState: "PAUSED" });
    const answer = await call("POST", "/v1/runtimes/team-a/sales/resume");
    expect(answer.status).to.equal(202);
    expect(answer.headers["retry-after"]).to.equal("5");
    expect(answer.headers["content-security-policy"]).to.include("frame-ancestors 'none'");
    expect(answer.headers["x-content-type-options"]).to.equal("nosniff");
    const counted = async (route: string, status: string) =>
      (await metrics.requestDuration.get()).values.find(
        (v) => v.metricName?.endsWith("_count") && v.labels.route === route && v.labels.status === status,
      )?.value ?? 0;
    expect(await counted("/v1/runtimes/:namespace/:name/resume", "202")).to.equal(1);
    await call("GET", "/v2/nothing");
    expect(await counted("unmatched", "404")).to.equal(1);
  });

  it("maps an unexpected error to 500 Internal without its detail, and logs the cause once", async () => {
    await start(new BrokenStore());
    for (const path of ["/v1/runtimes/team-a/sales/resume", "/v1/runtimes/team-a/sales/suspend"]) {
      const answer = await call("POST", path);
      expect(answer.status).to.equal(500);
      expect(answer.json).to.deep.equal({
        error: { code: "Internal", message: "internal error in the lifecycle API server; see its log" },
      });
      expect(answer.text).not.to.include("10.0.0.7");
      expect(answer.headers["content-security-policy"]).to.be.a("string");
    }
    const failures = logLines.filter((line) => line.event === "request-failed");
    expect(failures.map((line) => line.path)).to.deep.equal(["/v1/runtimes/team-a/sales/resume", "/v1/runtimes/team-a/sales/suspend"]);
    expect(String(failures[0].err)).to.include("10.0.0.7");
  });

  it("answers errors as JSON with their headers: 401 with WWW-Authenticate, 405 with Allow on any route, 501 for unknown methods", async () => {
    await start(new MemoryStore());
    const unauthenticated = await call("POST", "/v1/runtimes/team-a/sales/resume", null);
    expect(unauthenticated.status).to.equal(401);
    expect(unauthenticated.headers["www-authenticate"]).to.contain("Bearer");
    expect(unauthenticated.json.error.code).to.equal("Unauthorized");
    for (const [path, allow] of [
      ["/v1/runtimes/team-a/sales/resume", "POST"],
      ["/v1/runtimes/team-a/sales/suspend", "POST"],
      ["/v1/runtimes/team-a/sales", "HEAD, GET"],
    ]) {
      const wrongMethod = await call("DELETE", path);
      expect(wrongMethod.status, path).to.equal(405);
      expect(wrongMethod.headers.allow, path).to.equal(allow);
      expect(wrongMethod.json.error.code).to.equal("MethodNotAllowed");
    }
    const unknownMethod = await call("PROPFIND", "/v1/runtimes/team-a/sales/resume");
    expect(unknownMethod.status).to.equal(501);
    expect(unknownMethod.json.error.code).to.equal("NotImplemented");
  });
});
