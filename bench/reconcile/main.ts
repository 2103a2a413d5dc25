// bench:reconcile — the operator against the Kubernetes API test server for 100 and 1,000
// runtimes. Operator mode (the controller with its informer caches): initial reconcile (operator
// starts with every XTrinode already created, until all are Ready) and a no-op resync. Apply mode
// (`xtrinode apply`: no caches, labelled lists per runtime): one no-op pass. Reports wall time, API
// requests per runtime and writes on the no-op (goal 0), and rewrites this benchmark's section of
// bench/RESULTS.md.
//
// The test server runs in this process (one event loop shared with the operator), so wall times
// include the server's own work; request counts do not depend on that.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../lib/logger.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { group, kinds, plurals, version } from "../../schemas/api/index.ts";
import { customResourceInformer } from "../../reconciler/informers.ts";
import { createReconcileContext, reconcileAllOnce, startOperator } from "../../reconciler/operator.ts";
import { catalog, gatewayNamespace, runtime, startCluster, staticPolicy, type Cluster } from "../../test/reconciler/support.ts";

const resultsFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "RESULTS.md");
const sizes = (process.env.BENCH_SIZES ?? "100,1000").split(",").map(Number);
const workers = 8;
const namespaces = 10;

interface Row {
  runtimes: number;
  initialMs: number;
  /** CPU of this process (operator, test server and the watch together) during the initial reconcile. */
  initialCpuMs: number;
  initialRequestsPerRuntime: number;
  initialWritesPerRuntime: number;
  noopMs: number;
  noopRequestsPerRuntime: number;
  noopWrites: number;
  applyNoopMs: number;
  applyNoopRequestsPerRuntime: number;
  applyNoopWrites: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until no request reached the server for `quietMs` (watches excluded). */
async function quiesce(cluster: Cluster, quietMs = 1000): Promise<void> {
  let last = -1;
  for (;;) {
    const count = cluster.server.requestLog.entries.length;
    if (count === last) return;
    last = count;
    await sleep(quietMs);
  }
}

async function measure(count: number): Promise<Row> {
  const nsNames = Array.from({ length: namespaces }, (_, i) => `team-${i}`);
  const cluster = await startCluster({ historyLimit: 500_000 }, nsNames);
  try {
    for (const ns of nsNames) await cluster.client.create(catalog(ns, "tpch", { connector: "tpch" }, { shared: "true" }));
    for (let i = 0; i < count; i++) {
      const ns = nsNames[i % namespaces];
      const workersSpec =
        i % 3 === 0
          ? { mode: "keda", min: 0, max: 4, keda: { queryPressure: { serverAddress: "http://prometheus:9090" } } }
          : { mode: "fixed", count: 2 };
      await cluster.client.create(
        runtime(ns, `rt-${i}`, { workers: workersSpec, catalogs: { selector: { matchLabels: { shared: "true" } } } }),
      );
    }
    const log = cluster.server.requestLog;
    log.clear();
    // Readiness is observed through one watch (one list, then one event per change) rather than by
    // listing every runtime again and again: at 1,000 runtimes a list every 200 ms cost the shared
    // process about a fifth of the cold start's CPU, slowing what it measured.
    const ready = new Set<string>();
    const watcher = customResourceInformer(cluster.kubeConfig, group, version, plurals.runtime, kinds.runtime);
    const observed = new Promise<void>((resolve) => {
      const see = (object: KubernetesObject) => {
        const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
        if ((object as { status?: { phase?: string } }).status?.phase === "Ready") ready.add(key);
        else ready.delete(key);
        if (ready.size >= count) resolve();
      };
      watcher.on("add", see);
      watcher.on("update", see);
    });

    const cpuAtStart = process.cpuUsage();
    let start = performance.now();
    const operator = await startOperator({
      kubeConfig: cluster.kubeConfig,
      gatewayNamespace,
      policy: staticPolicy(),
      log: silentLogger(),
      leaderElection: false,
      workers,
      resyncPeriodMs: 24 * 3600_000,
    });
    await watcher.start();
    await observed;
    const initialMs = performance.now() - start;
    const initialCpu = process.cpuUsage(cpuAtStart);
    await watcher.stop();
    await quiesce(cluster);
    // The watcher's own list is not the operator's.
    const initialRequests = log.filter().filter((e) => !e.watch).length - 1;
    const initialWrites = log.countWrites();

    const reconciles = async () => (await operator.metrics.reconcileTotal.get()).values.reduce((sum, v) => sum + v.value, 0);
    log.clear();
    const before = await reconciles();
    start = performance.now();
    await operator.resync();
    while ((await reconciles()) < before + count) await sleep(20);
    const noopMs = performance.now() - start;
    await quiesce(cluster, 500);
    const noopRequests = log.filter().filter((e) => !e.watch).length;
    const noopWrites = log.countWrites();
    await operator.stop();

    log.clear();
    start = performance.now();
    const applied = await reconcileAllOnce(
      createReconcileContext(cluster.client, { gatewayNamespace, policy: staticPolicy(), log: silentLogger() }),
    );
    const applyNoopMs = performance.now() - start;
    if (applied.errors) throw new Error(`apply pass had ${applied.errors} errors`);
    return {
      runtimes: count,
      initialMs,
      initialCpuMs: (initialCpu.user + initialCpu.system) / 1000,
      initialRequestsPerRuntime: initialRequests / count,
      initialWritesPerRuntime: initialWrites / count,
      noopMs,
      noopRequestsPerRuntime: noopRequests / count,
      noopWrites,
      applyNoopMs,
      applyNoopRequestsPerRuntime: log.count() / count,
      applyNoopWrites: log.countWrites(),
    };
  } finally {
    await cluster.close();
  }
}

const loadAtStart = loadavg()[0];
const rows: Row[] = [];
for (const size of sizes) {
  const row = await measure(size);
  rows.push(row);
  console.log(JSON.stringify(row));
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const section = [
  "<!-- bench:reconcile:start -->",
  "## reconcile (bench/reconcile, `npm run bench:reconcile`)",
  "",
  `Machine: nproc ${cpus().length}; memory: ${Math.round(totalmem() / 2 ** 30)}Gi; node ${process.version}; ${new Date().toISOString()}; load average (1 min) ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other work shares this machine).`,
  `Kubernetes API test server in the same process (shared event loop: wall times include the server's work). ${namespaces} namespaces; one third KEDA, two thirds fixed workers; one selected catalog each.`,
  `Operator: \`startOperator\` (no leader election, ${workers} workers, informer caches) started with all XTrinodes already created; initial = until every runtime is Ready, as seen by one watch of the XTrinodes (requests until the cluster is quiet, watches and that watch's list excluded); no-op = a resync of every runtime with nothing changed.`,
  "Apply: `xtrinode apply`'s pass (`reconcileAllOnce`, no caches: labelled lists per runtime) over the converged cluster.",
  "Request counts and CPU are the stable measures; wall times vary with the machine's other load (shared 2-core machine: under load the process gets less than a core, so wall time exceeds CPU time).",
  "",
  "| runtimes | initial wall (ms) | initial CPU (ms) | initial requests / runtime | initial writes / runtime | no-op resync wall (ms) | no-op requests / runtime | no-op writes (goal 0) | apply no-op wall (ms) | apply no-op requests / runtime | apply no-op writes |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.runtimes} | ${fmt(r.initialMs, 0)} | ${fmt(r.initialCpuMs, 0)} | ${fmt(r.initialRequestsPerRuntime)} | ${fmt(r.initialWritesPerRuntime)} | ${fmt(r.noopMs, 0)} | ${fmt(r.noopRequestsPerRuntime)} | ${r.noopWrites} | ${fmt(r.applyNoopMs, 0)} | ${fmt(r.applyNoopRequestsPerRuntime)} | ${r.applyNoopWrites} |`,
  ),
  "<!-- bench:reconcile:end -->",
].join("\n");

// A run replaces its own section, or only the latest-run part of it when the section also keeps
// hand-written history (before/after rows) outside that part.
let results = readFileSync(resultsFile, "utf8");
const latest = /<!-- bench:reconcile:latest:start -->[\s\S]*<!-- bench:reconcile:latest:end -->/;
const pattern = /<!-- bench:reconcile:start -->[\s\S]*<!-- bench:reconcile:end -->/;
const latestSection = section
  .replace("<!-- bench:reconcile:start -->", "<!-- bench:reconcile:latest:start -->")
  .replace("## reconcile (bench/reconcile, `npm run bench:reconcile`)", "### Latest run (rewritten by `npm run bench:reconcile`)")
  .replace("<!-- bench:reconcile:end -->", "<!-- bench:reconcile:latest:end -->");
if (latest.test(results)) results = results.replace(latest, latestSection);
else results = pattern.test(results) ? results.replace(pattern, section) : `${results.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsFile, results);
console.log(section);
