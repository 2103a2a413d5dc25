// Selecting a runtime without DNS or custom headers, through a real `xtrinode gateway` process: the
// client tag `xtrinode=namespace/name` (what JDBC clientTags and `trino --client-tags` send) with
// trino-client, and trino-gateway's X-Trino-Routing-Group over raw HTTP. Authorisation applies exactly as
// for the X-Trino-XTrinode header; an unknown or denied runtime is a Trino error naming it.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import bcrypt from "bcryptjs";
import yaml from "js-yaml";
import { BasicAuth, Trino, type QueryResult } from "trino-client";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import { gatewayArgs, xtrinodeBin } from "../support/process.ts";
import { RoutesFile, runQuery } from "./support/harness.ts";

const basic = (user: string) => `Basic ${Buffer.from(`${user}:pw-${user}`).toString("base64")}`;

describe("gateway: runtime selection by client tag and routing group (gateway process)", function () {
  this.timeout(60_000);
  let dir: string;
  let routes: RoutesFile;
  let gatewayProcess: ChildProcess;
  let url: string;
  const servers: Record<string, TrinoTestServer> = {};

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-selectors-"));
    servers.analytics = await startTrinoTestServer({ name: "team-a/analytics" });
    servers.etl = await startTrinoTestServer({ name: "team-b/etl" });
    routes = new RoutesFile();
    routes.write([
      {
        namespace: "team-a",
        name: "analytics",
        backend: servers.analytics.url,
        state: "RUNNING",
        hostnames: ["analytics.trino.example.com"],
      },
      { namespace: "team-b", name: "etl", backend: servers.etl.url, state: "RUNNING", pool: "batch", default: true },
    ]);
    const passwordFile = path.join(dir, "password.db");
    writeFileSync(passwordFile, ["alice", "bob"].map((user) => `${user}:${bcrypt.hashSync(`pw-${user}`, 4)}\n`).join(""));
    const config = path.join(dir, "gateway.yaml");
    // alice may use team-a only; bob every runtime (rules: first match by runtime).
    writeFileSync(
      config,
      yaml.dump({
        auth: {
          passwordFile,
          authorization: [
            { runtime: "team-a/*", users: ["alice", "bob"] },
            { runtime: "*", users: ["bob"] },
          ],
        },
      }),
    );
    gatewayProcess = spawn(process.execPath, [xtrinodeBin, ...gatewayArgs({ routesFile: routes.file, configFile: config, workers: 1 })], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    url = await new Promise<string>((resolve, reject) => {
      let stderr = "";
      gatewayProcess.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      gatewayProcess.once("exit", (code) => reject(new Error(`gateway exited (${code}): ${stderr}`)));
      createInterface({ input: gatewayProcess.stdout! }).on("line", (line) => {
        const event = (line.startsWith("{") ? JSON.parse(line) : {}) as { event?: string; url?: string };
        if (event.event === "listening" && event.url) resolve(event.url.replace("0.0.0.0", "127.0.0.1"));
      });
    });
  });

  after(async () => {
    if (gatewayProcess && gatewayProcess.exitCode === null) {
      const exited = new Promise((resolve) => gatewayProcess.once("exit", resolve));
      gatewayProcess.kill("SIGTERM");
      await exited;
    }
    await Promise.all(Object.values(servers).map((server) => server.close()));
    routes?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Which test server ran a query id. */
  const servedBy = (id: string) => Object.entries(servers).find(([, server]) => server.query(id))?.[0];

  /** A new statement over raw HTTP, its first poll followed (gateway errors arrive there). */
  async function post(
    headers: Record<string, string>,
    sql = "SELECT 1",
  ): Promise<{ status: number; id: string; error?: { errorName: string; message: string } }> {
    const response = await fetch(`${url}/v1/statement`, {
      method: "POST",
      headers: { "x-trino-user": "bob", authorization: basic("bob"), ...headers },
      body: sql,
    });
    let page = (await response.json()) as QueryResult;
    if (!page.error && page.nextUri && response.status === 200) {
      page = (await (
        await fetch(page.nextUri, {
          headers: { "x-trino-user": headers["x-trino-user"] ?? "bob", authorization: headers.authorization ?? basic("bob") },
        })
      ).json()) as QueryResult;
    }
    if (page.nextUri) await fetch(page.nextUri, { method: "DELETE", headers: { authorization: headers.authorization ?? basic("bob") } });
    return { status: response.status, id: page.id, error: page.error as { errorName: string; message: string } | undefined };
  }

  it("trino-client: the client tag xtrinode=namespace/name selects the runtime (over the default route)", async () => {
    const trino = Trino.create({
      server: url,
      auth: new BasicAuth("bob", "pw-bob"),
      extraHeaders: { "X-Trino-Client-Tags": "dashboard,xtrinode=team-a/analytics" },
    });
    const iterator = await trino.query("SELECT n FROM xt_rows(3)");
    const pages: QueryResult[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) pages.push(next.value);
    expect(pages.flatMap((page) => page.data ?? [])).to.deep.equal([[1], [2], [3]]);
    expect(servedBy(pages[0].id)).to.equal("analytics");
    // Without the tag, the default route.
    const plain = Trino.create({ server: url, auth: new BasicAuth("bob", "pw-bob") });
    expect((await runQuery(plain, "SELECT n FROM xt_rows(1)")).flatMap((page) => page.data ?? [])).to.deep.equal([[1]]);
  });

  it("trino-client: an unknown runtime named by a tag is a Trino error naming the tag; a denied one is refused like the header", async () => {
    const unknown = Trino.create({
      server: url,
      auth: new BasicAuth("bob", "pw-bob"),
      extraHeaders: { "X-Trino-Client-Tags": "xtrinode=team-z/nope" },
    });
    const error = await runQuery(unknown, "SELECT 1").then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(error).to.equal(
      'XTRINODE_UNKNOWN_RUNTIME: XTrinode runtime "team-z/nope" (from the client tag xtrinode=team-z/nope) is not known to this gateway',
    );
    const denied = await post({ "x-trino-user": "alice", authorization: basic("alice"), "x-trino-client-tags": "xtrinode=team-b/etl" });
    expect(denied.status).to.equal(403);
    expect(denied.error?.errorName).to.equal("XTRINODE_ACCESS_DENIED");
    expect(denied.error?.message).to.equal("access denied: alice may not use XTrinode runtime team-b/etl");
    // The same user by the header: the very same answer.
    const byHeader = await post({ "x-trino-user": "alice", authorization: basic("alice"), "x-trino-xtrinode": "team-b/etl" });
    expect([byHeader.status, byHeader.error?.errorName, byHeader.error?.message]).to.deep.equal([
      403,
      "XTRINODE_ACCESS_DENIED",
      "access denied: alice may not use XTrinode runtime team-b/etl",
    ]);
    const allowed = await post({ "x-trino-user": "alice", authorization: basic("alice"), "x-trino-client-tags": "xtrinode=analytics" });
    expect([allowed.error, servedBy(allowed.id)]).to.deep.equal([undefined, "analytics"]);
  });

  it("raw HTTP: X-Trino-Routing-Group names a runtime or a pool; the order is header, tag, routing group, hostname", async () => {
    expect(servedBy((await post({ "x-trino-routing-group": "team-a/analytics" })).id)).to.equal("analytics");
    expect(servedBy((await post({ "x-trino-routing-group": "batch", host: "analytics.trino.example.com" })).id)).to.equal("etl");
    expect(servedBy((await post({ "x-trino-client-tags": "xtrinode=team-a/analytics", "x-trino-routing-group": "batch" })).id)).to.equal(
      "analytics",
    );
    expect(servedBy((await post({ "x-trino-xtrinode": "team-b/etl", "x-trino-client-tags": "xtrinode=team-a/analytics" })).id)).to.equal(
      "etl",
    );
    const unknown = await post({ "x-trino-routing-group": "nope" });
    expect(unknown.error?.errorName).to.equal("XTRINODE_UNKNOWN_RUNTIME");
    expect(unknown.error?.message).to.equal('XTrinode runtime "nope" (from the X-Trino-Routing-Group header) is not known to this gateway');
    const denied = await post({ "x-trino-user": "alice", authorization: basic("alice"), "x-trino-routing-group": "batch" });
    expect([denied.status, denied.error?.message]).to.deep.equal([403, "access denied: alice may not use XTrinode runtime pool:batch"]);
  });
});
