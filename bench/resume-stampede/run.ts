// Benchmark: a stampede of concurrent resume requests for one suspended runtime, spread over
// `xtrinode apiserver` processes that share the Kubernetes API test server (in this process, so its
// request log counts the writes). Goals: exactly 1 XTrinode write and 1 Lease acquisition per
// stampede; p99 latency ≤ 100 ms. Several runs (a fresh runtime each), medians reported.
//
//   npm run bench:resume -- [--requests 1000] [--runs 5] [--processes 2] [--connections 100]
//
// --connections bounds the client's keep-alive sockets per API server process (a gateway keeps a
// pool; 0 = one socket per request, i.e. 1,000 simultaneous connects). All traffic is on 127.0.0.1.
import os from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { spawnApiServer, type ApiServerProcess } from "../../test/apiserver/http.ts";
import type { LoadJob, LoadResult } from "./load-worker.ts";
import { leasesPath, namespace, runtimePath, startTestCluster, tokens } from "../../test/apiserver/setup.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
    processes: { type: "string", default: "2" },
    connections: { type: "string", default: "100" },
  },
});
const requests = Number(values.requests);
const runs = Number(values.runs);
const processes = Number(values.processes);
const connections = Number(values.connections);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** Cumulative counts per `le` of the resume latency histogram (2xx answers), summed over the API server processes. */
async function resumeBuckets(urls: string[]): Promise<Map<number, number>> {
  const buckets = new Map<number, number>();
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then((r) => r.text());
    for (const line of text.split("\n")) {
      if (!line.startsWith("xtrinode_apiserver_request_duration_seconds_bucket{") || !line.includes('route="/v1/runtimes/:namespace/:name/resume"')) continue;
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

const cluster = await startTestCluster();
let servers: ApiServerProcess[] = [];
try {
  servers = await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      spawnApiServer(["--kubeconfig", cluster.kube.kubeconfigPath, "--token-file", cluster.tokenFile, "--identity", `bench-${i + 1}`]),
    ),
  );
  const worker = new Worker(new URL("./load-worker.ts", import.meta.url));
  const load = (job: LoadJob) =>
    new Promise<LoadResult>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      worker.postMessage(job);
    });

  const stampede = async (name: string) => {
    await cluster.createRuntime(name, { suspended: true, routeState: "PAUSED" });
    cluster.kube.requestLog.clear();
    const urls = servers.map((server) => `${server.url}/v1/runtimes/${namespace}/${name}/resume`);
    const bucketsBefore = await resumeBuckets(servers.map((server) => server.url));
    const { statuses, retryAfter, latenciesMs, wallMs } = await load({ urls, token: tokens.gateway, requests, connections });
    const latencies = [...latenciesMs].sort((a, b) => a - b);
    const bucketsAfter = await resumeBuckets(servers.map((server) => server.url));
    return {
      serverP50AtMostMs: bucketPercentile(bucketsBefore, bucketsAfter, 50),
      serverP99AtMostMs: bucketPercentile(bucketsBefore, bucketsAfter, 99),
      accepted: Math.min(statuses.filter((status) => status === 202).length, retryAfter),
      xtrinodeWrites: cluster.successfulWrites(runtimePath(name)),
      leaseAcquisitions: cluster.successfulWrites(leasesPath),
      leaseAttempts: cluster.kube.requestLog.writes({ pathPrefix: leasesPath }).length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1],
      wallMs,
    };
  };

  await stampede("warmup"); // JIT and connection warm-up, not reported
  const results = [];
  for (let run = 1; run <= runs; run++) {
    const result = await stampede(`stampede-${run}`);
    results.push(result);
    console.log(JSON.stringify({ run, ...result, p50: +result.p50.toFixed(2), p99: +result.p99.toFixed(2), max: +result.max.toFixed(2), wallMs: +result.wallMs.toFixed(1) }));
  }
  const summary = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`,
    requests,
    runs,
    processes,
    connections: connections > 0 ? `${connections} keep-alive per process` : "one per request",
    allAccepted: results.every((r) => r.accepted === requests),
    xtrinodeWrites: results.map((r) => r.xtrinodeWrites),
    leaseAcquisitions: results.map((r) => r.leaseAcquisitions),
    leaseAttempts: results.map((r) => r.leaseAttempts),
    medianP50Ms: +median(results.map((r) => r.p50)).toFixed(2),
    medianP99Ms: +median(results.map((r) => r.p99)).toFixed(2),
    medianMaxMs: +median(results.map((r) => r.max)).toFixed(2),
    serverSideP50AtMostMs: median(results.map((r) => r.serverP50AtMostMs)),
    serverSideP99AtMostMs: median(results.map((r) => r.serverP99AtMostMs)),
    loadAverage1m: +os.loadavg()[0].toFixed(2),
  };
  console.log(JSON.stringify({ summary }, null, 2));
  const goalsMet = summary.allAccepted && results.every((r) => r.xtrinodeWrites === 1 && r.leaseAcquisitions === 1) && summary.medianP99Ms <= 100;
  console.log(goalsMet ? "goals met: 1 write per stampede, p99 ≤ 100 ms" : "goals NOT met");
  await worker.terminate();
} finally {
  await Promise.all(servers.map((server) => server.stop()));
  await cluster.close();
}
