// Benchmark: the 3-request Trino flow (POST /v1/statement `SELECT 1` → queued nextUri → executing
// nextUri, FINISHED) through the XTrinode gateway vs nginx (Debian package, installed here if missing) vs direct, all in
// front of the same Trino protocol test server process, with the same load tools for every target
// (in this process): autocannon for max throughput (fixed connection count; several runs, medians),
// then an open-loop paced generator (paced-load.ts, on a worker thread) for p50/p99 at a fixed
// 1,000 req/s, the targets taking turns in 1-second slices (paced-worker.ts), latencies pooled.
// Gateway memory (10,000 held statements, 1,000,000 queries passed) is bench/gateway/memory.ts.
// Headline (issue 18): CPU time per proxied request — user+system CPU of the proxy process (its
// whole process tree, from /proc/<pid>/stat) over the 2xx responses it served — for nginx, the
// minimal node:http proxy (the floor) and the gateway, separately for follow-ups (GET nextUri) and
// new statements (POST), in interleaved rounds. CPU per request barely moves when other work shares
// the machine; wall-clock throughput and latency do.
// Goals (issue 6): gateway ≥ 0.5× nginx throughput; p99 added latency ≤ 1 ms at 1k req/s.
// Goals (issue 18): gateway CPU per request ≤ 1.15× the minimal proxy's on follow-ups, ≤ 1.3× on new statements.
//
//   npm run bench:gateway -- [--runs 5] [--duration 5] [--connections 50] [--rate 1000] [--rounds 15]
//                            [--cpu-rounds 9] [--cpu-duration 3] [--record]
//
// Every process listens on 127.0.0.1 only; every run is bounded by --duration; all children are
// stopped at the end (also on failure). --record rewrites this benchmark's section of bench/RESULTS.md.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
// @ts-ignore autocannon ships no type declarations
import autocannon from "autocannon";
import yaml from "js-yaml";
import { FOLLOW_UPS_PER_POST, followUpRequests } from "./follow-up-load.ts";
import { clockTicks, processTreeCpuMs, stop } from "./children.ts";
import { flowRequests } from "./flow.ts";
import { freePort, gatewayArgs } from "../../test/support/process.ts";
import { percentile } from "./paced-load.ts";
import type { PacedJob, PacedTargetResult } from "./paced-worker.ts";
import { writeRoutesFile } from "../../test/support/routes-file.ts";
import type { RouteEntry } from "../../schemas/generated/types.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "50" },
    rate: { type: "string", default: "1000" },
    rounds: { type: "string" },
    // 9: one round's ratio moves with the machine (new statements 1.11–1.33 in one quiet recording of 5).
    "cpu-rounds": { type: "string", default: "9" },
    "cpu-duration": { type: "string", default: "3" },
    record: { type: "boolean", default: false },
    // Accepted and ignored: the memory phase moved to bench/gateway/memory.ts (npm run bench:gateway-memory).
    "skip-memory": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const duration = Number(values.duration);
const connections = Number(values.connections);
const fixedRate = Number(values.rate);
/** Fixed-rate phase: this many rounds of one 1-second slice per target (default 15: 15,000 requests per target). */
const rounds = Number(values.rounds ?? 15);
const cpuRounds = Number(values["cpu-rounds"]);
const cpuDuration = Number(values["cpu-duration"]);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(path.join(os.tmpdir(), "xtrinode-bench-gateway-"));
const children: ChildProcess[] = [];

// ---- processes ------------------------------------------------------------------------------------

function stopChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stopChildren();
    process.exit(130);
  });
}
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Spawns a child and resolves with the first stdout JSON line whose `event` is "listening". */
function spawnReady(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; ready: Record<string, any> }> {
  const child = spawn(command, args, { cwd: repo, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")}: no ready line within 30 s`)), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const parsed = JSON.parse(line);
        if (parsed.event === "listening") {
          clearTimeout(timer);
          resolve({ child, ready: parsed });
        }
      } catch {
        // not a JSON line
      }
    });
    child.once("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited with ${code}`)));
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** nginx from Debian: installed non-interactively when missing (the package's service is not used). */
function ensureNginx(): string {
  const found = spawnSync("sh", ["-c", "command -v nginx || ls /usr/sbin/nginx"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
  if (found) return found;
  console.error("nginx missing: apt-get update && apt-get install -y nginx");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", "nginx"]]) {
    const result = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (${result.status}); install nginx and rerun`);
  }
  return "/usr/sbin/nginx";
}

function nginxConfig(dir: string, listenPort: number, backendPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream trino { server 127.0.0.1:${backendPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${listenPort};
    keepalive_requests 100000;
    location / {
      proxy_pass http://trino;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

async function startNginx(nginx: string, backendPort: number): Promise<{ child: ChildProcess; url: string }> {
  const dir = path.join(work, "nginx");
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  writeFileSync(path.join(dir, "nginx.conf"), nginxConfig(dir, port, backendPort));
  const child = spawn(nginx, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log")], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.push(child);
  await waitForPort(port);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startGateway(
  backendUrl: string,
  options: { name?: string; state?: RouteEntry["state"]; config?: Record<string, unknown>; workers?: number } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const name = options.name ?? `gateway-${options.workers ?? 1}`;
  const routesFile = path.join(work, `routes-${name}.yaml`);
  writeRoutesFile(routesFile, [
    { namespace: "bench", name: "trino", backend: backendUrl, state: options.state ?? "RUNNING", default: true },
  ]);
  const configFile = options.config ? path.join(work, `config-${name}.yaml`) : undefined;
  if (configFile) writeFileSync(configFile, yaml.dump(options.config));
  const { child, ready } = await spawnReady(
    process.execPath,
    // One process unless asked.
    ["bin/xtrinode.ts", ...gatewayArgs({ routesFile, configFile, workers: options.workers ?? 1 })],
    { XTRINODE_LOG_LEVEL: "info", NODE_NO_WARNINGS: "1" },
  );
  return { child, url: ready.url as string };
}

// ---- the flow -------------------------------------------------------------------------------------

interface FlowCheck {
  states: string[];
  nextUriOrigins: string[];
}

/** One flow with fetch: the states seen and where each nextUri points (must be the target itself). */
async function checkFlow(url: string): Promise<FlowCheck> {
  const states: string[] = [];
  const origins: string[] = [];
  let answer = await fetch(`${url}/v1/statement`, { method: "POST", headers: { "X-Trino-User": "bench" }, body: "SELECT 1" }).then(
    (r) => r.json() as Promise<any>,
  );
  for (;;) {
    states.push(answer.stats.state);
    if (!answer.nextUri) break;
    origins.push(new URL(answer.nextUri).origin);
    answer = await fetch(answer.nextUri, { headers: { "X-Trino-User": "bench" } }).then((r) => r.json() as Promise<any>);
  }
  return { states, nextUriOrigins: origins };
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  resets: number;
  requests: number;
}

/**
 * One autocannon run of the flow. Latencies are taken from autocannon's per-response durations
 * (float ms; its own histogram keeps whole milliseconds, too coarse for a 1 ms goal).
 */
function load(url: string, options: { connections: number; seconds?: number }): Promise<LoadResult> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        duration: options.seconds ?? duration,
        headers: { "x-trino-user": "bench" },
        requests: flowRequests,
      },
      (error: Error | null, result: any) => {
        if (error) return reject(error);
        const sorted = Float64Array.from(latencies).sort();
        resolve({
          rps: result.requests.average,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
          resets: result.resets ?? 0,
          requests: result.requests.total,
        });
      },
    );
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** The fixed-rate phase (paced-worker.ts): every target in turn, 1-second slices, `rounds` rounds. */
function steadyInterleaved(targets: Array<[string, string]>): Promise<PacedTargetResult[]> {
  const worker = new Worker(new URL("./paced-worker.ts", import.meta.url));
  const job: PacedJob = { targets: targets.map(([name, url]) => ({ name, url })), rounds, sliceSeconds: 1, rate: fixedRate };
  return new Promise<PacedTargetResult[]>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.postMessage(job);
  }).finally(() => worker.terminate());
}

/** CPU time counters of the whole machine (/proc/stat, Linux): total and stolen by the hypervisor. */
function cpuCounters(): { total: number; steal: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// ---- CPU per request ------------------------------------------------------------------------------

/** Which requests a CPU slice sends: follow-up polls of one query per connection, or new statements only. */
type CpuPath = "follow-up" | "statement";

interface CpuSlice {
  /** Proxy CPU (user + system) per 2xx response, µs. */
  cpuUsPerRequest: number;
  rps: number;
  p50: number;
  p99: number;
  served: number;
  problems: number;
}

/**
 * One autocannon slice on one path while the proxy's CPU counters are read before and after.
 * follow-up: each connection POSTs one statement, then polls its first nextUri again and again
 * (the Trino server answers a repeated token with the same page, as Trino does): one POST per
 * FOLLOW_UPS_PER_POST follow-ups. statement: every request is a new POST /v1/statement.
 */
function cpuSlice(url: string, pid: number, which: CpuPath, seconds: number): Promise<CpuSlice> {
  const latencies: number[] = [];
  const requests = which === "statement" ? [{ method: "POST", path: "/v1/statement", body: "SELECT 1" }] : followUpRequests;
  return new Promise((resolve, reject) => {
    const cpuBefore = processTreeCpuMs(pid);
    const instance = autocannon(
      { url, connections, duration: seconds, headers: { "x-trino-user": "bench" }, requests },
      (error: Error | null, result: any) => {
        if (error) return reject(error);
        const cpuMs = processTreeCpuMs(pid) - cpuBefore;
        const sorted = Float64Array.from(latencies).sort();
        resolve({
          cpuUsPerRequest: (cpuMs * 1000) / Math.max(1, latencies.length),
          rps: latencies.length / seconds,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          served: latencies.length,
          problems: result.errors + result.timeouts + result.non2xx + (result.resets ?? 0),
        });
      },
    );
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

interface CpuTarget {
  target: string;
  url: string;
  pid: number;
  slices: Record<CpuPath, CpuSlice[]>;
}

interface TargetResult {
  target: string;
  max: LoadResult[];
  fixed?: PacedTargetResult;
}

/** Checks the flow through a target once: 3 responses, and every nextUri points back at the target. */
async function verify(target: string, url: string): Promise<void> {
  const check = await checkFlow(url);
  const origin = new URL(url).origin;
  if (check.states.join(",") !== "QUEUED,RUNNING,FINISHED" || check.nextUriOrigins.some((o) => o !== origin)) {
    throw new Error(`${target}: unexpected flow ${JSON.stringify(check)} (nextUri must point at ${origin})`);
  }
}

// ---- main -----------------------------------------------------------------------------------------

const loadAtStart = os.loadavg()[0];
const nginxPath = ensureNginx();
const nginxVersion = spawnSync(nginxPath, ["-v"], { encoding: "utf8" })
  .stderr.trim()
  .replace(/^nginx version: /, "");
const results: TargetResult[] = [];
let stealPercent = NaN;
/** The gateway with `--workers 2` (issue 18 item 3): the others run one process. */
const twoWorkersTarget = "gateway (node-http, --workers 2)";
let cpuTargets: CpuTarget[] = [];
const cpuLoad = { start: [0, 0, 0], end: [0, 0, 0], stealPercent: NaN };
try {
  // Every target runs at once and the runs go round-robin over them, so drifting load from other
  // work on the machine spreads over all targets instead of biasing one.
  const backend = await spawnReady(process.execPath, ["fixtures/trino-server/main.ts", "--port", "0", "--max-queries", "20000"]);
  const backendUrl = backend.ready.url as string;
  const nginx = await startNginx(nginxPath, Number(new URL(backendUrl).port));
  const gatewayNodeHttp = await startGateway(backendUrl);
  const gatewayTwoWorkers = await startGateway(backendUrl, { workers: 2 });
  const minimal = await spawnReady(process.execPath, ["bench/gateway/minimal-proxy.ts", backendUrl]);
  const targets: Array<[string, string]> = [
    ["direct", backendUrl],
    ["nginx", nginx.url],
    ["gateway (node-http)", gatewayNodeHttp.url],
    [twoWorkersTarget, gatewayTwoWorkers.url],
    ["minimal node:http proxy (reference)", minimal.ready.url as string],
  ];
  for (const [target, url] of targets) {
    await verify(target, url);
    await load(url, { connections, seconds: 2 }); // warm-up (JIT, keep-alive pools)
    results.push({ target, max: [] });
  }
  // CPU per request: rounds × paths × targets, the target order rotating each round.
  const cpuByName: Array<[string, ChildProcess]> = [
    ["nginx", nginx.child],
    ["minimal node:http proxy (reference)", minimal.child],
    ["gateway (node-http)", gatewayNodeHttp.child],
    [twoWorkersTarget, gatewayTwoWorkers.child],
  ];
  cpuTargets = cpuByName.map(([target, child]) => ({
    target,
    url: targets.find(([name]) => name === target)![1],
    pid: child.pid!,
    slices: { "follow-up": [], statement: [] },
  }));
  cpuLoad.start = os.loadavg();
  const stealBefore = cpuCounters();
  for (let round = 0; round < cpuRounds; round++) {
    for (const which of ["follow-up", "statement"] as const) {
      for (let k = 0; k < cpuTargets.length; k++) {
        const t = cpuTargets[(k + round) % cpuTargets.length];
        const slice = await cpuSlice(t.url, t.pid, which, cpuDuration);
        t.slices[which].push(slice);
        console.error(
          `cpu round ${round + 1} ${which} ${t.target}: ${slice.cpuUsPerRequest.toFixed(1)} µs/request over ${slice.served} (${Math.round(slice.rps)} req/s, problems ${slice.problems})`,
        );
      }
    }
  }
  const stealAfter = cpuCounters();
  cpuLoad.end = os.loadavg();
  cpuLoad.stealPercent = (100 * (stealAfter.steal - stealBefore.steal)) / Math.max(1, stealAfter.total - stealBefore.total);
  for (let run = 0; run < runs; run++) {
    for (const [index, [target, url]] of targets.entries()) {
      const max = await load(url, { connections });
      results[index].max.push(max);
      console.error(
        `${target} run ${run + 1}: max ${Math.round(max.rps)} req/s p50 ${max.p50.toFixed(2)} p99 ${max.p99.toFixed(2)} ms (errors/non-2xx/resets ${max.errors}/${max.non2xx}/${max.resets})`,
      );
    }
  }
  const countersBefore = cpuCounters();
  const steadyResults = await steadyInterleaved(targets);
  const countersAfter = cpuCounters();
  stealPercent = (100 * (countersAfter.steal - countersBefore.steal)) / Math.max(1, countersAfter.total - countersBefore.total);
  for (const [index, fixed] of steadyResults.entries()) {
    results[index].fixed = fixed;
    console.error(
      `${fixed.name} at ${fixedRate}/s: p50 ${percentile(fixed.latencies, 50).toFixed(2)} p99 ${percentile(fixed.latencies, 99).toFixed(2)} ms over ${fixed.latencies.length} requests (failed ${fixed.failed})`,
    );
  }
  for (const child of [gatewayNodeHttp.child, gatewayTwoWorkers.child, minimal.child, nginx.child]) await stop(child);
  await stop(backend.child);
} finally {
  stopChildren();
}

// ---- report ---------------------------------------------------------------------------------------

const summary = results.map((r) => ({
  target: r.target,
  rps: median(r.max.map((x) => x.rps)),
  p50: median(r.max.map((x) => x.p50)),
  p99: median(r.max.map((x) => x.p99)),
  fixedP50: percentile(r.fixed!.latencies, 50),
  fixedP99: percentile(r.fixed!.latencies, 99),
  sliceP99: median(r.fixed!.sliceP99s),
  fixedRps: r.fixed!.sentRate,
  problems: r.max.reduce((n, x) => n + x.errors + x.non2xx + x.resets, 0) + r.fixed!.failed,
}));
const by = (name: string) => summary.find((s) => s.target === name)!;
const direct = by("direct");
const nginx = by("nginx");
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const lines: string[] = [];
lines.push("<!-- bench:gateway:start -->");
lines.push("## gateway (bench/gateway, `npm run bench:gateway`)");
lines.push("");
const cpu = os.cpus()[0]?.model ?? "unknown";
lines.push(
  `Machine: nproc ${os.availableParallelism()}; memory ${Math.round(os.totalmem() / 2 ** 30)} GiB; CPU ${cpu}; node ${process.version}; nginx ${nginxVersion}; ${new Date().toISOString()}; load average at start ${loadAtStart.toFixed(1)}, at end ${os.loadavg()[0].toFixed(1)} (other work on the machine adds noise).`,
);
if (cpuTargets.length > 0) {
  const cpuOf = (name: string) => cpuTargets.find((t) => t.target === name)!;
  const perRequest = (t: CpuTarget, which: CpuPath) => t.slices[which].map((x) => x.cpuUsPerRequest);
  const spread = (xs: number[], digits = 1) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`;
  /** Per-round ratios of a target's CPU per request to a reference's (same round: same machine load). */
  const roundRatios = (t: CpuTarget, reference: CpuTarget, which: CpuPath) =>
    t.slices[which].map((x, i) => x.cpuUsPerRequest / reference.slices[which][i].cpuUsPerRequest);
  const floor = cpuOf("minimal node:http proxy (reference)");
  const nginxCpu = cpuOf("nginx");
  const gatewayCpu = cpuOf("gateway (node-http)");
  lines.push("");
  lines.push(
    `### CPU per proxied request (headline)\n\n` +
      `User + system CPU of the proxy process (its whole process tree, all threads: /proc/<pid>/stat utime + stime, ${clockTicks} ticks/s) over one autocannon slice, divided by the 2xx responses it served in that slice; ` +
      `${cpuRounds} rounds, in each round every target once per path (${cpuDuration} s, ${connections} connections, target order rotating), so every round's targets saw the same machine load. ` +
      `Follow-ups: each connection POSTs one \`SELECT 1\` and then polls its first nextUri again and again (the test server answers a repeated token with the same page, as Trino does), one POST per ${FOLLOW_UPS_PER_POST} GET follow-ups (autocannon clears a connection's context when it wraps around its request list); ` +
      `new statements: every request is a POST /v1/statement (answered QUEUED with a nextUri that is never polled). ` +
      `Load average (1/5/15 min) at the start of this phase ${cpuLoad.start.map((x) => x.toFixed(1)).join(" / ")}, at its end ${cpuLoad.end.map((x) => x.toFixed(1)).join(" / ")}; CPU steal during it ${cpuLoad.stealPercent.toFixed(1)}% — wall-clock columns (req/s, latency) move with that load, CPU per request far less.`,
  );
  lines.push("");
  lines.push(
    "| target | path | CPU µs / request (median) | spread (min–max of rounds) | × minimal proxy (median of rounds; spread) | × nginx (median of rounds; spread) | req/s (median) | p50 ms | p99 ms | problems |",
  );
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const which of ["follow-up", "statement"] as const) {
    for (const t of cpuTargets) {
      const slices = t.slices[which];
      const vsFloor = roundRatios(t, floor, which);
      const vsNginx = roundRatios(t, nginxCpu, which);
      lines.push(
        `| ${t.target} | ${which === "follow-up" ? "follow-up GET" : "new statement POST"} | ${fmt(median(perRequest(t, which)), 1)} | ${spread(perRequest(t, which))} | ${fmt(median(vsFloor))} (${spread(vsFloor, 2)}) | ${fmt(median(vsNginx))} (${spread(vsNginx, 2)}) | ${Math.round(median(slices.map((x) => x.rps)))} | ${fmt(median(slices.map((x) => x.p50)))} | ${fmt(median(slices.map((x) => x.p99)))} | ${slices.reduce((n, x) => n + x.problems, 0)} |`,
      );
    }
  }
  lines.push("");
  for (const [which, goal] of [
    ["follow-up", 1.15],
    ["statement", 1.3],
  ] as const) {
    const ratio = median(roundRatios(gatewayCpu, floor, which));
    lines.push(
      `- gateway (node-http), ${which === "follow-up" ? "follow-ups" : "new statements"}: ${fmt(ratio)}× the minimal proxy's CPU per request (goal ≤ ${goal}: ${ratio <= goal ? "met" : "NOT met"}); ${fmt(median(roundRatios(gatewayCpu, nginxCpu, which)))}× nginx's.`,
    );
  }
  const twoWorkersCpu = cpuOf(twoWorkersTarget);
  for (const which of ["follow-up", "statement"] as const) {
    const cpuRatio = median(roundRatios(twoWorkersCpu, gatewayCpu, which));
    const rpsRatio = median(twoWorkersCpu.slices[which].map((x, i) => x.rps / gatewayCpu.slices[which][i].rps));
    lines.push(
      `- --workers 2 against 1, ${which === "follow-up" ? "follow-ups" : "new statements"}: ${fmt(cpuRatio)}× the CPU per request (primary and both workers counted), ${fmt(rpsRatio)}× the requests per second (median of rounds). ` +
        "The load generator, the backend and the other proxies share the same 2 cores, so a second worker has no idle core to use here: this measures the cost of the cluster (connection hand-off by the primary, two event loops), not the gain on a node with spare cores.",
    );
  }
  lines.push("");
  lines.push("### Throughput and latency (wall clock)");
  lines.push("");
}
lines.push(
  `Flow: POST /v1/statement \`SELECT 1\` + 2 nextUri GETs (QUEUED → RUNNING → FINISHED) against one Trino protocol test server process; the same load tools for every target, in the process of this script. ` +
    `Max throughput: autocannon, ${connections} connections, ${duration} s; latency there is every 2xx response's duration as autocannon measures it (float ms). ` +
    `Max throughput: ${runs} runs each, median of the runs. ` +
    `Fixed rate: ${fixedRate} req/s from an open-loop paced generator (bench/gateway/paced-load.ts on a worker thread; request k sent at start + k/rate, keep-alive; latency from send to the last byte, per request of the flow) — ` +
    `not autocannon, whose rate option lets each connection send its per-second share at full speed and then wait, i.e. it measures short saturating bursts. ` +
    `The targets take turns in 1-second slices, ${rounds} rounds in rotating order (paced-worker.ts), so a stall of the machine lands on every target alike; p50/p99 are over all ${rounds * fixedRate} requests of a target, ` +
    `and "median 1-s p99" is the median over its ${rounds} slices of each slice's p99 (a few stalls of the shared VM move the pooled p99 of whichever target they hit; they move the median second far less). ` +
    `CPU steal (hypervisor) during that phase: ${stealPercent.toFixed(1)}% of the machine's CPU time. ` +
    `nginx: 1 worker, upstream keep-alive; gateway: one Node process (\`xtrinode gateway --workers 1\`, default config, one default route), and the same with \`--workers 2\` (a primary and two workers). ` +
    `Everything shares the 2 cores (load tool, proxy, backend), so absolute numbers are low; compare ratios.`,
);
lines.push("");
lines.push(
  `| target | req/s (max) | p50 ms | p99 ms | req/s reached of ${fixedRate} | p50 ms @ ${fixedRate}/s | p99 ms @ ${fixedRate}/s | p99 added vs direct (ms) | median 1-s p99 ms @ ${fixedRate}/s (added) | req/s vs nginx | errors |`,
);
lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const s of summary) {
  lines.push(
    `| ${s.target} | ${Math.round(s.rps)} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${Math.round(s.fixedRps)} | ${fmt(s.fixedP50)} | ${fmt(s.fixedP99)} | ${s.target === "direct" ? "—" : fmt(s.fixedP99 - direct.fixedP99)} | ${fmt(s.sliceP99)}${s.target === "direct" ? "" : ` (${fmt(s.sliceP99 - direct.sliceP99)})`} | ${fmt(s.rps / nginx.rps)} | ${s.problems} |`,
  );
}
lines.push("");
const gateways = summary.filter((s) => s.target.startsWith("gateway"));
for (const g of gateways) {
  const ratio = g.rps / nginx.rps;
  const added = g.fixedP99 - direct.fixedP99;
  lines.push(
    `- ${g.target}: ${fmt(ratio)}× nginx throughput (goal ≥ 0.5: ${ratio >= 0.5 ? "met" : "NOT met"}); p99 added at ${fixedRate} req/s ${fmt(added)} ms over all requests (goal ≤ 1 ms: ${added <= 1 ? "met" : "NOT met"}), ${fmt(g.sliceP99 - direct.sliceP99)} ms in the median second` +
      (g.fixedRps < fixedRate * 0.95
        ? `; it reached only ${Math.round(g.fixedRps)} req/s of the ${fixedRate} asked, so that latency is a saturated one.`
        : "."),
  );
}
const minimalProxy = summary.find((s) => s.target.startsWith("minimal"));
if (minimalProxy) {
  lines.push(
    `- reference, minimal node:http proxy (no gateway logic): ${fmt(minimalProxy.rps / nginx.rps)}× nginx throughput; p99 added at ${fixedRate} req/s ${fmt(minimalProxy.fixedP99 - direct.fixedP99)} ms over all requests, ${fmt(minimalProxy.sliceP99 - direct.sliceP99)} ms in the median second — ` +
      "what any Node.js proxy hop costs on this machine, against which the gateway's own share can be read.",
  );
}
lines.push("");
lines.push(
  "Gateway process memory (10,000 held statements, 1,000,000 queries passed): bench/gateway/memory.ts, section bench:gateway-memory.",
);
lines.push("<!-- bench:gateway:end -->");
const section = lines.join("\n");
console.log(section);

if (values.record) {
  const file = path.join(repo, "bench/RESULTS.md");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    text = "# Benchmark results\n\nOne section per benchmark; each benchmark rewrites only its own section.\n";
  }
  const pattern = /<!-- bench:gateway:start -->[\s\S]*?<!-- bench:gateway:end -->/;
  text = pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  console.error(`recorded in ${file}`);
}
process.exit(0);
