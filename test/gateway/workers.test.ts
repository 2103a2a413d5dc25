// `xtrinode gateway --workers 2`: nothing may depend on which worker answers. Each test drives the
// real CLI (primary + 2 node:cluster workers sharing one port). Which worker a connection reached is
// read from the held id a RESUMING probe route answers on it (`…_gw000` / `…_gw001`, query-id.ts).
import { expect } from "chai";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { startTrinoTestServer, type TrinoTestServer } from "../../fixtures/trino-server/server.ts";
import { heldCoordinatorIdOf, heldWorkerOf, isHeldQueryId } from "../../gateway/query-id.ts";
import { workerShare } from "../../gateway/server.ts";
import { parseWorkerCount, usableCpus } from "../../gateway/workers.ts";
import os from "node:os";
import { killAllChildren, spawnGateway, type ChildUnderTest } from "../support/process.ts";
import { RoutesFile } from "./support/harness.ts";
import { eventually } from "../support/eventually.ts";
import { metricValue, scrapeMetrics } from "../support/metrics-text.ts";

interface Answer {
  status: number;
  body: { id: string; nextUri?: string; data?: unknown[][]; stats?: { state: string }; error?: { errorName: string } };
}

/** One keep-alive client connection: every request on it reaches the same worker. */
class Connection {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  worker = -1;

  request(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = http.request(url, { method, agent: this.agent, headers: { "x-trino-user": "alice", ...headers } }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Answer["body"] }));
      });
      request.on("error", reject);
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Opens connections until one reached each of `workers` workers (the probe statement names it). */
async function connectionPerWorker(url: string, workers: number): Promise<Connection[]> {
  const found: Connection[] = [];
  for (let attempt = 0; attempt < 20 && found.filter(Boolean).length < workers; attempt++) {
    const connection = new Connection();
    const answer = await connection.request(`${url}/v1/statement`, "POST", "SELECT 0", { "x-trino-xtrinode": "team-a/probe" });
    connection.worker = heldWorkerOf(answer.body.id) ?? -1;
    if (connection.worker >= 0 && !found[connection.worker]) found[connection.worker] = connection;
    else connection.close();
  }
  expect(found.filter(Boolean), "a connection to each worker").to.have.length(workers);
  return found;
}

/** Fresh connection per request (node:cluster hands new connections to the workers in turn). */
async function post(url: string, sql: string, headers: Record<string, string> = {}): Promise<Answer["body"]> {
  const response = await fetch(`${url}/v1/statement`, {
    method: "POST",
    headers: { "x-trino-user": "alice", connection: "close", ...headers },
    body: sql,
  });
  return (await response.json()) as Answer["body"];
}

describe("xtrinode gateway --workers 2", function () {
  this.timeout(60_000);
  let backend: TrinoTestServer;
  let routes: RoutesFile;
  let gateway: ChildUnderTest;
  const connections: Connection[] = [];
  let work: string;

  async function startGateway(config: Record<string, unknown> = {}): Promise<ChildUnderTest> {
    const configFile = path.join(work, "gateway.yaml");
    writeFileSync(configFile, yaml.dump({ health: { intervalMs: 200, timeoutMs: 2000 }, held: { pollWaitMs: 100 }, ...config }));
    gateway = await spawnGateway({ routesFile: routes.file, configFile, workers: 2 }, { env: { XTRINODE_LOG_LEVEL: "info" } });
    expect(gateway.ready.workers).to.equal(2);
    return gateway;
  }

  /** Worker index → pid, from the primary's worker-listening lines. */
  function workerPids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const line of gateway.output) {
      if (!line.includes('"worker-listening"')) continue;
      const parsed = JSON.parse(line) as { worker: number; pid: number };
      pids.set(parsed.worker, parsed.pid);
    }
    return pids;
  }

  beforeEach(async () => {
    work = mkdtempSync(path.join(tmpdir(), "xtrinode-workers-"));
    backend = await startTrinoTestServer({ rowsPerPage: 3 });
    routes = new RoutesFile();
    routes.write([
      { namespace: "team-a", name: "main", backend: backend.url, state: "RUNNING", default: true },
      { namespace: "team-a", name: "probe", backend: "http://127.0.0.1:9", state: "RESUMING" },
    ]);
  });
  afterEach(async () => {
    connections.splice(0).forEach((connection) => connection.close());
    await killAllChildren();
    await backend.close();
    routes.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("answers a query's follow-ups alternating between the workers, and SIGTERM stops every worker", async () => {
    const { url } = (await startGateway()).ready as { url: string };
    connections.push(...(await connectionPerWorker(url, 2)));
    const [first, second] = connections;
    let answer = await first.request(`${url}/v1/statement`, "POST", "SELECT * FROM xt_rows(10)");
    expect(answer.status).to.equal(200);
    const rows: unknown[][] = [];
    let polls = 0;
    while (answer.body.nextUri) {
      const connection = polls++ % 2 === 0 ? second : first;
      answer = await connection.request(answer.body.nextUri, "GET");
      expect(answer.status).to.equal(200);
      expect(answer.body.error).to.equal(undefined);
      rows.push(...(answer.body.data ?? []));
    }
    expect(polls).to.be.at.least(4);
    expect(rows).to.deep.equal(Array.from({ length: 10 }, (_, i) => [i + 1]));
    expect(backend.stats.statements).to.equal(1);

    const pids = [...workerPids().values()];
    expect(pids).to.have.length(2);
    await gateway.kill("SIGTERM");
    expect(await gateway.exited).to.equal(0);
    for (const pid of pids) expect(() => process.kill(pid, 0), `worker ${pid} stopped`).to.throw();
  });

  it("forwards a held statement's polls to the worker holding it, and another worker adopts it when that one dies", async () => {
    routes.write([...routes.routes, { namespace: "team-a", name: "sleepy", backend: backend.url, state: "RESUMING" }]);
    const { url } = (await startGateway()).ready as { url: string };
    connections.push(...(await connectionPerWorker(url, 2)));
    const [first, second] = connections;
    const sleepy = { "x-trino-xtrinode": "team-a/sleepy" };
    const submitted = await first.request(`${url}/v1/statement`, "POST", "SELECT * FROM xt_rows(4)", sleepy);
    expect(heldWorkerOf(submitted.body.id)).to.equal(0);
    // Polled on worker 1: forwarded to worker 0, which still holds it alone (summed over the workers: 1).
    let answer = await second.request(submitted.body.nextUri!, "GET");
    expect(answer.body.stats?.state).to.equal("QUEUED");
    expect(answer.body.id).to.equal(submitted.body.id);
    const held = () =>
      scrapeMetrics(url).then((text) => metricValue(text, "xtrinode_gateway_queries_held", { namespace: "team-a", runtime: "sleepy" }));
    expect(await held()).to.equal(1);

    // Worker 0 dies: the next poll reaching worker 1 is answered there, from the statement's ticket.
    const pid0 = workerPids().get(0)!;
    process.kill(pid0, "SIGKILL");
    await eventually("the primary to notice worker 0 exited", () => gateway.output.some((line) => line.includes('"worker-exited"')));
    answer = await second.request(answer.body.nextUri!, "GET");
    expect(answer.body.stats?.state).to.equal("QUEUED");
    expect(answer.body.id).to.equal(submitted.body.id);
    expect(gateway.output.some((line) => line.includes('"statement-adopted"') && line.includes('"worker":1'))).to.equal(true);

    // The runtime comes up: the statement runs once and its rows arrive.
    routes.setState("team-a", "sleepy", "RUNNING");
    const rows: unknown[][] = [];
    for (let polls = 0; answer.body.nextUri && polls < 200; polls++) {
      answer = await second.request(answer.body.nextUri, "GET");
      expect(answer.body.error).to.equal(undefined);
      rows.push(...(answer.body.data ?? []));
    }
    expect(rows).to.deep.equal([[1], [2], [3], [4]]);
    expect(backend.stats.statements).to.equal(1);
    // A new worker 0 replaced the dead one.
    await eventually("a new worker 0", () => workerPids().get(0) !== pid0 && workerPids().get(0));
  });

  it("keeps rate limits across workers: per-worker budgets sum to the configured burst, and /metrics sums the workers", async () => {
    routes.write([{ namespace: "team-a", name: "sleepy", backend: "http://127.0.0.1:9", state: "RESUMING", default: true }]);
    const { url } = (await startGateway({ rateLimit: { queriesPerSecond: 0.001, burst: 4 } })).ready as { url: string };
    const answers: Array<Answer["body"]> = [];
    for (let i = 0; i < 12; i++) answers.push(await post(url, `SELECT ${i}`));
    const accepted = answers.filter((answer) => !answer.nextUri?.includes("/failed/"));
    const refused = answers.filter((answer) => answer.nextUri?.includes("/failed/XTRINODE_RATE_LIMITED~"));
    // Both workers answered (every answer's id names its worker)...
    expect(new Set(answers.map((answer) => heldWorkerOf(answer.id)))).to.deep.equal(new Set([0, 1]));
    // ...and together let through exactly the configured burst of 4 (2 each), not 4 each.
    expect(accepted).to.have.length(4);
    expect(refused).to.have.length(8);
    expect(new Set(accepted.map((answer) => heldWorkerOf(answer.id)))).to.deep.equal(new Set([0, 1]));

    const metrics = await scrapeMetrics(url);
    expect(metricValue(metrics, "xtrinode_gateway_requests_total", { runtime: "team-a/sleepy", kind: "new", status: "200" })).to.equal(12);
    expect(metricValue(metrics, "xtrinode_gateway_rate_limited_total", { principal_kind: "address" })).to.equal(8);
    expect(metricValue(metrics, "xtrinode_gateway_queries_held", { namespace: "team-a", runtime: "sleepy" })).to.equal(4);
    // Per-worker shares of the pod's limits add up to the configured ones (held.maxQueries 1000 by default).
    expect(metricValue(metrics, "xtrinode_gateway_queries_held_max")).to.equal(1000);
    expect(metricValue(metrics, "xtrinode_gateway_statement_memory_budget_bytes")).to.equal(128 * 1024 * 1024);
    // Alike on every worker: not summed.
    expect(metricValue(metrics, "xtrinode_gateway_routes_generation")).to.equal(1);
  });
});

describe("gateway workers (units)", () => {
  it("names the worker holding a statement in its held id; worker 0 keeps gw000", () => {
    expect(heldCoordinatorIdOf(0)).to.equal("gw000");
    expect(heldCoordinatorIdOf(7)).to.equal("gw007");
    expect(heldWorkerOf("20261203_120000_00001_gw013")).to.equal(13);
    expect(isHeldQueryId("20261203_120000_00001_gw013")).to.equal(true);
    expect(heldWorkerOf("20261203_120000_00001_abc23")).to.equal(undefined);
    expect(() => heldCoordinatorIdOf(64)).to.throw(/0\.\.63/);
  });

  it("splits a token-bucket limit into per-worker budgets that add up to it (at least one token of burst each)", () => {
    expect(workerShare({ ratePerSecond: 10, burst: 20 }, 1)).to.deep.equal({ ratePerSecond: 10, burst: 20 });
    expect(workerShare({ ratePerSecond: 10, burst: 20 }, 4)).to.deep.equal({ ratePerSecond: 2.5, burst: 5 });
    expect(workerShare({ ratePerSecond: 1, burst: 1 }, 2)).to.deep.equal({ ratePerSecond: 0.5, burst: 1 });
  });

  it("defaults to the CPUs the container may use: the cgroup quota lowers the CPU count", () => {
    const files = (texts: Record<string, string>) => (file: string) => texts[file];
    const cpus = os.availableParallelism();
    expect(usableCpus(files({}))).to.equal(Math.min(cpus, 64));
    expect(usableCpus(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" }))).to.equal(Math.min(cpus, 64));
    expect(usableCpus(files({ "/sys/fs/cgroup/cpu.max": "50000 100000\n" }))).to.equal(1);
    expect(
      usableCpus(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" })),
    ).to.equal(1);
    expect(usableCpus(files({ "/sys/fs/cgroup/cpu.max": `${1000 * 100000} 100000` }))).to.equal(Math.min(cpus, 64));
    expect(parseWorkerCount("3")).to.equal(3);
    for (const bad of ["0", "65", "1.5", "two"]) expect(() => parseWorkerCount(bad)).to.throw(/--workers/);
  });
});
