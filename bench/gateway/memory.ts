// Benchmark: gateway process memory (issue 18 item 4; goal ≤ 200 MB RSS for the gateway process)
// with 10,000 statements held at once and with 1,000,000 queries passed through it, for several
// ways of starting the gateway process side by side in one run ("variants": V8's defaults, and
// the flags the gateway starts itself with, gateway/node-flags.ts), the queries sent to the variants in
// turns (interleaved chunks, the order rotating), so load from other work on the machine falls on
// all alike. Each gateway runs with bench/gateway/memory-probe.ts preloaded, which records where
// the memory goes (V8 heap used/total, external, malloc) next to the RSS read from /proc.
//
//   npm run bench:gateway-memory -- [--held 10000] [--queries 1000000] [--checkpoints 10]
//                                   [--connections 50] [--variant 'name|node flags|ENV=value ...|workers']… [--record]
//
// A variant with workers > 1 runs `--workers N`: its RSS figures are those of its largest worker
// process (each worker holds its own bounded maps; the goal is per process), the primary's beside them.
//
// Everything listens on 127.0.0.1 only and is stopped at the end (also on failure). --record
// rewrites this benchmark's section of bench/RESULTS.md.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import yaml from "js-yaml";
import { gatewayArgs } from "../../test/support/process.ts";
import { writeRoutesFile } from "../../test/support/routes-file.ts";
import type { RouteEntry } from "../../schemas/generated/types.ts";
import { processTree, processTreeCpuMs, stop } from "./children.ts";
import { sendAmount as sendOver } from "./flow.ts";

const { values } = parseArgs({
  options: {
    held: { type: "string", default: "10000" },
    queries: { type: "string", default: "1000000" },
    checkpoints: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    variant: { type: "string", multiple: true },
    record: { type: "boolean", default: false },
  },
});
const heldCount = Number(values.held);
const queryCount = Number(values.queries);
const checkpointCount = Number(values.checkpoints);
const connections = Number(values.connections);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(path.join(os.tmpdir(), "xtrinode-bench-gateway-memory-"));
const probeScript = path.join(repo, "bench/gateway/memory-probe.ts");

interface Variant {
  name: string;
  nodeFlags: string[];
  env: Record<string, string>;
  /** `--workers`: 1 serves in the one process. */
  workers: number;
}

/** `name|flag flag|ENV=value ENV=value|workers` */
function parseVariant(text: string): Variant {
  const [name, flags = "", env = "", workers = "1"] = text.split("|");
  return {
    name,
    workers: Math.max(1, Number(workers) || 1),
    nodeFlags: flags.split(/\s+/).filter(Boolean),
    env: Object.fromEntries(
      env
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    ),
  };
}

const variants: Variant[] = values.variant?.length
  ? values.variant.map(parseVariant)
  : [
      // V8's defaults: the gateway keeps flags given on its command line (gateway/node-flags.ts), 0 is V8's default.
      { name: "V8 defaults", nodeFlags: ["--max-semi-space-size=0", "--heap-growing-percent=0"], env: {}, workers: 1 },
      { name: "as shipped (gateway/node-flags.ts, added at start-up)", nodeFlags: [], env: {}, workers: 1 },
      { name: "as shipped, --workers 2 (largest worker)", nodeFlags: [], env: {}, workers: 2 },
    ];

// ---- processes ------------------------------------------------------------------------------------

const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

/** Spawns `node <nodeArgs…>` and resolves with the child and its first JSON line whose event is "listening". */
function spawnListening(nodeArgs: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, nodeArgs, {
    cwd: repo,
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${nodeArgs.join(" ")}: no listening line within 30 s`)), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      try {
        const parsed = JSON.parse(line);
        if (parsed.event === "listening") {
          clearTimeout(timer);
          resolve({ child, url: parsed.url });
        }
      } catch {
        // not a JSON line
      }
    });
    child.once("exit", (code) => reject(new Error(`node ${nodeArgs.join(" ")} exited with ${code}`)));
  });
}

interface Gateway {
  variant: Variant;
  child: ChildProcess;
  url: string;
  probeFile: string;
}

/** One gateway (`--workers 1`: one process serving; else a primary and its workers), the probe preloaded in each. */
async function startGateway(
  variant: Variant,
  name: string,
  backend: string,
  state: RouteEntry["state"],
  config?: Record<string, unknown>,
): Promise<Gateway> {
  const routesFile = path.join(work, `routes-${name}.yaml`);
  writeRoutesFile(routesFile, [{ namespace: "bench", name: "trino", backend, state, default: true }]);
  const configFile = config ? path.join(work, `config-${name}.yaml`) : undefined;
  if (configFile) writeFileSync(configFile, yaml.dump(config));
  const probeFile = path.join(work, `probe-${name}.jsonl`);
  writeFileSync(probeFile, "");
  const { child, url } = await spawnListening(
    [
      ...variant.nodeFlags,
      "--expose-gc", // for the probe's last line only (live heap after a full GC, at the end)
      "--import",
      probeScript,
      "bin/xtrinode.ts",
      ...gatewayArgs({ routesFile, configFile, workers: variant.workers }),
    ],
    { ...variant.env, XTRINODE_LOG_LEVEL: "info", XTRINODE_BENCH_MEMORY_PROBE: probeFile },
  );
  const gateway = { variant, child, url, probeFile };
  // With --workers, "listening" comes once every worker listens.
  const workers = workerPids(gateway).length;
  if (workers !== variant.workers) throw new Error(`${variant.name}: ${workers} worker processes, expected ${variant.workers}`);
  return gateway;
}

/** The processes serving requests: the gateway process itself, or with --workers its workers. */
function workerPids(gateway: Gateway): number[] {
  return gateway.variant.workers > 1 ? processTree(gateway.child.pid!).slice(1) : [gateway.child.pid!];
}

// ---- measurements ---------------------------------------------------------------------------------

const MiBPerKb = 1 / 1024;

/** User+system CPU time of a gateway so far (with --workers: primary and workers), µs. */
function cpuMicros(gateway: Gateway): number {
  return processTreeCpuMs(gateway.child.pid!) * 1000;
}

/** VmRSS and VmHWM (peak RSS) of a process, MiB. */
function processRss(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") * MiBPerKb, peak: kb("VmHWM") * MiBPerKb };
}

/** RSS and peak RSS of the serving process (with --workers: the largest of the workers), MiB. */
function rssOf(gateway: Gateway): { rss: number; peak: number } {
  const each = workerPids(gateway).map(processRss);
  return { rss: Math.max(...each.map((x) => x.rss)), peak: Math.max(...each.map((x) => x.peak)) };
}

/** The serving process with the largest RSS now. */
function largestWorker(gateway: Gateway): number {
  const pids = workerPids(gateway);
  const rss = pids.map((pid) => processRss(pid).rss);
  return pids[rss.indexOf(Math.max(...rss))];
}

/** With --workers: the primary's peak RSS, MiB (it serves no request); else undefined. */
function primaryPeak(gateway: Gateway): number | undefined {
  return gateway.variant.workers > 1 ? processRss(gateway.child.pid!).peak : undefined;
}

interface ProbeLine {
  pid: number;
  reason: string;
  afterGc: boolean;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  malloced: number;
  heapLimit: number;
  spaces: Record<string, number>;
}

/** The probe's lines of process `pid` (with --workers every process writes to the file). */
function probeLines(gateway: Gateway, pid: number): ProbeLine[] {
  return readFileSync(gateway.probeFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ProbeLine)
    .filter((line) => line.pid === pid);
}

/**
 * The probe's largest heap total and its last line, of the serving process with the largest RSS now;
 * with `gc`, a fresh line after a full GC (the live heap). The process is chosen once: the GC can
 * shrink its RSS below another worker's.
 */
async function probe(gateway: Gateway, gc = false): Promise<{ last: ProbeLine; maxHeapTotal: number }> {
  const pid = largestWorker(gateway);
  if (gc) {
    const before = probeLines(gateway, pid).length;
    process.kill(pid, "SIGUSR2");
    for (
      let i = 0;
      i < 100 &&
      probeLines(gateway, pid)
        .slice(before)
        .every((line) => line.reason !== "signal");
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const lines = probeLines(gateway, pid);
  return { last: lines.at(-1)!, maxHeapTotal: Math.max(...lines.map((line) => line.heapTotal)) };
}

const sendAmount = (url: string, amount: number, which: "flow" | "statement") => sendOver(url, amount, which, connections);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface HeldResult {
  variant: string;
  answered: number;
  problems: number;
  rssBefore: number;
  rssHeld: number;
  peak: number;
  heapUsed: number;
  heapTotal: number;
  liveHeap: number;
  primaryPeak?: number;
}

/** `heldCount` statements to a RESUMING route (nothing answers; held.maxQueries raised to fit); RSS with all held. */
async function heldPhase(variant: Variant, index: number): Promise<HeldResult> {
  const gateway = await startGateway(variant, `held-${index}`, `http://127.0.0.1:9`, "RESUMING", {
    held: { maxQueries: heldCount, abandonAfterMs: 600_000, maxAgeMs: 600_000 },
  });
  const warmUp = await sendAmount(gateway.url, 200, "statement");
  const rssBefore = rssOf(gateway).rss;
  const sent = await sendAmount(gateway.url, heldCount - 200, "statement");
  await sleep(1500);
  const { rss, peak } = rssOf(gateway);
  const { last } = await probe(gateway);
  const live = await probe(gateway, true);
  const primary = primaryPeak(gateway);
  await stop(gateway.child);
  const result = {
    variant: variant.name,
    answered: warmUp.ok + sent.ok,
    problems: warmUp.problems + sent.problems,
    rssBefore,
    rssHeld: rss,
    peak,
    heapUsed: last.heapUsed,
    heapTotal: last.heapTotal,
    liveHeap: live.last.heapUsed,
    primaryPeak: primary,
  };
  console.error(`held ${heldCount} (${variant.name}): ${JSON.stringify(result)}`);
  return result;
}

interface Checkpoint {
  queries: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  malloced: number;
  /** CPU time of the gateway process over this chunk, per query (3 requests), µs. */
  cpuPerQuery: number;
}

interface PassedResult {
  variant: string;
  idleRss: number;
  warmRss: number;
  checkpoints: Checkpoint[];
  peak: number;
  maxHeapTotal: number;
  liveHeap: number;
  heapLimit: number;
  problems: number;
  seconds: number;
  primaryPeak?: number;
}

// ---- run ------------------------------------------------------------------------------------------

const loadAtStart = os.loadavg();
const started = new Date();
let held: HeldResult[] = [];
const passed: PassedResult[] = [];
/** The per-query bookkeeping alone (sticky-memory.ts): heap growth after `queryCount` queries. */
let sticky: Array<{ shape: string; heapDeltaMiB: number; coordinatorsTracked: number; queriesTracked: number; nsPerQuery: number }> = [];
try {
  held = [];
  for (const [index, variant] of variants.entries()) held.push(await heldPhase(variant, index));

  const backend = await spawnListening(["fixtures/trino-server/main.ts", "--port", "0", "--max-queries", "20000"]);
  const gateways: Gateway[] = [];
  for (const [index, variant] of variants.entries()) gateways.push(await startGateway(variant, `passed-${index}`, backend.url, "RUNNING"));
  await sleep(1000);
  for (const gateway of gateways) {
    passed.push({
      variant: gateway.variant.name,
      idleRss: rssOf(gateway).rss,
      warmRss: 0,
      checkpoints: [],
      peak: 0,
      maxHeapTotal: 0,
      liveHeap: 0,
      heapLimit: 0,
      problems: 0,
      seconds: 0,
    });
  }
  for (const [index, gateway] of gateways.entries()) {
    await sendAmount(gateway.url, 3 * 1000, "flow"); // warm-up: 1,000 queries
    passed[index].warmRss = rssOf(gateway).rss;
  }
  const step = Math.ceil(queryCount / checkpointCount);
  for (let done = 0, round = 0; done < queryCount; done += step, round++) {
    const amount = Math.min(step, queryCount - done);
    for (let k = 0; k < gateways.length; k++) {
      const index = (k + round) % gateways.length;
      const gateway = gateways[index];
      const begin = Date.now();
      const cpuBefore = cpuMicros(gateway);
      const result = await sendAmount(gateway.url, 3 * amount, "flow");
      passed[index].seconds += (Date.now() - begin) / 1000;
      const cpuPerQuery = (cpuMicros(gateway) - cpuBefore) / amount;
      passed[index].problems += result.problems;
      const { last } = await probe(gateway);
      const checkpoint = {
        queries: done + amount,
        rss: rssOf(gateway).rss,
        heapTotal: last.heapTotal,
        heapUsed: last.heapUsed,
        external: last.external,
        malloced: last.malloced,
        cpuPerQuery,
      };
      passed[index].checkpoints.push(checkpoint);
      console.error(
        `passed ${checkpoint.queries} (${gateway.variant.name}): ${JSON.stringify(checkpoint)} load ${os.loadavg()[0].toFixed(1)}`,
      );
    }
  }
  for (const [index, gateway] of gateways.entries()) {
    const { maxHeapTotal, last } = await probe(gateway);
    const live = await probe(gateway, true);
    Object.assign(passed[index], {
      peak: rssOf(gateway).peak,
      maxHeapTotal,
      heapLimit: last.heapLimit,
      liveHeap: live.last.heapUsed,
      primaryPeak: primaryPeak(gateway),
    });
    await stop(gateway.child);
  }
  await stop(backend.child);
  const bookkeeping = spawnSync(process.execPath, ["--expose-gc", "bench/gateway/sticky-memory.ts", "--queries", String(queryCount)], {
    cwd: repo,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (bookkeeping.status !== 0) throw new Error(`sticky-memory failed: ${bookkeeping.stderr}`);
  sticky = JSON.parse(bookkeeping.stdout.trim().split("\n").at(-1)!).results;
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}
const loadAtEnd = os.loadavg();

// ---- report ---------------------------------------------------------------------------------------

const fmt = (n: number, digits = 0) => n.toFixed(digits);
const goal = (mib: number) => `${fmt(mib * 1.048576)} MB: ${mib * 1.048576 <= 200 ? "met" : "NOT met"}`;
const lines: string[] = [];
lines.push("<!-- bench:gateway-memory:start -->");
lines.push("## gateway process memory (bench/gateway/memory.ts)");
lines.push("");
lines.push(
  `Machine: nproc ${os.availableParallelism()}; memory ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; ${started.toISOString()}; load average at start ${loadAtStart.map((n) => n.toFixed(1)).join(" ")}, at end ${loadAtEnd.map((n) => n.toFixed(1)).join(" ")}. One gateway per variant (\`xtrinode gateway --workers 1\` unless the variant says \`--workers 2\`, default config), ${connections} connections (autocannon), every process on 127.0.0.1; RSS is VmRSS of /proc/<pid>/status, peak is VmHWM; heap figures from process.memoryUsage() in the process (bench/gateway/memory-probe.ts), "live heap" after a full GC at the end. Goal (issue 18): ≤ 200 MB RSS in both cases.`,
);
lines.push("");
lines.push("Variants (node flags | environment):");
for (const variant of variants)
  lines.push(
    `- ${variant.name}: \`${variant.nodeFlags.join(" ") || "(none)"}\` | \`${
      Object.entries(variant.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "(none)"
    }\``,
  );
lines.push("");
lines.push(
  `${heldCount.toLocaleString("en")} held statements (route RESUMING, nothing polls them; held.maxQueries ${heldCount}, abandonAfterMs past the run), RSS after 200 and with all held:`,
);
lines.push("");
lines.push(
  "| variant | answered QUEUED | other answers | RSS after 200 (MiB) | RSS all held (MiB) | peak RSS (MiB) | heap used / total (MiB) | live heap (MiB) | goal |",
);
lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
for (const h of held)
  lines.push(
    `| ${h.variant} | ${h.answered} | ${h.problems} | ${fmt(h.rssBefore)} | ${fmt(h.rssHeld)} | ${fmt(h.peak)} | ${fmt(h.heapUsed)} / ${fmt(h.heapTotal)} | ${fmt(h.liveHeap)} | ${goal(h.peak)} |`,
  );
lines.push("");
lines.push(
  `${queryCount.toLocaleString("en")} queries passed (full flow: POST + 2 nextUri against the Trino protocol test server), in ${checkpointCount} chunks per variant, the variants taking turns; RSS (heap total) at each checkpoint, MiB:`,
);
lines.push("");
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
/** CPU per query against the first variant's, per chunk (same round, adjacent in time), median of the chunks. */
const cpuRatio = (p: PassedResult) => median(p.checkpoints.map((c, i) => c.cpuPerQuery / passed[0].checkpoints[i].cpuPerQuery));
lines.push(
  `| variant | idle | after 1,000 | ${passed[0]?.checkpoints.map((c) => c.queries.toLocaleString("en")).join(" | ")} | peak RSS | max heap total | live heap | heap limit | CPU µs/query (× ${passed[0]?.variant}) | s | errors | goal |`,
);
lines.push(
  `| --- | ---: | ---: | ${passed[0]?.checkpoints.map(() => "---:").join(" | ")} | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
);
for (const p of passed)
  lines.push(
    `| ${p.variant} | ${fmt(p.idleRss)} | ${fmt(p.warmRss)} | ${p.checkpoints.map((c) => `${fmt(c.rss)} (${fmt(c.heapTotal)})`).join(" | ")} | ${fmt(p.peak)} | ${fmt(p.maxHeapTotal)} | ${fmt(p.liveHeap)} | ${fmt(p.heapLimit)} | ${fmt(median(p.checkpoints.map((c) => c.cpuPerQuery)))} (${fmt(cpuRatio(p), 2)}) | ${fmt(p.seconds)} | ${p.problems} | ${goal(p.peak)} |`,
  );
const primaries = [...held.map((h) => ["held", h] as const), ...passed.map((p) => ["passed", p] as const)].filter(
  ([, r]) => r.primaryPeak !== undefined,
);
if (primaries.length > 0) {
  lines.push("");
  lines.push(
    `With --workers, the RSS and heap figures above are the largest worker's (its CPU per query counts the primary and every worker); the primary (no request served) peaked at ${primaries
      .map(([phase, r]) => `${fmt(r.primaryPeak!)} MiB (${r.variant}, ${phase === "held" ? "held statements" : "queries passed"})`)
      .join(", ")}.`,
  );
}
lines.push("");
lines.push(
  `Per-query bookkeeping after ${queryCount.toLocaleString("en")} queries (the gateway's StickyRoutes, QueryOwners and InFlightQueries driven directly, default limits, heap after GC; bench/gateway/sticky-memory.ts):`,
);
lines.push("");
lines.push("| shape | heap growth (MiB) | coordinators tracked | queries tracked | cost per query (µs) |");
lines.push("| --- | ---: | ---: | ---: | ---: |");
for (const m of sticky)
  lines.push(
    `| ${m.shape === "finished" ? "every query finishes" : "no query ever finishes (bounded by sticky.maxQueries)"} | ${fmt(m.heapDeltaMiB, 2)} | ${m.coordinatorsTracked} | ${m.queriesTracked} | ${fmt(m.nsPerQuery / 1000, 1)} |`,
  );
lines.push("<!-- bench:gateway-memory:end -->");
const section = lines.join("\n");
console.log(section);
if (values.record) {
  // The new recording replaces the section's head; earlier ones stay inside it below (the history).
  const file = path.join(repo, "bench/RESULTS.md");
  const text = readFileSync(file, "utf8");
  const [startMarker, endMarker] = [lines[0], lines.at(-1)!];
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start >= 0 && end > start) {
    const previous = text
      .slice(start + startMarker.length, end)
      .trim()
      .replace(/^## gateway process memory \(bench\/gateway\/memory\.ts\)$/m, "### Earlier recording");
    const head = lines.slice(0, -1).join("\n");
    writeFileSync(file, `${text.slice(0, start)}${head}\n\n${previous}\n${endMarker}${text.slice(end + endMarker.length)}`);
  } else appendFileSync(file, `\n${section}\n`);
  console.error(`recorded in ${file}`);
}
