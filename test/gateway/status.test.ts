// The operator endpoint GET /xtrinode/v1/status of a real `xtrinode gateway` process: the document
// (schema-valid, per runtime: route state, backend, held and in-flight counts; per backend: health
// and breaker; routes generation and last-good age) and who may read it (admin token; with auth on,
// admin users and groups; nobody when neither is configured). Never forwarded to Trino.
import { expect } from "chai";
import bcrypt from "bcryptjs";
import { writeFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import { gatewayStatusPath, type GatewayStatus } from "../../gateway/status.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import { killAllChildren, spawnGateway } from "../support/process.ts";
import { RoutesFile } from "./support/harness.ts";
import { eventually } from "../support/eventually.ts";

const adminToken = "status-test-admin-token-0123456789abcdef";

async function startGatewayProcess(routes: RoutesFile, config: Record<string, unknown>): Promise<string> {
  const configFile = path.join(routes.dir, `gateway-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(configFile, yaml.dump({ health: { intervalMs: 200, failureThreshold: 1 }, ...config }));
  const gateway = await spawnGateway({ routesFile: routes.file, configFile, workers: 1 }, { readyEvent: "listening" });
  return String(gateway.ready.url);
}

async function getStatus(
  url: string,
  authorization?: string,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}${gatewayStatusPath}`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("gateway status endpoint (process)", function () {
  this.timeout(30_000);
  let backend: TrinoTestServer;
  let routes: RoutesFile;
  let tokenFile: string;

  before(async () => {
    // Queries stay QUEUED for many polls: one submitted query stays in flight while the test looks.
    backend = await startTrinoTestServer({ queuedPolls: 1000 });
    routes = new RoutesFile();
    routes.write([
      { namespace: "team-a", name: "live", backend: backend.url, state: "RUNNING", hostnames: ["live.example.com"], default: true },
      // Nothing listens on port 9: probes fail (unhealthy), and with no lifecycle API a statement stays held.
      { namespace: "team-b", name: "sleepy", backend: "http://127.0.0.1:9", state: "PAUSED", pool: "shared" },
    ]);
    tokenFile = path.join(routes.dir, "admin.token");
    writeFileSync(tokenFile, `${adminToken}\n`);
    writeFileSync(
      path.join(routes.dir, "password.db"),
      `ops:${bcrypt.hashSync("ops-pw", 4)}\nanalyst:${bcrypt.hashSync("analyst-pw", 4)}\n`,
    );
  });
  afterEach(() => killAllChildren());
  after(async () => {
    await backend.close();
    routes.remove();
  });

  it("reports routes, per-runtime held and in-flight queries, and backend health to the admin token", async () => {
    const url = await startGatewayProcess(routes, { admin: { tokenFile } });
    const trinoHeaders = { "x-trino-user": "alice", "content-type": "text/plain" };
    const running = await fetch(`${url}/v1/statement`, {
      method: "POST",
      headers: { ...trinoHeaders, "x-trino-xtrinode": "team-a/live" },
      body: "SELECT 1",
    });
    expect(((await running.json()) as { nextUri?: string }).nextUri).to.be.a("string");
    const held = await fetch(`${url}/v1/statement`, {
      method: "POST",
      headers: { ...trinoHeaders, "x-trino-xtrinode": "team-b/sleepy" },
      body: "SELECT 2",
    });
    expect(((await held.json()) as { id: string }).id).to.match(/gw000$/);

    const body = (await eventually("both backends probed", async () => {
      const answer = await getStatus(url, `Bearer ${adminToken}`);
      expect(answer.status).to.equal(200);
      expect(answer.headers.get("cache-control")).to.equal("no-store");
      const document = answer.body as unknown as GatewayStatus;
      // Wait for the first probe round to settle both backends' health.
      return document.backends.every((entry) => entry.health !== "unknown") ? document : undefined;
    })) as GatewayStatus;
    expect(validateAgainstSchema("GatewayStatus", body)).to.deep.equal([]);
    expect(body.routes.generation).to.equal(1);
    expect(body.routes.lastGoodAgeSeconds).to.be.a("number").and.at.least(0);
    expect(body.routes.invalidUpdates).to.equal(0);
    expect(body.routes.rejectedSinceLastGood).to.equal(0);
    expect(body.held).to.deep.equal({ count: 1, max: 1000 });
    expect(body.inFlight).to.deep.equal({ count: 1 });
    expect(body.runtimes).to.deep.equal([
      {
        namespace: "team-a",
        name: "live",
        routeState: "RUNNING",
        backend: backend.url,
        hostnames: ["live.example.com"],
        default: true,
        heldQueries: 0,
        inFlightQueries: 1,
      },
      {
        namespace: "team-b",
        name: "sleepy",
        routeState: "PAUSED",
        backend: "http://127.0.0.1:9",
        pool: "shared",
        heldQueries: 1,
        inFlightQueries: 0,
      },
    ]);
    const byUrl = new Map(body.backends.map((entry) => [entry.url, entry]));
    expect(byUrl.get(backend.url)).to.include({ health: "healthy", breaker: "closed", inFlightQueries: 1 });
    expect(byUrl.get("http://127.0.0.1:9")).to.include({ health: "unhealthy", inFlightQueries: 0 });
    // Only the one query reached the coordinator.
    expect(backend.stats.statements).to.equal(1);
  });

  it("refuses a missing or wrong token (401), other methods (405), and is closed to all when no admin is configured (403)", async () => {
    const url = await startGatewayProcess(routes, { admin: { tokenFile } });
    const missing = await getStatus(url);
    expect(missing.status).to.equal(401);
    expect(missing.headers.get("www-authenticate")).to.contain("Bearer");
    expect((await getStatus(url, `Bearer ${adminToken}x`)).status).to.equal(401);
    expect((await getStatus(url, `Basic ${Buffer.from(`x:${adminToken}`).toString("base64")}`)).status).to.equal(401);
    const post = await fetch(`${url}${gatewayStatusPath}`, { method: "POST", headers: { authorization: `Bearer ${adminToken}` } });
    expect(post.status).to.equal(405);

    const closed = await startGatewayProcess(routes, {});
    const refused = await getStatus(closed, `Bearer ${adminToken}`);
    expect(refused.status).to.equal(403);
    expect(JSON.stringify(refused.body)).to.contain("admin.tokenFile");
  });

  it("with authentication on: admin groups and users may read it, other principals get 403, no credentials 401", async () => {
    const url = await startGatewayProcess(routes, {
      auth: { passwordFile: path.join(routes.dir, "password.db"), groups: { operators: ["ops"] } },
      admin: { groups: ["operators"], tokenFile },
    });
    expect((await getStatus(url, basic("ops", "ops-pw"))).status).to.equal(200);
    expect((await getStatus(url, `Bearer ${adminToken}`)).status).to.equal(200);
    const analyst = await getStatus(url, basic("analyst", "analyst-pw"));
    expect(analyst.status).to.equal(403);
    expect(JSON.stringify(analyst.body)).to.contain("admin.users or admin.groups");
    expect((await getStatus(url, basic("ops", "wrong"))).status).to.equal(401);
    expect((await getStatus(url)).status).to.equal(401);
  });

  it("refuses to start with an admin token shorter than 32 characters, naming the field", async () => {
    const shortToken = path.join(routes.dir, "short.token");
    writeFileSync(shortToken, "too-short");
    const error = await startGatewayProcess(routes, { admin: { tokenFile: shortToken } }).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(error?.message).to.contain("admin.tokenFile").and.contain("32 characters");
  });
});
