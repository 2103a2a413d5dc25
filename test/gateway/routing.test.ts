// Real trino-client queries through the gateway to several Trino protocol test servers:
// each selector, multi-page results with sticky follow-ups, cancel, replicas without shared
// state, pool balancing and failover, the breaker, and follow-ups to a dead coordinator.
import { expect } from "chai";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import { SignJWT } from "jose";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import type { RunningGateway } from "../../gateway/server.ts";
import { coordinatorIdOf } from "../../gateway/query-id.ts";
import { backendTag } from "../../gateway/transactions.ts";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import { RoutesFile, runQuery, startTestGateway } from "./support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { freePort } from "../support/process.ts";

function rows(pages: QueryResult[]): unknown[] {
  return pages.flatMap((page) => page.data ?? []);
}

function postWithHost(url: string, host: string): Promise<QueryResult> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/v1/statement`, { method: "POST", headers: { host, "x-trino-user": "test" } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as QueryResult));
    });
    request.on("error", reject);
    request.end("SELECT 1");
  });
}

async function post(gateway: RunningGateway, runtime: string, sql = "SELECT n FROM xt_rows(10)"): Promise<QueryResult> {
  const response = await fetch(`${gateway.url}/v1/statement`, {
    method: "POST",
    headers: { "x-trino-user": "test", "x-trino-xtrinode": runtime },
    body: sql,
  });
  return (await response.json()) as QueryResult;
}

describe("gateway routing with trino-client", function () {
  this.timeout(30_000);
  let backends: Record<"a" | "b" | "p1" | "p2", TrinoTestServer>;
  let routes: RoutesFile;
  let gateway: RunningGateway;
  let replica: RunningGateway;
  const ownerOf = (result: { id: string }) =>
    Object.entries(backends).find(([, backend]) => backend.coordinatorId === coordinatorIdOf(result.id))?.[0];

  function routeList(): RouteEntry[] {
    return [
      { namespace: "team-a", name: "a", backend: backends.a.url, state: "RUNNING", hostnames: ["a.trino.example.com"], default: true },
      { namespace: "team-b", name: "b", backend: backends.b.url, state: "RUNNING" },
      { namespace: "shared", name: "p1", backend: backends.p1.url, state: "RUNNING", pool: "shared" },
      { namespace: "shared", name: "p2", backend: backends.p2.url, state: "RUNNING", pool: "shared" },
    ];
  }

  before(async () => {
    const [a, b, p1, p2] = await Promise.all([0, 1, 2, 3].map(() => startTrinoTestServer({ rowsPerPage: 3 })));
    backends = { a, b, p1, p2 };
    routes = new RoutesFile();
    routes.write(routeList());
    // Slow active checks: the breaker tests drive state through passive failures.
    const config = { health: { intervalMs: 60_000, timeoutMs: 500, failureThreshold: 2, ejectionBaseMs: 300, ejectionMaxMs: 2000 } };
    [gateway, replica] = await Promise.all([startTestGateway(routes, config), startTestGateway(routes, config)]);
  });
  after(async () => {
    await Promise.all([gateway?.close(), replica?.close()]);
    await Promise.all(Object.values(backends ?? {}).map((backend) => backend.close()));
    routes?.remove();
  });

  it("selects by header, hostname, pool and default route", async () => {
    const byHeader = await runQuery(
      Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-b/b" } }),
      "SELECT 1",
    );
    expect(ownerOf(byHeader[0])).to.equal("b");
    const byName = await runQuery(
      Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "b" } }),
      "SELECT 1",
    );
    expect(ownerOf(byName[0])).to.equal("b");
    expect(ownerOf(await postWithHost(gateway.url, "a.trino.example.com"))).to.equal("a");
    expect(ownerOf(await postWithHost(gateway.url, "shared.trino.example.com"))).to.be.oneOf(["p1", "p2"]);
    const byPoolHeader = await runQuery(
      Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "shared" } }),
      "SELECT 1",
    );
    expect(ownerOf(byPoolHeader[0])).to.be.oneOf(["p1", "p2"]);
    const byDefault = await runQuery(Trino.create({ server: gateway.url, auth: new BasicAuth("test") }), "SELECT 1");
    expect(ownerOf(byDefault[0])).to.equal("a");
  });

  it("returns every page of a multi-page result through sticky follow-ups, and forgets the finished query", async () => {
    const pages = await runQuery(
      Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-b/b" } }),
      "SELECT n FROM xt_rows(10)",
    );
    expect(pages.length).to.be.greaterThan(3);
    expect(new Set(pages.map((page) => page.id)).size).to.equal(1);
    expect(rows(pages)).to.deep.equal([[1], [2], [3], [4], [5], [6], [7], [8], [9], [10]]);
    expect(backends.b.query(pages[0].id)?.state).to.equal("FINISHED");
    expect(gateway.core.inFlight.get(pages[0].id)).to.equal(undefined);
  });

  it("cancels a running query with DELETE through the gateway", async () => {
    const trino = Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-b/b" } });
    const first = await post(gateway, "team-b/b", "SELECT sleep_ms(60000)");
    expect(gateway.core.inFlight.get(first.id)).to.not.equal(undefined);
    await trino.cancel(first.id);
    expect(backends.b.query(first.id)?.canceled).to.equal(true);
    expect(gateway.core.inFlight.get(first.id)).to.equal(undefined);
  });

  it("routes follow-ups alternating between two replicas (no shared state) to the owning coordinator", async () => {
    for (const runtime of ["team-b/b", "shared", "shared"]) {
      let page = await post(gateway, runtime);
      const owner = ownerOf(page);
      let hops = 0;
      while (page.nextUri) {
        const via = hops++ % 2 === 0 ? replica : gateway;
        const next = new URL(page.nextUri);
        page = (await (await fetch(`${via.url}${next.pathname}`)).json()) as QueryResult;
        expect(page.error, page.error?.message).to.equal(undefined);
        expect(ownerOf(page)).to.equal(owner);
      }
      expect(hops).to.be.greaterThan(1);
    }
  });

  it("with authentication on (bearer JWT), authenticates every follow-up too, also of queries whose coordinator is known", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "xtrinode-gw-jwt-"));
    const secret = "a-test-hmac-secret-of-enough-length-123";
    writeFileSync(path.join(dir, "jwt.key"), secret);
    const secured = await startTestGateway(routes, { auth: { jwt: { keyFile: path.join(dir, "jwt.key") } } });
    try {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("carol")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(secret));
      const trino = Trino.create({
        server: secured.url,
        extraHeaders: { Authorization: `Bearer ${token}`, "X-Trino-User": "carol", "X-Trino-XTrinode": "team-b/b" },
      });
      expect(rows(await runQuery(trino, "SELECT n FROM xt_rows(4)"))).to.deep.equal([[1], [2], [3], [4]]);
      const first = (await (
        await fetch(`${secured.url}/v1/statement`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "x-trino-xtrinode": "team-b/b" },
          body: "SELECT 1",
        })
      ).json()) as QueryResult;
      expect(secured.core.sticky.knownOwner(first.id)).to.equal(backends.b.url);
      const poll = new URL(first.nextUri!).pathname;
      expect((await fetch(`${secured.url}${poll}`)).status).to.equal(401);
      expect((await fetch(`${secured.url}${poll}`, { headers: { authorization: "Bearer not-a-token" } })).status).to.equal(401);
      expect((await fetch(`${secured.url}${poll}`, { headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
    } finally {
      await secured.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with password authentication on, sends coordinators the user and never the password, also on another replica's owner lookup", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "xtrinode-gw-basic-"));
    const passwordFile = path.join(dir, "password.db");
    writeFileSync(passwordFile, `alice:${bcrypt.hashSync("wonderland", 4)}\n`);
    const [first, second] = await Promise.all([0, 1].map(() => startTestGateway(routes, { auth: { passwordFile } })));
    try {
      // The test server refuses a password as a coordinator without authentication does.
      const trino = Trino.create({
        server: first.url,
        auth: new BasicAuth("alice", "wonderland"),
        extraHeaders: { "X-Trino-XTrinode": "team-b/b" },
      });
      expect(rows(await runQuery(trino, "SELECT n FROM xt_rows(4)"))).to.deep.equal([[1], [2], [3], [4]]);
      // A poll reaching a replica that never saw the query: it asks the backends HEAD /v1/query as alice.
      const credentials = { authorization: `Basic ${Buffer.from("alice:wonderland").toString("base64")}` };
      const started = (await (
        await fetch(`${first.url}/v1/statement`, {
          method: "POST",
          headers: { ...credentials, "x-trino-xtrinode": "team-b/b" },
          body: "SELECT 1",
        })
      ).json()) as QueryResult;
      expect(second.core.sticky.knownOwner(started.id)).to.equal(undefined);
      const polled = (await (await fetch(started.nextUri!.replace(first.url, second.url), { headers: credentials })).json()) as QueryResult;
      expect(polled.error).to.equal(undefined);
      expect(polled.id).to.equal(started.id);
      expect(second.core.sticky.knownOwner(started.id)).to.equal(backends.b.url);
    } finally {
      await Promise.all([first.close(), second.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("relays Trino's partialCancelUri to the owning coordinator", async () => {
    let page: QueryResult & { partialCancelUri?: string } = await post(gateway, "team-b/b", "SELECT n FROM xt_rows(30)");
    while (!page.partialCancelUri && page.nextUri)
      page = (await (await fetch(page.nextUri, { headers: { "x-trino-user": "test" } })).json()) as QueryResult;
    expect(page.partialCancelUri?.startsWith(`${gateway.url}/v1/statement/executing/partialCancel/${page.id}/`)).to.equal(true);
    const before = backends.b.stats.partialCancels;
    expect((await fetch(page.partialCancelUri!, { method: "DELETE", headers: { "x-trino-user": "test" } })).status).to.equal(204);
    expect(backends.b.stats.partialCancels).to.equal(before + 1);
    await fetch(page.nextUri!, { method: "DELETE" });
  });

  it("does not let a client steer nextUri with a Forwarded header (Jetty ranks it above X-Forwarded-*)", async () => {
    const response = await fetch(`${gateway.url}/v1/statement`, {
      method: "POST",
      headers: {
        "x-trino-user": "test",
        "x-trino-xtrinode": "team-b/b",
        forwarded: "host=evil.example;proto=https",
        "x-forwarded-port": "1",
      },
      body: "SELECT n FROM xt_rows(10)",
    });
    let page = (await response.json()) as QueryResult;
    expect(page.nextUri?.startsWith(`${gateway.url}/`), page.nextUri).to.equal(true);
    page = (await (
      await fetch(page.nextUri!, { headers: { "x-trino-user": "test", forwarded: "host=evil.example;proto=https" } })
    ).json()) as QueryResult;
    expect(page.nextUri?.startsWith(`${gateway.url}/`), page.nextUri).to.equal(true);
    await fetch(page.nextUri!, { method: "DELETE" });
  });

  it("keeps a transaction on the coordinator that started it, across a pool and across replicas (no shared state)", async () => {
    const drive = async (via: RunningGateway, sql: string, headers: Record<string, string> = {}) => {
      const all = { "x-trino-user": "test", "x-trino-xtrinode": "shared", ...headers };
      let response = await fetch(`${via.url}/v1/statement`, { method: "POST", headers: all, body: sql });
      const seen: Headers[] = [response.headers];
      let page = (await response.json()) as QueryResult;
      while (page.nextUri) {
        response = await fetch(page.nextUri, { headers: all });
        seen.push(response.headers);
        page = (await response.json()) as QueryResult;
      }
      return { page, header: (name: string) => seen.map((h) => h.get(name)).find(Boolean) ?? undefined };
    };
    const start = await drive(gateway, "START TRANSACTION");
    const token = start.header("x-trino-started-transaction-id");
    expect(token, "START TRANSACTION answers a transaction id").to.be.a("string");
    const owner = ownerOf(start.page) as "p1" | "p2";
    // The client gets Trino's id tagged with the owning backend; Trino knows only its own id.
    const [trinoId] = backends[owner].openTransactions();
    expect(token).to.equal(`${trinoId}.${backendTag(backends[owner].url)}`);
    for (let i = 0; i < 4; i++) {
      const via = i % 2 === 0 ? replica : gateway; // the other replica never saw the START TRANSACTION
      const inTransaction = await drive(via, "SELECT 1", { "x-trino-transaction-id": token! });
      expect(inTransaction.page.error, inTransaction.page.error?.message).to.equal(undefined);
      expect(ownerOf(inTransaction.page)).to.equal(owner);
    }
    const commit = await drive(replica, "COMMIT", { "x-trino-transaction-id": token! });
    expect(commit.page.error, commit.page.error?.message).to.equal(undefined);
    expect(backends[owner].openTransactions()).to.deep.equal([]);
  });

  it("shows a gateway error on the first poll, also through another replica (its message to its own user only)", async () => {
    const queued = await post(gateway, "team-z/ghost");
    expect(queued.stats?.state).to.equal("QUEUED");
    const path = new URL(queued.nextUri!).pathname;
    const own = (await (await fetch(`${gateway.url}${path}`, { headers: { "x-trino-user": "test" } })).json()) as QueryResult;
    expect(own.error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
    expect(own.error?.message).to.contain("team-z/ghost");
    // The replica shares no ticket key: the error name, not the sealed message.
    const failed = (await (await fetch(`${replica.url}${path}`, { headers: { "x-trino-user": "test" } })).json()) as QueryResult;
    expect(failed.error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
    expect(failed.error?.message).to.not.contain("team-z/ghost");
  });

  it("answers a poll for a query no coordinator owns with a Trino error, asking the backends once", async () => {
    const before = replica.core.sticky.lookupCount;
    for (let i = 0; i < 3; i++) {
      const page = (await (await fetch(`${replica.url}/v1/statement/executing/20260101_000000_00001_zzzzz/slug/1`)).json()) as QueryResult;
      expect(page.error?.errorName).to.equal("XTRINODE_QUERY_NOT_FOUND");
    }
    expect(replica.core.sticky.lookupCount - before).to.equal(1);
  });

  it("balances a pool by least outstanding queries", async () => {
    const started = [];
    for (let i = 0; i < 4; i++) started.push(await post(gateway, "shared"));
    const owners = started.map(ownerOf);
    expect(owners.filter((owner) => owner === "p1").length).to.equal(2);
    expect(owners.filter((owner) => owner === "p2").length).to.equal(2);
    for (const query of started)
      expect(
        (await fetch(`${gateway.url}/v1/query/${query.id}`, { method: "DELETE", headers: { "x-trino-user": "test" } })).status,
      ).to.equal(204);
  });

  it("lets a DRAINING member finish its queries while new queries avoid it; REMOVED takes none", async () => {
    const running = [await post(gateway, "shared/p1", "SELECT n FROM xt_rows(10)")];
    expect(ownerOf(running[0])).to.equal("p1");
    routes.write(routeList().map((route) => (route.name === "p1" ? { ...route, state: "DRAINING" as const } : route)));
    await eventually("the DRAINING route", () => gateway.core.routes.table.byKey.get("shared/p1")?.state === "DRAINING");
    for (let i = 0; i < 3; i++) expect(ownerOf(await post(gateway, "shared/p1"))).to.equal("p2");
    let page = running[0];
    const data: unknown[] = [];
    while (page.nextUri) {
      page = (await (await fetch(page.nextUri)).json()) as QueryResult;
      data.push(...(page.data ?? []));
    }
    expect(page.error).to.equal(undefined);
    expect(data).to.have.length(10);
    routes.write(routeList().map((route) => (route.name === "b" ? { ...route, state: "REMOVED" as const } : route)));
    await eventually("the REMOVED route", () => gateway.core.routes.table.byKey.get("team-b/b")?.state === "REMOVED");
    const removed = await runQuery(
      Trino.create({ server: gateway.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "team-b/b" } }),
      "SELECT 1",
    ).catch((error: Error) => error.message);
    expect(removed).to.contain("XTRINODE_RUNTIME_REMOVED");
    routes.write(routeList());
    await eventually("the routes restored", () => gateway.core.routes.table.byKey.get("team-b/b")?.state === "RUNNING");
    await eventually("the routes restored on the replica", () => replica.core.routes.table.byKey.get("team-b/b")?.state === "RUNNING");
  });

  it("fails over to the other pool member when one dies, ejects it, and closes the breaker after it returns", async () => {
    // A fresh gateway: no in-flight counts from earlier tests, so p1 (listed first) is tried first.
    const fresh = await startTestGateway(routes, {
      health: { intervalMs: 60_000, timeoutMs: 500, failureThreshold: 2, ejectionBaseMs: 300, ejectionMaxMs: 2000 },
    });
    try {
      await eventually("the first health check of p1", () => fresh.core.backends.state(backends.p1.url).health === "healthy");
      await backends.p1.refuse();
      const results = [];
      for (let i = 0; i < 4; i++)
        results.push(
          await runQuery(
            Trino.create({ server: fresh.url, auth: new BasicAuth("test"), extraHeaders: { "X-Trino-XTrinode": "shared" } }),
            "SELECT 1",
          ),
        );
      expect(results.map((pages) => ownerOf(pages[0]))).to.deep.equal(["p2", "p2", "p2", "p2"]);
      const breaker = fresh.core.backends.state(backends.p1.url).breaker;
      expect(breaker.phase).to.be.oneOf(["open", "half-open"]);
      expect(breaker.ejections).to.be.at.least(1);
      const metrics = await (await fetch(`${fresh.url}/metrics`)).text();
      expect(metrics).to.match(new RegExp(`xtrinode_gateway_backend_breaker_state\\{backend="${backends.p1.url}"\\} [12]`));
      // Back on the same port: the half-open probe after the back-off closes the breaker.
      await backends.p1.accept();
      await eventually("the breaker to close", () => fresh.core.backends.state(backends.p1.url).breaker.phase === "closed", 10_000);
      const owners = [];
      for (let i = 0; i < 2; i++) owners.push(ownerOf(await post(fresh, "shared")));
      expect(owners.sort()).to.deep.equal(["p1", "p2"]);
    } finally {
      await fresh.close();
    }
  });

  it("answers a follow-up whose coordinator died with a Trino error instead of hanging", async () => {
    const first = await post(gateway, "team-b/b");
    await backends.b.crash();
    const page = (await (await fetch(first.nextUri!)).json()) as QueryResult;
    expect(page.error?.errorName).to.equal("XTRINODE_BACKEND_UNREACHABLE");
    expect(page.error?.message).to.contain(first.id);
    await backends.b.accept();
  });
});

describe("gateway backend health when a route turns RUNNING", function () {
  this.timeout(30_000);

  it("forwards at once to a runtime whose route has just turned RUNNING, though its probes failed while it was resuming", async () => {
    const port = await freePort();
    const routes = new RoutesFile();
    const backendUrl = `http://127.0.0.1:${port}`;
    routes.write([{ namespace: "team-a", name: "fresh", backend: backendUrl, state: "RESUMING", default: true }]);
    // One probe round a minute: only the route's change can clear the failed probe in time.
    const gateway = await startTestGateway(routes, {
      health: { intervalMs: 60_000, timeoutMs: 500, failureThreshold: 1, ejectionBaseMs: 300, ejectionMaxMs: 2000 },
    });
    let backend: TrinoTestServer | undefined;
    try {
      await eventually(
        "the probe of the coordinator not yet listening to fail",
        () => gateway.core.backends.state(backendUrl).health === "unhealthy",
      );
      backend = await startTrinoTestServer({ port });
      routes.setState("team-a", "fresh", "RUNNING");
      await eventually("the route RUNNING", () => gateway.core.routes.table.byKey.get("team-a/fresh")?.state === "RUNNING");
      const pages = await runQuery(Trino.create({ server: gateway.url, auth: new BasicAuth("test") }), "SELECT 1");
      expect(rows(pages)).to.deep.equal([[1]]);
    } finally {
      await gateway.close();
      await backend?.close();
      routes.remove();
    }
  });
});
