// Render benchmark: 1, 100 and 1,000 runtimes through renderRuntime (templates compiled once, in a
// warm-up), several runs each; reports the median ms per runtime and writes bench/RESULTS.md's
// "render" section.  Run: npm run bench:render
import { execSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderRuntime } from "../../renderer/index.ts";
import type { XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../../schemas/generated/types.ts";

const SIZES = [1, 100, 1000];
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const resultsFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "RESULTS.md");

const policy: XTrinodePolicy = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  defaults: { maxWorkers: 20, allowValuesOverlay: true, allowedNodePoolClasses: ["general"], maxResources: { cpu: "16", memory: "64Gi" } },
};

const catalogs: XTrinodeCatalog[] = ["sales", "lake", "events"].map((name) => ({
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodeCatalog",
  metadata: { name, namespace: "bench", labels: { shared: "true" } },
  spec: {
    connector: "postgresql",
    properties: { "connection-url": `jdbc:postgresql://${name}.db:5432/${name}` },
    secretProperties: { "connection-password": { secretName: `${name}-db`, key: "password" } },
  },
}));

/** A mix of the features: fixed, KEDA, HPA overlay, node pool, suspended; every fifth differs. */
function makeRuntime(i: number): XTrinode {
  const spec: XTrinode["spec"] = {
    coordinator: { resources: { requests: { cpu: "2", memory: "8Gi" } }, config: { "query.max-execution-time": "2h" } },
    catalogs: { selector: { matchLabels: { shared: "true" } } },
    route: { hostnames: [`rt-${i}.trino.example.com`] },
  };
  switch (i % 5) {
    case 0:
      spec.workers = { count: 3, resources: { requests: { cpu: "4", memory: "16Gi" } } };
      break;
    case 1:
      spec.workers = { mode: "keda", min: 0, max: 10, keda: { queryPressure: { serverAddress: "http://prometheus:9090" } } };
      break;
    case 2:
      spec.workers = { count: 2 };
      spec.valuesOverlay = { server: { autoscaling: { enabled: true, maxReplicas: 8 } } };
      break;
    case 3:
      spec.workers = { count: 2 };
      spec.nodePool = { class: "general", instanceType: "m6i.2xlarge" };
      break;
    case 4:
      spec.workers = { count: 2 };
      spec.lifecycle = { suspended: true };
      break;
  }
  return { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", metadata: { name: `rt-${i}`, namespace: "bench" }, spec };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function renderBatch(runtimes: XTrinode[]): number {
  const start = process.hrtime.bigint();
  let objects = 0;
  for (const runtime of runtimes) objects += renderRuntime({ runtime, catalogs, policy }).objects.length;
  if (!objects) throw new Error("rendered nothing");
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// Warm-up: compiles the templates and the ajv validators once, and lets the JIT settle.
renderBatch(Array.from({ length: 200 }, (_, i) => makeRuntime(i)));

const rows: Array<{ n: number; totalMs: number; perRuntimeMs: number; runs: number[] }> = [];
for (const n of SIZES) {
  const runtimes = Array.from({ length: n }, (_, i) => makeRuntime(i));
  const runs = Array.from({ length: RUNS }, () => renderBatch(runtimes));
  const totalMs = median(runs);
  rows.push({ n, totalMs, perRuntimeMs: totalMs / n, runs });
  console.log(
    `render ${n} runtimes: median ${totalMs.toFixed(1)} ms total, ${(totalMs / n).toFixed(3)} ms/runtime (runs: ${runs.map((r) => r.toFixed(1)).join(", ")})`,
  );
}

const machine = [
  `nproc ${os.cpus().length}`,
  `memory: ${execSync('free -h | awk \'/^Mem:/ {print $2" total, "$7" available"}\'').toString().trim()}`,
  `node ${process.version}`,
  new Date().toISOString(),
].join("; ");
const perRuntimeAt1000 = rows.at(-1)!.perRuntimeMs;
const growth = rows.at(-1)!.perRuntimeMs / rows[1].perRuntimeMs;
const section = [
  "<!-- bench:render:start -->",
  "## render (bench/render, `npm run bench:render`)",
  "",
  `Machine: ${machine}.`,
  `renderRuntime per runtime (validation + values + templates + cached YAML skeletons), templates compiled once in a warm-up; ${RUNS} runs per size, median.`,
  "Runtimes mix fixed workers, KEDA, HPA overlay, node pool and suspended, each with 3 catalogs (secret-backed).",
  "",
  "| runtimes | median total (ms) | median per runtime (ms) |",
  "| ---: | ---: | ---: |",
  ...rows.map((r) => `| ${r.n} | ${r.totalMs.toFixed(1)} | ${r.perRuntimeMs.toFixed(3)} |`),
  "",
  `Goal ≤ 1 ms per runtime: ${perRuntimeAt1000 <= 1 ? "met" : "NOT met"} (${perRuntimeAt1000.toFixed(3)} ms at 1,000). ` +
    `Growth: per-runtime cost at 1,000 is ${growth.toFixed(2)}× that at 100 (1.00 = linear).`,
  "<!-- bench:render:end -->",
].join("\n");

let results = existsSync(resultsFile)
  ? readFileSync(resultsFile, "utf8")
  : "# Benchmark results\n\nOne section per benchmark; each benchmark rewrites only its own section.\n";
const pattern = /<!-- bench:render:start -->[\s\S]*<!-- bench:render:end -->/;
results = pattern.test(results) ? results.replace(pattern, section) : `${results.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsFile, results);
console.log(`wrote ${path.relative(process.cwd(), resultsFile)}`);
