// Real Trino through the gateway (on demand: `npm run bench:real-trino [-- --cold-runs 3 --queries 40 --record]`).
// 1. Cold resume: a statement is sent to a PAUSED runtime and held by a real `xtrinode gateway`; Trino
//    (the renderer's coordinator config, test/trino/support) is started from nothing, the route flips to
//    RUNNING once /v1/info says it is ready, and the client's time to first data row is measured from
//    that flip (and from the JVM start). --cold-runs starts, each a fresh JVM.
// 2. Added latency: one warm Trino, the same tpch query alternately direct and through the gateway,
//    --queries each (interleaved, after a warm-up); medians of end-to-end query time (POST to last
//    page) and the gateway process's CPU per query (/proc). The client is a plain HTTP loop on
//    fetch (the same for both), so only the gateway hop differs.
// --record rewrites this benchmark's section of bench/RESULTS.md. Everything runs on 127.0.0.1.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { spawnGateway, repoRoot, killAllChildren } from "../../test/support/process.ts";
import { ensureTrinoServer, freePort, startTrino, trinoVersion, type RunningTrino } from "../../test/support/trino-peers.ts";
import { layOutCoordinator } from "../../test/trino/support/layout.ts";
import { renderFixture, runtimeName, runtimeNamespace } from "../../test/trino/support/runtime.ts";
import { writeRoutesFile } from "../../test/support/routes-file.ts";

const { values } = parseArgs({
  options: {
    "cold-runs": { type: "string", default: "3" },
    queries: { type: "string", default: "40" },
    record: { type: "boolean", default: false },
  },
});
const coldRuns = Number(values["cold-runs"]);
const queries = Number(values.queries);
const latencySql = "SELECT orderkey, totalprice, orderdate FROM tpch.tiny.orders WHERE orderkey < 2000 ORDER BY orderkey";

const work = mkdtempSync(path.join(tmpdir(), "xtrinode-bench-real-trino-"));
const routesFile = path.join(work, "routes.yaml");
const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};

function writeRoutes(backend: string, state: "PAUSED" | "RUNNING"): void {
  writeRoutesFile(routesFile, [{ namespace: runtimeNamespace, name: runtimeName, backend, state, default: true }]);
}

interface Page {
  nextUri?: string;
  data?: unknown[][];
  error?: { message: string };
}

/** A Trino client loop on fetch: POST, then nextUri until the end; calls onFirstRow at the first data row. Returns the rows. */
async function runQuery(base: string, sql: string, onFirstRow?: () => void): Promise<number> {
  let page = (await (
    await fetch(`${base}/v1/statement`, { method: "POST", body: sql, headers: { "x-trino-user": "bench" } })
  ).json()) as Page;
  let rows = 0;
  for (;;) {
    if (page.error) throw new Error(page.error.message);
    if (page.data?.length) {
      if (rows === 0) onFirstRow?.();
      rows += page.data.length;
    }
    if (!page.nextUri) return rows;
    page = (await (await fetch(page.nextUri, { headers: { "x-trino-user": "bench" } })).json()) as Page;
  }
}

function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1000) / 100; // USER_HZ
}

const home = await ensureTrinoServer();
const config = path.join(work, "gateway.yaml");
writeFileSync(config, yaml.dump({ health: { intervalMs: 500 }, held: { pollWaitMs: 1000 } }));
let trino: RunningTrino | undefined;
const cold: { jvmToReadyMs: number; runningToFirstRowMs: number; jvmToFirstRowMs: number }[] = [];
let latency: { directMs: number; gatewayMs: number; gatewayCpuMsPerQuery: number } | undefined;
try {
  const trinoPort = await freePort();
  const backend = `http://127.0.0.1:${trinoPort}`;
  writeRoutes(backend, "PAUSED");
  const gateway = await spawnGateway({ routesFile, configFile: config, workers: 1 });
  const gatewayUrl = String(gateway.ready.url);
  for (let run = 0; run < coldRuns; run++) {
    writeRoutes(backend, "PAUSED");
    await new Promise((resolve) => setTimeout(resolve, 500)); // the watched file is re-read
    let firstRowAt = 0;
    const held = runQuery(gatewayUrl, "SELECT name FROM tpch.tiny.nation ORDER BY nationkey", () => (firstRowAt = Date.now()));
    const layout = layOutCoordinator(renderFixture(5432), {
      root: path.join(work, `coordinator-${run}`),
      home,
      port: trinoPort,
      secrets: { "sales-db-credentials/username": "bench", "sales-db-credentials/password": "unused" },
    });
    const jvmStart = Date.now();
    trino = await startTrino({ home, etcDir: layout.etcDir, port: trinoPort, env: layout.env });
    const ready = Date.now();
    writeRoutes(backend, "RUNNING");
    const rows = await held;
    if (rows !== 25) throw new Error(`cold run ${run}: ${rows} rows, expected 25`);
    cold.push({ jvmToReadyMs: ready - jvmStart, runningToFirstRowMs: firstRowAt - ready, jvmToFirstRowMs: firstRowAt - jvmStart });
    console.error(`cold run ${run + 1}/${coldRuns}: ${JSON.stringify(cold.at(-1))}`);
    if (run < coldRuns - 1) {
      await trino.stop();
      trino = undefined;
    }
  }
  // Added latency, warm: interleaved direct / gateway.
  for (let i = 0; i < 10; i++) {
    await runQuery(backend, latencySql);
    await runQuery(gatewayUrl, latencySql);
  }
  const direct: number[] = [];
  const viaGateway: number[] = [];
  let gatewayCpu = 0;
  for (let i = 0; i < queries; i++) {
    let started = performance.now();
    await runQuery(backend, latencySql);
    direct.push(performance.now() - started);
    const cpuBefore = processCpuMs(gateway.pid);
    started = performance.now();
    await runQuery(gatewayUrl, latencySql);
    viaGateway.push(performance.now() - started);
    gatewayCpu += processCpuMs(gateway.pid) - cpuBefore;
  }
  latency = { directMs: median(direct), gatewayMs: median(viaGateway), gatewayCpuMsPerQuery: gatewayCpu / queries };
} finally {
  await trino?.stop();
  await killAllChildren();
  rmSync(work, { recursive: true, force: true });
}

const round = (value: number) => Math.round(value * 10) / 10;
const lines = [
  "<!-- bench:real-trino:start -->",
  "## real Trino through the gateway (bench/real-trino, `npm run bench:real-trino`)",
  "",
  `Machine: nproc ${os.cpus().length} (${os.cpus()[0]?.model ?? "?"}); memory ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${new Date().toISOString()}; load average (1 min) ${os.loadavg()[0].toFixed(1)} at the end (other work shares this machine).`,
  `Trino ${trinoVersion} (trino-server-core + plugins, Temurin 25), started from the renderer's coordinator ConfigMap (1152M heap, single node); one \`xtrinode gateway\` process; client = a plain fetch loop over the Trino protocol.`,
  "",
  `### Cold resume (${coldRuns} runs, each a fresh JVM)`,
  "A statement is held by the gateway for the PAUSED runtime; Trino is started; the route flips to RUNNING when /v1/info says ready; time to the held client's first data row.",
  "",
  "| run | JVM start → /v1/info ready (ms) | route RUNNING → first row (ms) | JVM start → first row (ms) |",
  "| ---: | ---: | ---: | ---: |",
  ...cold.map((run, index) => `| ${index + 1} | ${run.jvmToReadyMs} | ${run.runningToFirstRowMs} | ${run.jvmToFirstRowMs} |`),
  `| median | ${median(cold.map((run) => run.jvmToReadyMs))} | ${median(cold.map((run) => run.runningToFirstRowMs))} | ${median(cold.map((run) => run.jvmToFirstRowMs))} |`,
  "",
  `### Added latency of the gateway (warm, ${queries} queries each way, interleaved)`,
  `Query: \`${latencySql}\` (1,999 rows).`,
  "",
  "| path | median query time (ms) |",
  "| --- | ---: |",
  `| direct | ${round(latency!.directMs)} |`,
  `| through the gateway | ${round(latency!.gatewayMs)} |`,
  "",
  `Added: ${round(latency!.gatewayMs - latency!.directMs)} ms per query (ratio ${(latency!.gatewayMs / latency!.directMs).toFixed(2)}× direct); gateway CPU ${round(latency!.gatewayCpuMsPerQuery)} ms per query (all its requests: POST and every poll).`,
  "<!-- bench:real-trino:end -->",
];
const section = lines.join("\n");
console.log(section);
if (values.record) {
  const file = path.join(repoRoot, "bench/RESULTS.md");
  let text = readFileSync(file, "utf8");
  const pattern = /<!-- bench:real-trino:start -->[\s\S]*?<!-- bench:real-trino:end -->/;
  text = pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  console.error(`recorded in ${file}`);
}
process.exit(0);
