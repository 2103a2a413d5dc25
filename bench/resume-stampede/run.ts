// Benchmark: a stampede of concurrent resume requests for one suspended runtime, spread over
// `xtrinode apiserver` processes that share the Kubernetes API test server (in this process, so its
// request log counts the writes; the load generator runs on a worker thread). Goals: exactly 1
// XTrinode write and 1 Lease acquisition per stampede; p99 latency ≤ 100 ms. Several runs (a fresh
// runtime each) per client configuration, medians reported.
//
//   npm run bench:resume -- [--requests 1000] [--runs 5] [--processes 2] [--connections -1,100,0] [--client raw] [--record]
//
// --connections: one client configuration per value: -1 = one already-open connection per request, all
// written at once; N > 0 = N keep-alive sockets per API server process (requests queue for a socket, as
// behind a client pool); 0 = a new connection per request (all connect at once).
// --client: raw (default) writes prepared request bytes on sockets, so the generator's own CPU — on the
// same 2 cores as the servers — stays small; node-http sends node:http requests (≈ 4× its CPU per request).
// Each run is followed by the same stampede against a reference: bare node:http servers answering 202 at
// once (floor-server.ts), one per API server process — the floor this machine sets. API server CPU per
// request comes from /proc (Linux).
// --record rewrites this benchmark's section of bench/RESULTS.md. All traffic is on 127.0.0.1.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { spawnApiServer, type ApiServerProcess } from "../../test/apiserver/http.ts";
import { leasesPath, namespace, runtimePath, startTestCluster, tokens } from "../../test/apiserver/setup.ts";
import { killAllChildren, spawnReady } from "../../test/support/process.ts";
import type { LoadJob, LoadResult } from "./load-worker.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
    processes: { type: "string", default: "2" },
    connections: { type: "string", default: "-1,100,0" },
    record: { type: "boolean", default: false },
    client: { type: "string", default: "raw" },
  },
});
if (values.client !== "raw" && values.client !== "node-http") throw new Error(`--client: "${values.client}" is neither raw nor node-http`);
const client = values.client;
const requests = Number(values.requests);
const runs = Number(values.runs);
const processes = Number(values.processes);
const connectionConfigs = values.connections.split(",").map(Number);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Cumulative counts per `le` of the resume latency histogram, summed over the API server processes. */
async function resumeBuckets(urls: string[]): Promise<Map<number, number>> {
  const buckets = new Map<number, number>();
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    for (const line of text.split("\n")) {
      if (
        !line.startsWith("xtrinode_apiserver_request_duration_seconds_bucket{") ||
        !line.includes('route="/v1/runtimes/:namespace/:name/resume"')
      )
        continue;
      const match = /le="([^"]+)".*\} (\d+)$/.exec(line);
      if (!match) continue;
      const le = match[1] === "+Inf" ? Infinity : Number(match[1]);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
    }
  }
  return buckets;
}

/** The upper bound (ms) of the histogram bucket holding the p-th percentile of the requests between two snapshots. */
function bucketPercentile(before: Map<number, number>, after: Map<number, number>, p: number): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const le of les) if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= (p / 100) * total) return le * 1000;
  return Infinity;
}

const clockTicksPerSecond = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond;
}

interface RunResult {
  accepted: number;
  xtrinodeWrites: number;
  leaseAcquisitions: number;
  leaseAttempts: number;
  p50: number;
  p99: number;
  wallMs: number;
  serverP50: number;
  serverP99: number;
}

const loadBefore = os.loadavg()[0];
const cluster = await startTestCluster();
let servers: ApiServerProcess[] = [];
const floorServers = await Promise.all(Array.from({ length: processes }, () => spawnReady("bench/resume-stampede/floor-server.ts", [])));
const floorUrls = floorServers.map((server) => `${String(server.ready.url)}/v1/runtimes/${namespace}/floor/resume`);
const worker = new Worker(new URL("./load-worker.ts", import.meta.url));
const rows: string[] = [];
let goalsMet = true;
try {
  servers = await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      spawnApiServer(["--kubeconfig", cluster.kube.kubeconfigPath, "--token-file", cluster.tokenFile, "--identity", `bench-${i + 1}`]),
    ),
  );
  const load = (job: LoadJob) =>
    new Promise<LoadResult>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.postMessage(job);
    });
  const serverUrls = servers.map((server) => server.url);

  const stampede = async (name: string, connections: number): Promise<RunResult> => {
    await cluster.createRuntime(name, { suspended: true, routeState: "PAUSED" });
    cluster.kube.requestLog.clear();
    const urls = serverUrls.map((url) => `${url}/v1/runtimes/${namespace}/${name}/resume`);
    const bucketsBefore = await resumeBuckets(serverUrls);
    const { statuses, retryAfter, latenciesMs, wallMs } = await load({ urls, token: tokens.gateway, requests, connections, client });
    const bucketsAfter = await resumeBuckets(serverUrls);
    const latencies = [...latenciesMs].sort((a, b) => a - b);
    return {
      accepted: Math.min(statuses.filter((status) => status === 202).length, retryAfter),
      xtrinodeWrites: cluster.successfulWrites(runtimePath(name)),
      leaseAcquisitions: cluster.successfulWrites(leasesPath),
      leaseAttempts: cluster.kube.requestLog.writes({ pathPrefix: leasesPath }).length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      wallMs,
      serverP50: bucketPercentile(bucketsBefore, bucketsAfter, 50),
      serverP99: bucketPercentile(bucketsBefore, bucketsAfter, 99),
    };
  };

  const floorCpuMs = () => floorServers.reduce((sum, server) => sum + cpuMs(server.pid), 0);
  const floorP99 = async (connections: number) => {
    const latencies = [...(await load({ urls: floorUrls, token: tokens.gateway, requests, connections, client })).latenciesMs].sort(
      (a, b) => a - b,
    );
    return percentile(latencies, 99);
  };
  const apiServerCpuMs = () => servers.reduce((sum, server) => sum + cpuMs(server.child.pid!), 0);

  for (const connections of connectionConfigs) {
    await stampede(`warmup-${connections}`, connections); // JIT and connection warm-up, not reported
    await floorP99(connections);
    const results: RunResult[] = [];
    const floorP99s: number[] = [];
    let apiCpuMs = 0;
    let floorCpu = 0;
    for (let run = 1; run <= runs; run++) {
      const cpuBefore = apiServerCpuMs();
      const result = await stampede(`stampede-${connections}-${run}`, connections);
      apiCpuMs += apiServerCpuMs() - cpuBefore;
      results.push(result);
      const floorCpuBefore = floorCpuMs();
      floorP99s.push(await floorP99(connections)); // right after, so both see the same machine
      floorCpu += floorCpuMs() - floorCpuBefore;
      console.log(
        JSON.stringify({
          connections,
          run,
          ...result,
          p50: +result.p50.toFixed(1),
          p99: +result.p99.toFixed(1),
          wallMs: +result.wallMs.toFixed(1),
          floorP99: +floorP99s.at(-1)!.toFixed(1),
        }),
      );
    }
    const writesOk = results.every((r) => r.accepted === requests && r.xtrinodeWrites === 1 && r.leaseAcquisitions === 1);
    const p99 = median(results.map((r) => r.p99));
    goalsMet &&= writesOk && p99 <= 100;
    rows.push(
      `| ${connections < 0 ? "1 open per request (warm)" : connections > 0 ? `${connections} keep-alive / process` : "1 new per request"} | ${results.map((r) => r.xtrinodeWrites).join(", ")} | ` +
        `${results.map((r) => r.leaseAcquisitions).join(", ")} (${results.map((r) => r.leaseAttempts).join(", ")}) | ` +
        `${results.every((r) => r.accepted === requests) ? "all" : "NOT all"} | ${median(results.map((r) => r.p50)).toFixed(1)} | ${p99.toFixed(1)} | ` +
        `≤ ${median(results.map((r) => r.serverP50))} / ≤ ${median(results.map((r) => r.serverP99))} | ${median(results.map((r) => r.wallMs)).toFixed(0)} | ` +
        `${median(floorP99s).toFixed(1)} | ${((apiCpuMs * 1000) / (runs * requests)).toFixed(0)} (floor ${((floorCpu * 1000) / (runs * requests)).toFixed(0)}) |`,
    );
  }
} finally {
  await worker.terminate();
  await Promise.all(servers.map((server) => server.stop()));
  await killAllChildren();
  await cluster.close();
}

const cpus = os.cpus();
const section = [
  "<!-- bench:resume:start -->",
  "## resume stampede (bench/resume-stampede, `npm run bench:resume`)",
  "",
  `Machine: nproc ${cpus.length} (${cpus[0]?.model ?? "cpu"}); memory ${Math.round(os.totalmem() / 2 ** 30)} GiB; node v${process.versions.node}; ${new Date().toISOString()}; ` +
    `load average (1 min) ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after (other work shares this machine).`,
  `${requests} concurrent \`POST …/resume\` for one suspended runtime, round-robin over ${processes} \`xtrinode apiserver\` processes sharing the ` +
    `Kubernetes API test server (in the bench process; load generator on a worker thread, client \`${client}\`${client === "raw" ? ": prepared request bytes on sockets, HTTP/1.1 answers parsed by hand" : ": node:http requests"}). ` +
    `${runs} runs per row, each on a fresh runtime after one warm-up stampede; latency = client-observed (includes queueing behind the other requests), median of runs. ` +
    "Server-side = the API servers' own request histogram (bucket upper bounds). " +
    "Floor p99 = the same stampede, right after each run, against bare node:http servers that answer 202 at once (bench/resume-stampede/floor-server.ts, one per API server process): what this machine allows before any API server work. " +
    "CPU / request = user + system CPU of all API server processes over the runs (/proc), divided by the requests; it includes the metrics scrapes between runs and the Kubernetes calls (in brackets: the same for the floor servers).",
  "",
  "| client connections | XTrinode writes per run (goal 1) | Lease acquisitions (attempts) per run | 202 + Retry-After | p50 (ms) | p99 (ms, goal ≤ 100) | server-side p50 / p99 (ms) | wall (ms) | floor p99 (ms) | API server CPU / request (µs) |",
  "| --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |",
  ...rows,
  "",
  `Goals: ${goalsMet ? "met" : "NOT all met"} (exactly 1 write and 1 Lease acquisition per stampede; median p99 ≤ 100 ms).`,
  "<!-- bench:resume:end -->",
].join("\n");
console.log(`\n${section}`);

if (values.record) {
  const path = fileURLToPath(new URL("../RESULTS.md", import.meta.url));
  const current = readFileSync(path, "utf8");
  const pattern = /<!-- bench:resume:start -->[\s\S]*?<!-- bench:resume:end -->/;
  writeFileSync(path, pattern.test(current) ? current.replace(pattern, section) : `${current.trimEnd()}\n\n${section}\n`);
  console.log(`recorded in ${path}`);
}
