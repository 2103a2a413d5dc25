// The gateway's edge without a Trino backend: Trino-protocol errors as real clients (trino-client)
// see them for unknown runtimes, auth (401/403, spoofing), rate limits, and probes that bypass both.
import { expect } from "chai";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import type { RunningGateway } from "../../gateway/server.ts";
import { RoutesFile, startTestGateway } from "./support/harness.ts";

async function firstResult(trino: Trino, query: string | { query: string; user?: string }): Promise<QueryResult> {
  const iterator = await trino.query(query as never);
  return (await iterator.next()).value;
}

function post(gateway: RunningGateway, headers: Record<string, string>): Promise<Response> {
  return fetch(`${gateway.url}/v1/statement`, { method: "POST", headers: { "x-trino-user": "alice", ...headers }, body: "SELECT 1" });
}

/** POST with a chosen Host header (fetch does not let a caller set Host). */
function postWithHost(gateway: RunningGateway, host: string): Promise<{ status: number; body: QueryResult }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${gateway.url}/v1/statement`,
      { method: "POST", headers: { host, "x-trino-user": "alice" } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as QueryResult }),
        );
      },
    );
    request.on("error", reject);
    request.end("SELECT 1");
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("gateway edge (no backend needed)", () => {
  let routes: RoutesFile;
  before(() => {
    routes = new RoutesFile();
    // PAUSED without a lifecycle API: new queries are held (QUEUED), which is all these tests need.
    routes.write([
      { namespace: "team-a", name: "analytics", backend: "http://127.0.0.1:9", state: "PAUSED", hostnames: ["analytics.example.com"] },
      { namespace: "team-b", name: "secret", backend: "http://127.0.0.1:9", state: "PAUSED" },
    ]);
  });
  after(() => routes.remove());

  describe("routing errors", () => {
    let gateway: RunningGateway;
    before(async () => (gateway = await startTestGateway(routes)));
    after(() => gateway.close());

    it("answers an unknown runtime with a FAILED QueryResults that trino-client shows, naming it", async () => {
      const trino = Trino.create({ server: gateway.url, extraHeaders: { "X-Trino-XTrinode": "team-z/ghost" } });
      const result = await firstResult(trino, "SELECT 1");
      expect(result.stats?.state).to.equal("FAILED");
      expect(result.error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
      expect(result.error?.message).to.contain("team-z/ghost");
      expect(result.nextUri).to.equal(undefined);
    });

    it("without header, hostname or default route, says how to pick a runtime", async () => {
      const result = await firstResult(Trino.create({ server: gateway.url }), "SELECT 1");
      expect(result.error?.message).to.contain("X-Trino-XTrinode");
    });

    it("holds a statement for a paused runtime with a QUEUED answer whose nextUri points back at the gateway", async () => {
      const { status, body } = await postWithHost(gateway, "analytics.example.com");
      expect(status).to.equal(200);
      expect(body.stats?.state).to.equal("QUEUED");
      expect(body.id).to.match(/^\d{8}_\d{6}_\d{5}_gw000$/);
      expect(body.nextUri).to.match(new RegExp(`^http://analytics\\.example\\.com/v1/statement/queued/${body.id}/`));
      const nextUri = body.nextUri!.replace("http://analytics.example.com", gateway.url);
      const cancel = await fetch(nextUri, { method: "DELETE" });
      expect(cancel.status).to.equal(204);
      expect(gateway.core.held.size).to.equal(0);
      // A later poll of the cancelled statement's nextUri is told so: its ticket is not adopted again.
      const replay = (await (await fetch(nextUri, { headers: { "x-trino-user": "alice" } })).json()) as QueryResult;
      expect(replay.error?.errorName).to.equal("USER_CANCELED");
      expect(gateway.core.held.size).to.equal(0);
      // trino-js cancel(id) is DELETE /v1/query/{id}: it cancels what this user holds under that id.
      const again = await postWithHost(gateway, "analytics.example.com");
      expect(
        (await fetch(`${gateway.url}/v1/query/${again.body.id}`, { method: "DELETE", headers: { "x-trino-user": "mallory" } })).status,
      ).to.equal(204);
      expect(gateway.core.held.size).to.equal(1);
      expect(
        (await fetch(`${gateway.url}/v1/query/${again.body.id}`, { method: "DELETE", headers: { "x-trino-user": "alice" } })).status,
      ).to.equal(204);
      expect(gateway.core.held.size).to.equal(0);
    });

    it("answers a follow-up path with malformed percent-encoding and keeps running", async () => {
      for (const path of ["/v1/query/%E0%A4%A", "/v1/statement/executing/%E0%A4%A/slug/1"]) {
        const response = await fetch(`${gateway.url}${path}`, { headers: { "x-trino-user": "alice" } });
        expect(response.status, path).to.be.within(400, 599);
      }
      expect((await fetch(`${gateway.url}/healthz`)).status).to.equal(200);
    });

    it("does not let an untrusted client steer nextUri with X-Forwarded-Host/Proto", async () => {
      const response = await post(gateway, {
        "x-trino-xtrinode": "team-a/analytics",
        "x-forwarded-host": "evil.example.com",
        "x-forwarded-proto": "https",
      });
      const body = (await response.json()) as QueryResult;
      expect(body.nextUri?.startsWith(`${gateway.url}/`)).to.equal(true);
      await fetch(body.nextUri!, { method: "DELETE" });
    });
  });

  describe("authentication and authorisation", () => {
    let dir: string;
    let gateway: RunningGateway;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "xtrinode-gw-auth-"));
      const passwordFile = path.join(dir, "password.db");
      writeFileSync(passwordFile, `alice:${bcrypt.hashSync("wonderland", 4)}\n`);
      gateway = await startTestGateway(routes, { auth: { passwordFile, authorization: [{ runtime: "team-a/*", users: ["alice"] }] } });
    });
    after(async () => {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("answers missing or wrong credentials with 401 and a WWW-Authenticate challenge", async () => {
      const trino = Trino.create({
        server: gateway.url,
        auth: new BasicAuth("alice", "wrong"),
        extraHeaders: { "X-Trino-XTrinode": "team-a/analytics" },
      });
      const error = await trino.query("SELECT 1").then(
        () => undefined,
        (caught: { response?: { status: number; headers: Record<string, string>; data: QueryResult } }) => caught,
      );
      expect(error?.response?.status).to.equal(401);
      expect(error?.response?.headers["www-authenticate"]).to.contain("Basic");
      expect(error?.response?.data.error?.errorName).to.equal("XTRINODE_UNAUTHENTICATED");
      expect((await post(gateway, { "x-trino-xtrinode": "team-a/analytics" })).status).to.equal(401);
    });

    it("rejects a spoofed X-Trino-User with 403", async () => {
      const response = await post(gateway, {
        authorization: basic("alice", "wonderland"),
        "x-trino-user": "bob",
        "x-trino-xtrinode": "team-a/analytics",
      });
      expect(response.status).to.equal(403);
      expect(((await response.json()) as QueryResult).error?.message).to.contain("cannot act as user bob");
    });

    it("denies a runtime the principal may not use (403) and admits an allowed one", async () => {
      const denied = await post(gateway, { authorization: basic("alice", "wonderland"), "x-trino-xtrinode": "team-b/secret" });
      expect(denied.status).to.equal(403);
      expect(((await denied.json()) as QueryResult).error?.message).to.contain("team-b/secret");
      const allowed = await post(gateway, { authorization: basic("alice", "wonderland"), "x-trino-xtrinode": "team-a/analytics" });
      const body = (await allowed.json()) as QueryResult;
      expect(allowed.status).to.equal(200);
      expect(body.stats?.state).to.equal("QUEUED");
      await fetch(body.nextUri!, { method: "DELETE", headers: { authorization: basic("alice", "wonderland") } });
    });

    it("lets /healthz, /readyz and /metrics through without credentials", async () => {
      for (const probe of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${gateway.url}${probe}`)).status, probe).to.equal(200);
    });
  });

  describe("rate limits", () => {
    let gateway: RunningGateway;
    before(async () => (gateway = await startTestGateway(routes, { rateLimit: { queriesPerSecond: 0.01, burst: 2 } })));
    after(() => gateway.close());

    it("refuses new queries beyond the bucket with a Trino error, never the probes or polls", async () => {
      const trino = Trino.create({ server: gateway.url, extraHeaders: { "X-Trino-XTrinode": "team-a/analytics" } });
      const held: QueryResult[] = [];
      for (let i = 0; i < 2; i++)
        held.push((await (await post(gateway, { "x-trino-xtrinode": "team-a/analytics" })).json()) as QueryResult);
      const limited = await firstResult(trino, "SELECT 1");
      expect(limited.error?.errorName).to.equal("XTRINODE_RATE_LIMITED");
      expect(limited.error?.message).to.contain("rate limit exceeded");
      // Saturated: probes and polls of running (here: held) queries still pass.
      for (const probe of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${gateway.url}${probe}`)).status, probe).to.equal(200);
      const poll = (await (await fetch(held[0].nextUri!)).json()) as QueryResult;
      expect(poll.stats?.state).to.equal("QUEUED");
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).to.match(/xtrinode_gateway_rate_limited_total\{principal_kind="address"\} 1/);
      expect(metrics).to.match(/xtrinode_gateway_queries_held\{namespace="team-a",runtime="analytics"\} 2/);
      expect(metrics).to.match(/xtrinode_gateway_query_pressure\{namespace="team-b",runtime="secret"\} 0/);
      for (const query of held) await fetch(query.nextUri!, { method: "DELETE" });
      expect(gateway.core.held.size).to.equal(0);
    });
  });
});
