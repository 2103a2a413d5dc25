// The Trino protocol test server over raw HTTP: the shapes of each step, forwarded headers,
// transactions, /v1/query and /v1/info, the knobs (start-up delay, refuse, crash), process mode.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { startTrinoTestServer, QUERY_ID_PATTERN, type TrinoTestServer } from "../../fixtures/trino-server/index.ts";
import { externalBaseUrl, jettyRequestPath } from "../../fixtures/trino-server/protocol.ts";
import { useTrinoTestServer } from "./support.ts";

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: Record<string, any> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

const post = (server: TrinoTestServer, sql: string, headers: Record<string, string> = {}) =>
  call(`${server.url}/v1/statement`, { method: "POST", headers: { "X-Trino-User": "bob", ...headers }, body: sql });

/** Follows nextUri until the end; returns every answer (the POST first). */
async function run(server: TrinoTestServer, sql: string, headers: Record<string, string> = {}): Promise<Answer[]> {
  const answers = [await post(server, sql, headers)];
  while (answers.at(-1)!.body.nextUri) answers.push(await call(answers.at(-1)!.body.nextUri));
  return answers;
}

describe("Trino protocol test server over raw HTTP", function () {
  this.timeout(20_000);
  const current = useTrinoTestServer();
  let server: TrinoTestServer;
  beforeEach(() => {
    server = current();
  });

  it("answers POST → QUEUED, queued poll → RUNNING, executing → data → FINISHED with Trino's URIs", async () => {
    const answers = await run(server, "SELECT * FROM tpch.tiny.nation");
    const first = answers[0].body;
    expect(answers[0].status).to.equal(200);
    expect(answers[0].headers.get("content-type")).to.equal("application/json");
    expect(first.id).to.match(QUERY_ID_PATTERN);
    expect(first.stats).to.include({ state: "QUEUED", queued: true, scheduled: false, nodes: 0 });
    expect(first.warnings).to.deep.equal([]);
    expect(first.infoUri).to.equal(`${server.url}/ui/query.html?${first.id}`);
    const slug = new RegExp(`^${server.url}/v1/statement/queued/${first.id}/(y[0-9a-f]{32})/1$`).exec(first.nextUri)?.[1];
    expect(slug, first.nextUri).to.be.a("string");
    expect(answers[1].body.stats.state).to.equal("RUNNING");
    expect(answers[1].body.nextUri).to.equal(`${server.url}/v1/statement/executing/${first.id}/${slug}/0`);
    expect(answers[1].body.data).to.equal(undefined);
    const dataPages = answers.slice(2);
    expect(dataPages.map((a) => a.body.stats.state)).to.deep.equal(["RUNNING", "RUNNING", "FINISHED"]);
    expect(dataPages.map((a) => a.body.data.length)).to.deep.equal([10, 10, 5]);
    expect(dataPages[0].body.nextUri).to.equal(`${server.url}/v1/statement/executing/${first.id}/${slug}/1`);
    expect(dataPages[0].body.columns[1]).to.deep.equal({
      name: "name",
      type: "varchar(25)",
      typeSignature: { rawType: "varchar", arguments: [{ kind: "LONG", value: 25 }] },
    });
    expect(dataPages[2].body.nextUri).to.equal(undefined);
    expect(dataPages[2].body.stats.processedRows).to.equal(25);
    // A retry of the last URI replays its page; an old token is refused.
    const retry = await call(answers.at(-2)!.body.nextUri);
    expect(retry.body).to.deep.equal(dataPages[2].body);
    expect((await call(dataPages[0].body.nextUri.replace(/\/1$/, "/0"))).status).to.equal(404);
    expect((await call(first.nextUri.replace(slug!, "ybad"))).status).to.equal(404);
  });

  it("SELECT 1 takes exactly three requests (the benchmark flow)", async () => {
    const answers = await run(server, "SELECT 1");
    expect(answers.map((a) => a.body.stats.state)).to.deep.equal(["QUEUED", "RUNNING", "FINISHED"]);
    expect(answers[2].body.data).to.deep.equal([[1]]);
    expect(answers[2].headers.get("x-trino-test-served-by")).to.equal(server.coordinatorId);
  });

  it("builds nextUri and infoUri from Forwarded, X-Forwarded-Proto/Host/Port, else Host", async () => {
    const forwarded = await post(server, "SELECT 1", {
      "X-Forwarded-Proto": "https",
      "X-Forwarded-Host": "trino.example.com, proxy.internal",
    });
    expect(forwarded.body.nextUri).to.match(/^https:\/\/trino\.example\.com\/v1\/statement\/queued\//);
    expect(forwarded.body.infoUri).to.match(/^https:\/\/trino\.example\.com\/ui\/query\.html\?/);
    // The following page keeps using the forwarded view of the request that fetched it.
    const local = forwarded.body.nextUri.replace("https://trino.example.com", server.url);
    const next = await call(local, { headers: { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.com" } });
    expect(next.body.nextUri).to.match(/^https:\/\/gw\.example\.com\/v1\/statement\/executing\//);
    expect(externalBaseUrl({ "x-forwarded-proto": "https", "x-forwarded-host": "a.example", "x-forwarded-port": "8443" }, "h")).to.equal(
      "https://a.example:8443",
    );
    expect(externalBaseUrl({ "x-forwarded-proto": "https", "x-forwarded-host": "a.example", "x-forwarded-port": "443" }, "h")).to.equal(
      "https://a.example",
    );
    expect(externalBaseUrl({ forwarded: 'for=1.2.3.4;proto=https;host="b.example:9"' }, "h")).to.equal("https://b.example:9");
    expect(externalBaseUrl({ host: "c.example:8080" }, "h")).to.equal("http://c.example:8080");
    // Jetty ranks Forwarded above X-Forwarded-* (why the gateway drops a client's Forwarded header).
    expect(
      externalBaseUrl({ forwarded: "host=evil.example;proto=http", "x-forwarded-proto": "https", "x-forwarded-host": "gw.example" }, "h"),
    ).to.equal("http://evil.example");
  });

  it("requires a user and a statement like Trino", async () => {
    const noUser = await call(`${server.url}/v1/statement`, { method: "POST", body: "SELECT 1" });
    expect(noUser.status).to.equal(401);
    expect(noUser.headers.get("www-authenticate")).to.equal('Basic realm="Trino"');
    expect(noUser.body.text).to.equal("Basic authentication or X-Trino-Original-User or X-Trino-User must be sent");
    expect((await post(server, "  ")).status).to.equal(400);
    // Like a coordinator without authentication (Trino's insecure authenticator): no passwords.
    const basic = (credentials: string) => ({ Authorization: `Basic ${Buffer.from(credentials).toString("base64")}` });
    const withPassword = await call(`${server.url}/v1/statement`, { method: "POST", body: "SELECT 1", headers: basic("alice:secret") });
    expect(withPassword.status).to.equal(401);
    expect(withPassword.body.text).to.equal("Password not allowed for insecure authentication");
    expect(server.stats).to.include({ statements: 0, rejected: 3 });
    const userOnly = await call(`${server.url}/v1/statement`, { method: "POST", body: "SELECT 1", headers: basic("alice:") });
    expect(userOnly.status).to.equal(200);
    // /v1/query is authenticated too (statement polls are not).
    expect((await fetch(`${server.url}/v1/query/${userOnly.body.id}`, { method: "HEAD" })).status).to.equal(401);
  });

  it("starts transactions, accepts their id, clears them on COMMIT and rejects unknown ids", async () => {
    const started = await run(server, "START TRANSACTION");
    const id = started.at(-1)!.headers.get("x-trino-started-transaction-id");
    expect(id).to.match(/^[0-9a-f-]{36}$/);
    expect(started.at(-1)!.body.updateType).to.equal("START TRANSACTION");
    expect(server.openTransactions()).to.deep.equal([id]);
    const inside = await run(server, "SELECT 1", { "X-Trino-Transaction-Id": id! });
    expect(inside.at(-1)!.body.stats.state).to.equal("FINISHED");
    expect(server.query(inside[0].body.id)?.transactionId).to.equal(id);
    const unknown = await run(server, "SELECT 1", { "X-Trino-Transaction-Id": "00000000-0000-0000-0000-000000000000" });
    expect(unknown.at(-1)!.body.error.errorName).to.equal("UNKNOWN_TRANSACTION");
    const commit = await run(server, "COMMIT", { "X-Trino-Transaction-Id": id! });
    expect(commit.at(-1)!.headers.get("x-trino-clear-transaction-id")).to.equal("true");
    expect(server.openTransactions()).to.deep.equal([]);
    const again = await run(server, "ROLLBACK", { "X-Trino-Transaction-Id": "NONE" });
    expect(again.at(-1)!.body.error.errorName).to.equal("NOT_IN_TRANSACTION");
  });

  it("serves /v1/query/{id} (GET, HEAD, DELETE) and cancels through the nextUri", async () => {
    const submitted = await post(server, "SELECT sleep_ms(60000)");
    const id = submitted.body.id;
    const user = { "X-Trino-User": "bob" };
    // As Trino: not a query until the first poll of its queued nextUri (410, as for an unknown query).
    expect((await call(`${server.url}/v1/query/${id}`, { headers: user })).status).to.equal(410);
    expect((await fetch(`${server.url}/v1/query/${id}`, { method: "HEAD", headers: user })).status).to.equal(410);
    // HEAD of the queued nextUri is that first poll; a wrong slug is 404.
    expect((await fetch(submitted.body.nextUri.replace(/\/[^/]+\/1$/, "/wrongslug/1"), { method: "HEAD" })).status).to.equal(404);
    const head = await fetch(submitted.body.nextUri, { method: "HEAD" });
    expect(head.status).to.equal(200);
    expect(await head.text()).to.equal("");
    const info = await call(`${server.url}/v1/query/${id}`, { headers: { "X-Trino-User": "bob" } });
    expect(info.body).to.include({ queryId: id, state: "RUNNING", query: "SELECT sleep_ms(60000)" });
    expect(info.body.session.user).to.equal("bob");
    expect((await fetch(`${server.url}/v1/query/${id}`, { method: "HEAD", headers: user })).status).to.equal(200);
    expect((await fetch(`${server.url}/v1/query/20200101_000000_00000_xxxxx`, { method: "HEAD", headers: user })).status).to.equal(404);
    expect((await call(`${server.url}/v1/query/20200101_000000_00000_xxxxx`, { headers: user })).status).to.equal(404);
    // The client's own first poll after the HEAD: the same page (same token).
    const running = await call(submitted.body.nextUri);
    expect(running.body.stats.state).to.equal("RUNNING");
    // A long poll on the sleeping query answers RUNNING without data after maxWait.
    const waited = await call(`${running.body.nextUri}?maxWait=50ms`);
    expect(waited.body.stats.state).to.equal("RUNNING");
    expect(waited.body.data).to.equal(undefined);
    expect((await fetch(waited.body.nextUri, { method: "DELETE" })).status).to.equal(204);
    const after = await call(waited.body.nextUri);
    expect(after.body.error).to.include({ errorName: "USER_CANCELED" });
    expect(after.body.nextUri).to.equal(undefined);
    expect((await call(`${server.url}/v1/query/${id}`, { headers: user })).body.state).to.equal("FAILED");
    // Trino answers 204 for a DELETE of an unknown query.
    expect((await fetch(`${server.url}/v1/query/20200101_000000_00000_xxxxx`, { method: "DELETE", headers: user })).status).to.equal(204);
    // Data pages carry Trino's partialCancelUri: /v1/statement/executing/partialCancel/{queryId}/{stage}/{slug}/{token}
    const rows = await post(server, "SELECT * FROM xt_rows(10000)");
    let page = (await call(rows.body.nextUri)).body;
    while (!page.partialCancelUri && page.nextUri) page = (await call(page.nextUri)).body;
    expect(page.partialCancelUri).to.match(new RegExp(`/v1/statement/executing/partialCancel/${rows.body.id}/0/[^/]+/\\d+$`));
    expect((await fetch(page.partialCancelUri, { method: "DELETE" })).status).to.equal(204);
    expect(server.stats.partialCancels).to.equal(1);
  });

  it("reports starting in /v1/info during the start-up delay and fails queries with SERVER_STARTING_UP", async () => {
    const starting = await startTrinoTestServer({ startupDelayMs: 60_000 });
    try {
      const info = await call(`${starting.url}/v1/info`);
      expect(info.body).to.deep.include({ nodeVersion: { version: "480" }, environment: "test", coordinator: true, starting: true });
      expect(info.body.uptime).to.be.a("string");
      const answers = await run(starting, "SELECT 1");
      expect(answers.at(-1)!.body.error).to.include({ errorName: "SERVER_STARTING_UP", errorType: "INTERNAL_ERROR" });
      starting.setStarting(false);
      expect((await call(`${starting.url}/v1/info`)).body.starting).to.equal(false);
      expect((await run(starting, "SELECT 1")).at(-1)!.body.data).to.deep.equal([[1]]);
    } finally {
      await starting.close();
    }
  });

  it("refuses connections, accepts again on the same port with its state, and crashes", async () => {
    const { id } = (await post(server, "SELECT 1")).body;
    await server.refuse();
    let refused: unknown;
    await fetch(`${server.url}/v1/info`).catch((error: unknown) => (refused = error));
    expect(String((refused as Error & { cause?: { code?: string } })?.cause?.code)).to.equal("ECONNREFUSED");
    await server.accept();
    expect(server.query(id)?.state).to.equal("QUEUED");
    expect((await call(`${server.url}/v1/info`)).status).to.equal(200);
    await server.crash();
    let crashed: unknown;
    await fetch(`${server.url}/v1/info`).catch((error: unknown) => (crashed = error));
    expect(crashed).to.be.instanceOf(Error);
  });

  it("forgets the oldest queries beyond maxQueries", async () => {
    const small = await startTrinoTestServer({ maxQueries: 3 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await post(small, "SELECT 1")).body.id);
      expect(small.queryIds()).to.deep.equal(ids.slice(2));
      expect(small.stats.forgotten).to.equal(2);
      expect((await call(`${small.url}/v1/query/${ids[0]}`, { headers: { "X-Trino-User": "bob" } })).status).to.equal(404);
    } finally {
      await small.close();
    }
  });

  it("injects faults and reports stats through the /_test control API", async () => {
    await call(`${server.url}/_test/faults`, {
      method: "POST",
      body: JSON.stringify({ status: 500, count: 2, method: "GET", pathPrefix: "/v1/info" }),
    });
    expect((await call(`${server.url}/v1/info`)).status).to.equal(500);
    expect((await call(`${server.url}/v1/info`)).status).to.equal(500);
    expect((await call(`${server.url}/v1/info`)).status).to.equal(200);
    const { id } = (await post(server, "SELECT 1")).body;
    const stats = await call(`${server.url}/_test/stats`);
    expect(stats.body).to.deep.include({ coordinatorId: server.coordinatorId, queries: 1 });
    expect(stats.body.stats).to.include({ statements: 1, faultsInjected: 2, infoRequests: 1 });
    expect((await call(`${server.url}/_test/queries/${id}`)).body).to.include({ id, servedBy: server.name, user: "bob" });
  });

  it("fails the next N statements with NO_NODES_AVAILABLE at their first poll (/_test/settings noNodesStatements), like Trino just after start", async () => {
    await call(`${server.url}/_test/settings`, { method: "POST", body: JSON.stringify({ noNodesStatements: 2 }) });
    for (let i = 0; i < 2; i++) {
      const answers = await run(server, "SELECT 1");
      expect(answers[0].body.stats.state).to.equal("QUEUED");
      expect(answers).to.have.length(2);
      expect(answers[1].body.stats.state).to.equal("FAILED");
      expect(answers[1].body.error).to.include({
        errorName: "NO_NODES_AVAILABLE",
        errorCode: 65541,
        errorType: "INTERNAL_ERROR",
        message: "No nodes available to run query",
      });
    }
    await call(`${server.url}/_test/settings`, { method: "POST", body: JSON.stringify({ nodesIsEmptyStatements: 1 }) });
    const partitioning = await run(server, "SELECT 1");
    expect(partitioning.at(-1)!.body.error).to.include({
      errorName: "GENERIC_INTERNAL_ERROR",
      errorCode: 65536,
      message: "nodes is empty",
    });
    const answers = await run(server, "SELECT 1");
    expect(answers.flatMap((answer) => answer.body.data ?? [])).to.deep.equal([[1]]);
  });

  it("runs as a process: prints the ready line and exits on SIGTERM", async () => {
    const child: ChildProcess = spawn(process.execPath, ["fixtures/trino-server/main.ts", "--port", "0", "--startup-delay-ms", "60000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      const ready = JSON.parse(line);
      expect(ready.event).to.equal("listening");
      expect(ready.coordinatorId).to.match(/^[a-km-np-z2-9]{5}$/);
      expect((await call(`${ready.url}/v1/info`)).body.starting).to.equal(true);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

describe("Trino protocol test server: request targets as Jetty routes them", () => {
  it("resolves dot-segments, takes the path of an absolute-form target, refuses ambiguous encodings", () => {
    expect(jettyRequestPath("/v1/statement/executing/q/x/../../../../../v1/statement")).to.deep.equal({
      ok: true,
      path: "/v1/statement",
      search: "",
      absoluteForm: false,
      dotSegments: true,
    });
    expect(jettyRequestPath("http://gw:8080/v1/query/q?pruned=true")).to.deep.equal({
      ok: true,
      path: "/v1/query/q",
      search: "pruned=true",
      absoluteForm: true,
      dotSegments: false,
    });
    expect(jettyRequestPath("/v1/query/%2e%2e/x")).to.deep.equal({ ok: false, message: "Ambiguous URI path segment" });
    expect(jettyRequestPath("/v1/a%2Fb")).to.deep.equal({ ok: false, message: "Ambiguous URI path separator" });
    expect(jettyRequestPath("/../v1/info")).to.deep.equal({ ok: false, message: "Bad URI" });
  });
});
