// Real Trino behind a real `xtrinode gateway`, queried by the real clients analysts use: the Trino
// CLI, the JDBC driver (as a BI tool drives it), the Python client (DB-API, SQLAlchemy) and
// trino-client. ONE Trino JVM serves the whole tier; its start is the cold start of the auto-resume
// test (route PAUSED → queries held → Trino starts → route RUNNING → every query completes).
// Trino is started from the renderer's own coordinator and catalog ConfigMaps (test/trino/support/layout.ts).
// A second gateway replica (same XTRINODE_GATEWAY_TICKET_KEY) takes every poll of a query posted to the first.
// An nginx TLS ingress (test/trino/support/tls-ingress.ts) fronts the gateway for https clients.
// The spooling protocol needs a second Trino (spooling to a moto S3 server): started only for those tests.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BasicAuth, Trino } from "trino-client";
import yaml from "js-yaml";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { skipForMissingPeer, peerProgress } from "../support/peers.ts";
import { scrapeMetricSum } from "../support/metrics-text.ts";
import { spawnGateway, type ChildUnderTest } from "../support/process.ts";
import {
  ensurePythonTrino,
  ensureTrinoCli,
  ensureTrinoJdbc,
  ensureTrinoServer,
  freePort,
  javaBin,
  startPostgres,
  startS3Store,
  startTrino,
  type RunningPostgres,
  type RunningTrino,
} from "../support/trino-peers.ts";
import { directQuery, runCli, runJdbc, runPython, spawnCli, writeHostsFile, type ClientPeers } from "./support/clients.ts";
import { layOutCoordinator, type CoordinatorLayout } from "./support/layout.ts";
import { startTlsIngress, type TlsIngress } from "./support/tls-ingress.ts";
import { postgresSecret, renderFixture, runtimeName, runtimeNamespace } from "./support/runtime.ts";
import { eventually } from "../support/eventually.ts";
import { writeRoutesFile } from "../support/routes-file.ts";

const hostname = "analytics.trino.test";
const runtimeKey = `${runtimeNamespace}/${runtimeName}`;
const postgresPassword = `pg-${Math.random().toString(36).slice(2)}-secret`;
const ticketKey = `ticket-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}-shared-by-replicas`;
const ordersSql = "SELECT orderkey, custkey, orderstatus, totalprice, orderdate, comment FROM tpch.tiny.orders ORDER BY orderkey";

describe("real Trino behind the gateway, real clients (CLI, JDBC, Python, trino-client)", function () {
  this.timeout(300_000);
  const work = mkdtempSync(path.join(tmpdir(), "xtrinode-real-trino-"));
  const routesFile = path.join(work, "routes.yaml");
  const gatewayConfig = path.join(work, "gateway.yaml");
  let peers: ClientPeers;
  let postgres: RunningPostgres | undefined;
  let trino: RunningTrino | undefined;
  let gateway: ChildUnderTest | undefined;
  let ingress: TlsIngress | undefined;
  let layout: CoordinatorLayout;
  let trinoHome: string;
  let trinoPort: number;
  let gatewayPort: number;
  let routes: RouteEntry[];

  /** The fixture runtime's coordinator laid out under `root` on `port`, its PostgreSQL secret supplied (the tier's one layout recipe). */
  function layOutFixtureCoordinator(root: string, port: number, extraConfig?: Record<string, string>): CoordinatorLayout {
    return layOutCoordinator(renderFixture(postgres!.port), {
      root,
      home: trinoHome,
      port,
      secrets: { [`${postgresSecret}/username`]: postgres!.user, [`${postgresSecret}/password`]: postgresPassword },
      extraConfig,
    });
  }

  function writeRoutes(next: RouteEntry[]): void {
    routes = next;
    writeRoutesFile(routesFile, routes);
  }

  /** One gateway replica on the tier's routes and config; every replica shares the ticket key (follow-ups cross replicas). */
  function spawnGatewayReplica(): Promise<ChildUnderTest> {
    return spawnGateway(
      { routesFile, configFile: gatewayConfig, workers: 1 },
      { env: { XTRINODE_LOG_LEVEL: "info", XTRINODE_GATEWAY_TICKET_KEY: ticketKey } },
    );
  }

  const gw = () => `http://${hostname}:${gatewayPort}`;
  const jdbcVia = (host: string, port: number) => `jdbc:trino://${host}:${port}`;

  before(async function () {
    this.timeout(900_000);
    const started = Date.now();
    try {
      javaBin();
      [trinoHome, peers] = await Promise.all([
        ensureTrinoServer(),
        (async (): Promise<ClientPeers> => ({
          cliJar: await ensureTrinoCli(),
          jdbcJar: await ensureTrinoJdbc(),
          python: await ensurePythonTrino(),
          hostsFile: writeHostsFile(path.join(work, "hosts"), [hostname, "unknown.trino.test"]),
        }))(),
      ]);
      postgres = await startPostgres(postgresPassword);
    } catch (error) {
      skipForMissingPeer(this, error, "the real-Trino tier (test/trino)");
    }
    await postgres!.psql("CREATE DATABASE sales");
    await postgres!.psql(
      "CREATE TABLE orders (id integer PRIMARY KEY, customer text, amount numeric(10,2)); INSERT INTO orders VALUES (1, 'ada', 10.50), (2, 'grace', 20.25), (3, 'edsger', 7.00)",
      "sales",
    );
    trinoPort = await freePort();
    layout = layOutFixtureCoordinator(path.join(work, "coordinator"), trinoPort);
    writeRoutes([
      { namespace: runtimeNamespace, name: runtimeName, backend: `http://127.0.0.1:${trinoPort}`, state: "PAUSED", hostnames: [hostname] },
    ]);
    writeFileSync(gatewayConfig, yaml.dump({ trustedProxies: ["127.0.0.1/32"], health: { intervalMs: 500 }, held: { pollWaitMs: 1000 } }));
    gateway = await spawnGatewayReplica();
    gatewayPort = Number(new URL(String(gateway.ready.url)).port);
    peerProgress("trino", `peers ready in ${Date.now() - started} ms; coordinator laid out with: ${layout.outsidePod.join("; ")}`);
  });

  after(async () => {
    await ingress?.stop();
    await gateway?.kill();
    await trino?.stop();
    await postgres?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("auto-resume with a real cold start: CLI, JDBC and Python queries held while Trino starts from the rendered config, all complete once the route is RUNNING", async function () {
    this.timeout(600_000);
    const cli = runCli(peers, gw(), "SELECT id, customer, amount FROM sales.public.orders ORDER BY id");
    const jdbc = runJdbc(peers, "query", jdbcVia(hostname, gatewayPort), [
      "SELECT count(*) AS orders, sum(totalprice) AS total FROM tpch.tiny.orders",
    ]);
    const python = runPython(peers, {
      mode: "query",
      host: hostname,
      port: gatewayPort,
      resolve: { [hostname]: "127.0.0.1" },
      sql: "SELECT nationkey, name FROM tpch.tiny.nation ORDER BY nationkey",
    });
    await eventually(
      "three statements held by the gateway",
      async () =>
        (await scrapeMetricSum(`http://127.0.0.1:${gatewayPort}`, "xtrinode_gateway_queries_held", { runtime: runtimeName })) >= 3,
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const coldStart = Date.now();
    trino = await startTrino({ home: trinoHome, etcDir: layout.etcDir, port: trinoPort, env: layout.env });
    const trinoUp = Date.now();
    writeRoutes(routes.map((route) => ({ ...route, state: "RUNNING" })));
    const [cliResult, jdbcResult, pythonResult] = await Promise.all([cli, jdbc, python]);
    const done = Date.now();
    // Statements released right after start may meet Trino's empty node map (trinodb/trino issue 2214): the gateway submits them again.
    const resubmitted = await scrapeMetricSum(`http://127.0.0.1:${gatewayPort}`, "xtrinode_gateway_held_resubmissions_total", {
      runtime: runtimeName,
    });
    peerProgress(
      "trino",
      `cold start: JVM start to /v1/info ready ${trinoUp - coldStart} ms; route RUNNING to every held query done ${done - trinoUp} ms; held statements resubmitted after an empty node map: ${resubmitted}`,
    );
    expect(cliResult.code, cliResult.stderr).to.equal(0);
    expect(cliResult.stdout.trim().split("\n")).to.deep.equal(["1\tada\t10.50", "2\tgrace\t20.25", "3\tedsger\t7.00"]);
    expect(jdbcResult, JSON.stringify(jdbcResult)).to.include({ ok: true, rows: 1 });
    expect(String(jdbcResult.first)).to.match(/^15000\t/);
    expect(pythonResult, JSON.stringify(pythonResult)).to.include({ ok: true, rows: 25 });
    expect(pythonResult.first).to.equal("0\tALGERIA");
  });

  it("real Trino refuses what the renderer's heap rule prevents: the chart's 1GB query.max-memory-per-node with the 1152M heap", async function () {
    this.timeout(600_000);
    const port = await freePort();
    const refused = layOutFixtureCoordinator(path.join(work, "coordinator-1gb"), port, { "query.max-memory-per-node": "1GB" });
    let started: RunningTrino | undefined;
    try {
      started = await startTrino({ home: trinoHome, etcDir: refused.etcDir, port, env: refused.env, timeoutMs: 400_000 });
    } catch (error) {
      const message = (error as Error).message;
      expect(message, message)
        .to.match(/exited/)
        .and.match(/query\.max-memory-per-node|heap/i);
      return;
    } finally {
      await started?.stop();
    }
    expect.fail("Trino started with query.max-memory-per-node=1GB and a 1152M heap");
  });

  describe("with Trino running", () => {
    before(function () {
      if (!trino) this.skip();
    });

    it("the rendered coordinator started real Trino: PostgreSQL catalog with its password from ${ENV:…}, single node, memory rule", async () => {
      const config = readFileSync(path.join(layout.etcDir, "config.properties"), "utf8");
      expect(config).to.include("node-scheduler.include-coordinator=true").and.include("query-manager.required-workers=1");
      // the renderer's rule: 60% of the 1152M heap, which the chart's 1GB would exceed with Trino's 30% headroom
      expect(readFileSync(path.join(layout.etcDir, "jvm.config"), "utf8")).to.include("-Xmx1152M");
      expect(config).to.include("query.max-memory-per-node=691MB");
      const catalog = readFileSync(path.join(layout.etcDir, "catalog", "sales.properties"), "utf8");
      expect(catalog).to.include("connection-password=${ENV:XTN_CAT_SALES_CONNECTION_PASSWORD}");
      for (const file of readdirSync(path.join(layout.etcDir, "catalog")))
        expect(readFileSync(path.join(layout.etcDir, "catalog", file), "utf8")).not.to.include(postgresPassword);
      expect(await directQuery(trino!.url, "SELECT customer FROM sales.public.orders WHERE amount > 10 ORDER BY id")).to.deep.equal([
        ["ada"],
        ["grace"],
      ]);
      expect(
        await directQuery(trino!.url, "SELECT count(*) FROM system.runtime.nodes WHERE coordinator AND state = 'active'"),
      ).to.deep.equal([[1]]);
      const memory = await directQuery(trino!.url, "SELECT count(*) FROM system.runtime.nodes");
      expect(memory[0][0]).to.equal(1);
    });

    it("multi-page tpch results through the gateway equal the same query sent directly, per client (by hostname, by header, default route)", async () => {
      const direct = `http://127.0.0.1:${trinoPort}`;
      // CLI by hostname (resolved inside the JVM)
      const [cliDirect, cliGateway] = await Promise.all([runCli(peers, direct, ordersSql), runCli(peers, gw(), ordersSql)]);
      expect(cliDirect.rows).to.equal(15000);
      expect(cliGateway.code, cliGateway.stderr).to.equal(0);
      expect(cliGateway.checksum).to.equal(cliDirect.checksum);
      // JDBC by hostname, tpch.sf1 (150,000 rows, many pages)
      const sf1 = "SELECT custkey, name, acctbal, mktsegment FROM tpch.sf1.customer ORDER BY custkey";
      const jdbcDirect = await runJdbc(peers, "query", jdbcVia("127.0.0.1", trinoPort), [sf1]);
      const jdbcGateway = await runJdbc(peers, "query", jdbcVia(hostname, gatewayPort), [sf1]);
      expect(jdbcDirect).to.include({ ok: true, rows: 150000 });
      expect(jdbcGateway).to.deep.equal(jdbcDirect);
      // Python by hostname and by header
      const pythonDirect = await runPython(peers, { mode: "query", host: "127.0.0.1", port: trinoPort, sql: ordersSql });
      const pythonHost = await runPython(peers, {
        mode: "query",
        host: hostname,
        port: gatewayPort,
        resolve: { [hostname]: "127.0.0.1" },
        sql: ordersSql,
      });
      const pythonHeader = await runPython(peers, {
        mode: "query",
        host: "127.0.0.1",
        port: gatewayPort,
        headers: { "X-Trino-XTrinode": runtimeKey },
        sql: ordersSql,
      });
      expect(pythonDirect).to.include({ ok: true, rows: 15000 });
      for (const viaGateway of [pythonHost, pythonHeader])
        expect({ ...viaGateway, queryId: undefined, nextUris: undefined }).to.deep.equal({
          ...pythonDirect,
          queryId: undefined,
          nextUris: undefined,
        });
      expect(pythonHost.nextUris).to.deep.equal([`http://${hostname}:${gatewayPort}`]);
      // trino-client by header
      const jsRows = async (server: string, headers: Record<string, string>) => {
        const iterator = await Trino.create({ server, auth: new BasicAuth("analyst"), extraHeaders: headers }).query(ordersSql);
        const rows: unknown[][] = [];
        for await (const page of iterator) {
          if (page.error) throw new Error(page.error.message);
          rows.push(...(page.data ?? []));
        }
        return rows;
      };
      const jsDirect = await jsRows(direct, {});
      expect(jsDirect).to.have.length(15000);
      expect(await jsRows(`http://127.0.0.1:${gatewayPort}`, { "X-Trino-XTrinode": runtimeKey })).to.deep.equal(jsDirect);
      // the default route: no header, an IP address as host
      writeRoutes(routes.map((route) => ({ ...route, default: true })));
      await eventually("the default route", async () => (await runCli(peers, `http://127.0.0.1:${gatewayPort}`, "SELECT 1")).code === 0, {
        timeoutMs: 15_000,
        intervalMs: 200,
      });
      const cliDefault = await runCli(peers, `http://127.0.0.1:${gatewayPort}`, ordersSql);
      expect(cliDefault.checksum).to.equal(cliDirect.checksum);
      writeRoutes(routes.map(({ default: _dropped, ...route }) => route));
    });

    it("two gateway replicas without affinity: POST via replica A, every poll via replica B (which never saw the query), rows equal the direct query", async () => {
      // Real Trino makes a statement a query only at the first poll of its queued nextUri; before
      // that /v1/query/{id} answers 410 everywhere, so replica B finds the owner by that poll (sticky.ts).
      const replicaB = await spawnGatewayReplica();
      try {
        const replicaBUrl = String(replicaB.ready.url).replace(/\/$/, "");
        const replicaA = `http://127.0.0.1:${gatewayPort}`;
        const headers = { "x-trino-user": "analyst", "x-trino-xtrinode": runtimeKey };
        const sql = "SELECT nationkey, name, regionkey FROM tpch.tiny.nation ORDER BY nationkey";
        let page = (await (await fetch(`${replicaA}/v1/statement`, { method: "POST", body: sql, headers })).json()) as {
          id: string;
          nextUri?: string;
          data?: unknown[][];
          error?: { message: string };
        };
        expect(page.nextUri, JSON.stringify(page)).to.match(/\/v1\/statement\/queued\//);
        const rows: unknown[][] = [];
        let polls = 0;
        while (page.nextUri) {
          const next = new URL(page.nextUri);
          // Trino builds nextUri from the host the request came through: A for the POST's, then B.
          expect(`${next.protocol}//${next.host}`).to.equal(polls === 0 ? replicaA : replicaBUrl);
          const answer = await fetch(`${replicaBUrl}${next.pathname}${next.search}`, { headers });
          expect(answer.status, await answer.clone().text()).to.equal(200);
          page = (await answer.json()) as typeof page;
          expect(page.error, page.error?.message).to.equal(undefined);
          rows.push(...(page.data ?? []));
          polls++;
        }
        expect(polls).to.be.greaterThan(1);
        expect(rows).to.deep.equal(await directQuery(trino!.url, sql));
        expect(rows).to.have.length(25);
      } finally {
        await replicaB.kill();
      }
    });

    it("behind a TLS-terminating ingress (nginx, self-signed certificate): the CLI, JDBC and Python over https get correct rows, and every nextUri stays https on the ingress host", async function () {
      try {
        ingress = await startTlsIngress({ upstreamPort: gatewayPort, hostnames: [hostname] });
      } catch (error) {
        skipForMissingPeer(this, error, "the TLS ingress test");
      }
      const tls = ingress!;
      const server = `https://${hostname}:${tls.port}`;
      const direct = `http://127.0.0.1:${trinoPort}`;
      // The CLI and JDBC trust the certificate through a PKCS12 truststore (keytool), Python through the PEM file.
      const [cliDirect, cli] = await Promise.all([
        runCli(peers, direct, ordersSql),
        runCli(peers, server, ordersSql, [
          "--truststore-path",
          tls.truststore,
          "--truststore-password",
          tls.truststorePassword,
          "--truststore-type",
          "PKCS12",
        ]),
      ]);
      expect(cli.code, cli.stderr).to.equal(0);
      expect(cli.rows).to.equal(15000);
      expect(cli.checksum).to.equal(cliDirect.checksum);
      const jdbcUrl = `jdbc:trino://${hostname}:${tls.port}?SSL=true&SSLTrustStorePath=${encodeURIComponent(tls.truststore)}&SSLTrustStorePassword=${tls.truststorePassword}&SSLTrustStoreType=PKCS12`;
      const [jdbcDirect, jdbc] = await Promise.all([
        runJdbc(peers, "query", jdbcVia("127.0.0.1", trinoPort), [ordersSql]),
        runJdbc(peers, "query", jdbcUrl, [ordersSql]),
      ]);
      expect(jdbcDirect).to.include({ ok: true, rows: 15000 });
      expect(jdbc).to.deep.equal(jdbcDirect);
      const [pythonDirect, python] = await Promise.all([
        runPython(peers, { mode: "query", host: "127.0.0.1", port: trinoPort, sql: ordersSql }),
        runPython(peers, {
          mode: "query",
          host: hostname,
          port: tls.port,
          http_scheme: "https",
          verify: tls.caFile,
          resolve: { [hostname]: "127.0.0.1" },
          sql: ordersSql,
        }),
      ]);
      expect(python, JSON.stringify(python)).to.include({ ok: true, rows: 15000, checksum: pythonDirect.checksum });
      expect(python.nextUris).to.deep.equal([server]);
      // Every request the clients made reached nginx over TLS for the ingress host and was answered
      // (a nextUri with http:// or another host would show as a 400 "plain HTTP request sent to HTTPS port" or another host).
      const log = tls.accessLog();
      const polls = log.filter((line) => / GET \/v1\/statement\/(?:queued|executing)\//.test(line));
      expect(polls.length, log.join("\n")).to.be.greaterThan(10);
      for (const line of log) expect(line).to.match(new RegExp(`^https ${hostname.replaceAll(".", "\\.")} (?:200|204) `));
      expect(log.filter((line) => line.includes(" POST /v1/statement "))).to.have.length(3);
    });

    describe("the spooling protocol (a second Trino spooling to an S3-compatible store: 476 has no local file system for it)", () => {
      const spoolingKey = `${runtimeNamespace}/spooling`;
      let store: { endpoint: string; stop(): Promise<void> } | undefined;
      let spooling: RunningTrino | undefined;

      before(async function () {
        this.timeout(300_000);
        try {
          store = await startS3Store("spool");
        } catch (error) {
          skipForMissingPeer(this, error, "the spooling protocol tests");
        }
        const port = await freePort();
        const spoolLayout = layOutFixtureCoordinator(path.join(work, "spooling"), port, {
          "protocol.spooling.enabled": "true",
          "protocol.spooling.shared-secret-key": randomBytes(32).toString("base64"),
          "protocol.spooling.retrieval-mode": "coordinator_proxy",
        });
        writeFileSync(
          path.join(spoolLayout.etcDir, "spooling-manager.properties"),
          [
            "spooling-manager.name=filesystem",
            "fs.s3.enabled=true",
            "fs.location=s3://spool/",
            `s3.endpoint=${store!.endpoint}`,
            "s3.region=us-east-1",
            "s3.path-style-access=true",
            "s3.aws-access-key=test",
            "s3.aws-secret-key=test",
            "",
          ].join("\n"),
        );
        spooling = await startTrino({ home: trinoHome, etcDir: spoolLayout.etcDir, port, env: spoolLayout.env });
        writeRoutes([...routes, { namespace: runtimeNamespace, name: "spooling", backend: spooling.url, state: "RUNNING" }]);
        // Routes reloaded, and the coordinator past "No nodes available" right after its start: a tpch query, since
        // SELECT 1 runs on the coordinator without the node map that Trino memoises for ~5 s (trinodb/trino#2214).
        await eventually(
          "the spooling runtime answering a tpch query through the gateway",
          async () =>
            (
              await directQuery(`http://127.0.0.1:${gatewayPort}`, "SELECT count(*) FROM tpch.tiny.nation", {
                "x-trino-xtrinode": spoolingKey,
              }).catch(() => [])
            ).length === 1,
          { timeoutMs: 60_000, intervalMs: 200 },
        );
      });

      after(async () => {
        if (routes.some((route) => route.name === "spooling")) writeRoutes(routes.filter((route) => route.name !== "spooling"));
        await spooling?.stop();
        await store?.stop();
      });

      it("Python asking for json+zstd gets spooled segments through the gateway (/v1/spooled/…), rows equal the direct query", async () => {
        const sql = "SELECT custkey, name, acctbal, mktsegment FROM tpch.sf1.customer ORDER BY custkey";
        const [direct, viaGateway] = await Promise.all([
          runPython(peers, { mode: "query", host: "127.0.0.1", port: trinoPort, sql }),
          runPython(peers, {
            mode: "query",
            host: "127.0.0.1",
            port: gatewayPort,
            headers: { "X-Trino-XTrinode": spoolingKey },
            encoding: "json+zstd",
            sql,
          }),
        ]);
        expect(direct).to.include({ ok: true, rows: 150000 });
        expect(viaGateway, JSON.stringify(viaGateway)).to.include({ ok: true, rows: 150000, checksum: direct.checksum });
        expect(viaGateway.spooledSegments).to.be.greaterThan(0);
        expect(viaGateway.nextUris).to.deep.equal([`http://127.0.0.1:${gatewayPort}`]);
      });

      it("a segment is retrieved through a second gateway replica that never saw the query", async () => {
        const replicaB = await spawnGatewayReplica();
        try {
          const replicaBUrl = String(replicaB.ready.url).replace(/\/$/, "");
          const headers = { "x-trino-user": "analyst", "x-trino-xtrinode": spoolingKey };
          type Segment = {
            type: string;
            uri?: string;
            ackUri?: string;
            headers?: Record<string, string[]>;
            metadata: { segmentSize: number; rowsCount: number };
          };
          type Page = { nextUri?: string; data?: { segments?: Segment[] }; error?: { message: string } };
          let page = (await (
            await fetch(`http://127.0.0.1:${gatewayPort}/v1/statement`, {
              method: "POST",
              body: "SELECT * FROM tpch.sf1.customer",
              headers: { ...headers, "x-trino-query-data-encoding": "json+zstd" },
            })
          ).json()) as Page;
          let segment: Segment | undefined;
          while (page.nextUri && !segment) {
            const next = new URL(page.nextUri);
            page = (await (await fetch(`${replicaBUrl}${next.pathname}${next.search}`, { headers })).json()) as Page;
            expect(page.error, page.error?.message).to.equal(undefined);
            segment = page.data?.segments?.find((candidate) => candidate.type === "spooled");
          }
          expect(segment, "a spooled segment").to.not.equal(undefined);
          const uri = new URL(segment!.uri!);
          expect(`${uri.protocol}//${uri.host}`).to.equal(replicaBUrl); // built from the host the poll came through
          expect(uri.pathname).to.match(/^\/v1\/spooled\/download\//);
          const segmentHeaders = Object.fromEntries(Object.entries(segment!.headers ?? {}).map(([name, values]) => [name, values[0]]));
          const data = await fetch(segment!.uri!, { headers: { ...headers, ...segmentHeaders } });
          expect(
            data.status,
            await data
              .clone()
              .text()
              .catch(() => ""),
          ).to.equal(200);
          expect((await data.arrayBuffer()).byteLength).to.equal(segment!.metadata.segmentSize);
          const ack = await fetch(segment!.ackUri!, { headers: { ...headers, ...segmentHeaders } });
          expect(ack.status).to.equal(200);
          if (page.nextUri) await fetch(page.nextUri, { method: "DELETE", headers });
        } finally {
          await replicaB.kill();
        }
      });
    });

    it("USE and SET SESSION round-trip through the gateway (CLI, JDBC, Python)", async () => {
      const cli = await runCli(
        peers,
        gw(),
        "USE tpch.tiny; SET SESSION query_max_run_time = '17m'; SELECT count(*) FROM nation; SHOW SESSION LIKE 'query_max_run_time'",
      );
      expect(cli.code, cli.stderr).to.equal(0);
      const lines = cli.stdout.trim().split("\n");
      expect(lines[0]).to.equal("25");
      expect(lines[1]).to.match(/^query_max_run_time\t17m\t/);
      const jdbc = await runJdbc(peers, "session", jdbcVia(hostname, gatewayPort));
      expect(jdbc).to.include({ ok: true, catalog: "tpch", schema: "tiny", nations: 25, session: "17m" });
      expect(jdbc.reset).to.not.equal("17m");
      const python = await runPython(peers, { mode: "session", host: hostname, port: gatewayPort, resolve: { [hostname]: "127.0.0.1" } });
      expect(python).to.include({ ok: true, nations: 25, session: "17m" });
    });

    it("JDBC PreparedStatement and SQLAlchemy bind parameters", async () => {
      const jdbc = await runJdbc(peers, "prepared", jdbcVia(hostname, gatewayPort), ["1"]);
      expect(jdbc).to.deep.equal({ ok: true, names: ["ARGENTINA", "BRAZIL", "CANADA", "PERU", "UNITED STATES"] });
      const sqlalchemy = await runPython(peers, {
        mode: "sqlalchemy",
        host: hostname,
        port: gatewayPort,
        resolve: { [hostname]: "127.0.0.1" },
      });
      expect(sqlalchemy).to.deep.equal({ ok: true, names: ["ARGENTINA", "BRAZIL", "CANADA", "PERU", "UNITED STATES"] });
    });

    it("JDBC with autocommit off: statements of one real transaction stick to its coordinator, commit and rollback work", async () => {
      const jdbc = await runJdbc(peers, "transaction", jdbcVia(hostname, gatewayPort));
      expect(jdbc.ok, JSON.stringify(jdbc)).to.equal(true);
      expect(jdbc.results).to.deep.equal(["15000", "1500", "15000", "5"]);
    });

    async function queryState(marker: string): Promise<unknown[][]> {
      return directQuery(
        trino!.url,
        `SELECT state, error_code FROM system.runtime.queries WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.runtime.queries%'`,
      );
    }

    const longQuery = (marker: string) => `SELECT count(*) FROM tpch.sf1000.lineitem WHERE comment <> '${marker}'`;

    const cancelled = async (marker: string) =>
      (await queryState(marker)).some(([state, code]) => state === "FAILED" && code === "USER_CANCELED");

    // A cancel that did not arrive leaves a query burning both cores: kill what is left after each test.
    afterEach(async () => {
      if (!trino) return;
      const left = await directQuery(
        trino.url,
        "SELECT query_id FROM system.runtime.queries WHERE state IN ('QUEUED', 'RUNNING') AND query LIKE '%tpch.sf1000%' AND query NOT LIKE '%system.runtime.queries%'",
      );
      for (const [id] of left)
        await fetch(`${trino.url}/v1/query/${String(id)}`, { method: "DELETE", headers: { "x-trino-user": "xtrinode-test" } });
    });

    it("cancel: the CLI on interrupt (SIGINT) cancels its query in Trino", async () => {
      const marker = `cli-${Date.now()}`;
      const cli = spawnCli(peers, gw(), longQuery(marker));
      let output = "";
      cli.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      cli.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => cli.once("exit", resolve));
      try {
        await eventually("the CLI's query running", async () => (await queryState(marker)).some(([state]) => state === "RUNNING"), {
          timeoutMs: 180_000,
          intervalMs: 200,
        });
        cli.kill("SIGINT");
        const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 60_000))]);
        expect(code, output).to.equal(130);
        expect(output).to.include("Query aborted by user");
        await eventually("the CLI's query cancelled", () => cancelled(marker), { timeoutMs: 30_000, intervalMs: 200 });
      } finally {
        cli.kill("SIGKILL");
      }
    });

    it("cancel: JDBC Statement.cancel from another thread", async () => {
      const marker = `jdbc-${Date.now()}`;
      const jdbc = await runJdbc(peers, "cancel", jdbcVia(hostname, gatewayPort), [longQuery(marker)]);
      expect(jdbc.ok, JSON.stringify(jdbc)).to.equal(true);
      expect(String(jdbc.message)).to.not.equal(""); // the driver says "Error fetching results"; Trino's state tells the cancel arrived
      await eventually("the JDBC query cancelled", () => cancelled(marker), { timeoutMs: 30_000, intervalMs: 200 });
    });

    it("cancel: Python cursor.cancel", async () => {
      const marker = `python-${Date.now()}`;
      const python = await runPython(peers, {
        mode: "cancel",
        host: hostname,
        port: gatewayPort,
        resolve: { [hostname]: "127.0.0.1" },
        sql: longQuery(marker),
        cancel_after_s: 2,
      });
      expect(python.ok, JSON.stringify(python)).to.equal(true);
      await eventually("the Python query cancelled", () => cancelled(marker), { timeoutMs: 30_000, intervalMs: 200 });
    });

    it("cancel: trino-client cancel (DELETE /v1/query/{id})", async () => {
      const marker = `js-${Date.now()}`;
      const client = Trino.create({
        server: `http://127.0.0.1:${gatewayPort}`,
        auth: new BasicAuth("analyst"),
        extraHeaders: { "X-Trino-XTrinode": runtimeKey },
      });
      // Polled in the background: trino-client's next() keeps polling until a page has data, which a count never has before it ends.
      const polling = client
        .query(longQuery(marker))
        .then(async (iterator) => iterator.next())
        .catch(() => undefined);
      await eventually("the trino-client query running", async () => (await queryState(marker)).some(([state]) => state === "RUNNING"), {
        timeoutMs: 180_000,
        intervalMs: 200,
      });
      const [[queryId]] = await directQuery(
        trino!.url,
        `SELECT query_id FROM system.runtime.queries WHERE query LIKE '%${marker}%' AND query NOT LIKE '%system.runtime.queries%'`,
      );
      await client.cancel(String(queryId));
      // Trino's kill of a query through /v1/query/{id}: FAILED (ADMINISTRATIVELY_KILLED or USER_CANCELED)
      await eventually("the trino-client query ended", async () => (await queryState(marker)).some(([state]) => state === "FAILED"), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      await polling;
    });

    it("the client tag xtrinode=namespace/name selects the runtime for the CLI and JDBC (no header, no hostname, no default route)", async () => {
      const byIp = `http://127.0.0.1:${gatewayPort}`;
      const cli = await runCli(peers, byIp, "SELECT count(*) FROM tpch.tiny.nation", ["--client-tags", `xtrinode=${runtimeKey}`]);
      expect(cli.code, cli.stderr).to.equal(0);
      expect(cli.stdout.trim()).to.equal("25");
      const jdbc = await runJdbc(peers, "query", `jdbc:trino://127.0.0.1:${gatewayPort}?clientTags=xtrinode=${runtimeKey}`, [
        "SELECT count(*) FROM tpch.tiny.region",
      ]);
      expect(jdbc).to.include({ ok: true, rows: 1, first: "5" });
      const untagged = await runCli(peers, byIp, "SELECT 1");
      expect(untagged.code).to.not.equal(0); // nothing else selects a runtime here
    });

    it("a SQL error and an unknown runtime are shown readably by each client", async () => {
      const missing = "SELECT * FROM tpch.tiny.no_such_table";
      const cli = await runCli(peers, gw(), missing);
      expect(cli.code).to.not.equal(0);
      expect(cli.stderr).to.match(/Table 'tpch\.tiny\.no_such_table' does not exist/);
      const jdbc = await runJdbc(peers, "query", jdbcVia(hostname, gatewayPort), [missing]);
      expect(jdbc.ok).to.equal(false);
      expect(String(jdbc.message)).to.match(/Table 'tpch\.tiny\.no_such_table' does not exist/);
      const python = await runPython(peers, {
        mode: "query",
        host: hostname,
        port: gatewayPort,
        resolve: { [hostname]: "127.0.0.1" },
        sql: missing,
      });
      expect(python).to.include({ ok: false, errorName: "TABLE_NOT_FOUND" });
      // Unknown runtime: a hostname no route names (CLI, JDBC: no default route), a header naming no runtime (Python, JS)
      const unknownHost = `http://unknown.trino.test:${gatewayPort}`;
      const cliUnknown = await runCli(peers, unknownHost, "SELECT 1");
      expect(cliUnknown.code).to.not.equal(0);
      expect(cliUnknown.stderr).to.match(/unknown\.trino\.test|no XTrinode runtime|not routed|unknown runtime/i);
      const jdbcUnknown = await runJdbc(peers, "query", jdbcVia("unknown.trino.test", gatewayPort), ["SELECT 1"]);
      expect(jdbcUnknown.ok).to.equal(false);
      expect(String(jdbcUnknown.message)).to.match(/unknown\.trino\.test/);
      const pythonUnknown = await runPython(peers, {
        mode: "query",
        host: "127.0.0.1",
        port: gatewayPort,
        headers: { "X-Trino-XTrinode": `${runtimeNamespace}/nope` },
        sql: "SELECT 1",
      });
      expect(pythonUnknown).to.include({ ok: false, errorName: "XTRINODE_UNKNOWN_RUNTIME" });
      expect(String(pythonUnknown.message)).to.include(`${runtimeNamespace}/nope`);
    });
  });
});
