// GitOps sync benchmark: 500 generated runtimes rendered into a bare repository on this machine.
// First sync (empty remote), no-op sync (nothing changed: no commit), one-runtime change; several
// runs, median. Writes bench/RESULTS.md's "gitops" section.  Run: npm run bench:gitops
import { execFileSync, execSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gitAt } from "../../reconciler/gitops/git.ts";
import { gitopsSync, type SyncResult } from "../../reconciler/gitops/sync.ts";

const RUNTIMES = Number(process.env.BENCH_RUNTIMES ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const NAMESPACES = 10;
const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const resultsFile = path.join(repoRoot, "bench", "RESULTS.md");

function runtimeYaml(i: number, workers: number): string {
  const ns = `team-${i % NAMESPACES}`;
  return [
    "apiVersion: xtrinode.io/v1alpha1",
    "kind: XTrinode",
    `metadata: { name: rt-${i}, namespace: ${ns} }`,
    "spec:",
    i % 3 === 0
      ? "  workers: { mode: keda, min: 0, max: 8, keda: { queryPressure: { serverAddress: 'http://prometheus.monitoring:9090', threshold: 4 } } }"
      : `  workers: { mode: fixed, count: ${workers} }`,
    "  catalogs: { names: [warehouse] }",
    `  route: { hostnames: [rt-${i}.trino.example.com] }`,
    "",
  ].join("\n");
}

function catalogYaml(ns: string): string {
  return [
    "apiVersion: xtrinode.io/v1alpha1",
    "kind: XTrinodeCatalog",
    `metadata: { name: warehouse, namespace: ${ns} }`,
    "spec:",
    "  connector: postgresql",
    "  properties: { connection-url: 'jdbc:postgresql://db:5432/w' }",
    "  secretProperties: { connection-password: { secretName: warehouse-db, key: password } }",
    "",
  ].join("\n");
}

async function commitSpecs(dir: string, message: string): Promise<void> {
  const git = gitAt(dir, { name: "bench", email: "bench@example.com" });
  await git.raw(["add", "-A"]);
  await git.raw(["commit", "--quiet", "-m", message]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timed(fn: () => Promise<SyncResult>): Promise<{ ms: number; result: SyncResult }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

const root = await mkdtemp(path.join(os.tmpdir(), "xtrinode-bench-gitops-"));
const first: number[] = [];
const noop: number[] = [];
const change: number[] = [];
const changeFiles: number[] = [];
const cliNoop: number[] = [];
let noopCommits = 0;
try {
  const specs = path.join(root, "specs");
  await mkdir(specs, { recursive: true });
  await gitAt(specs).raw(["init", "--quiet"]);
  for (let n = 0; n < NAMESPACES; n++) await writeFile(path.join(specs, `catalog-team-${n}.yaml`), catalogYaml(`team-${n}`));
  for (let i = 0; i < RUNTIMES; i++) await writeFile(path.join(specs, `rt-${i}.yaml`), runtimeYaml(i, 2));
  await commitSpecs(specs, "generated");
  for (let run = 0; run < RUNS; run++) {
    const remote = path.join(root, `rendered-${run}.git`);
    await gitAt(root).raw(["init", "--quiet", "--bare", remote]);
    const sync = () => gitopsSync({ specs, target: remote, branch: "main", push: true });
    const a = await timed(sync);
    if (!a.result.committed || a.result.changes.added.length !== RUNTIMES) throw new Error("first sync did not add every runtime");
    first.push(a.ms);
    const b = await timed(sync);
    if (b.result.committed) noopCommits++;
    noop.push(b.ms);
    // One runtime (fixed workers) changes its worker count.
    await writeFile(path.join(specs, "rt-1.yaml"), runtimeYaml(1, 3 + run));
    await commitSpecs(specs, `rt-1: ${3 + run} workers`);
    const c = await timed(sync);
    if (!c.result.committed || c.result.changes.changed.join() !== "team-1/rt-1")
      throw new Error(`one-runtime change committed ${JSON.stringify(c.result.changes)}`);
    change.push(c.ms);
    changeFiles.push(Number(execSync(`git -C ${remote} show --name-only --format= main | wc -l`).toString().trim()));
    // The same no-op through the CLI process (Node start and module loading included).
    const cliStart = performance.now();
    execFileSync(
      process.execPath,
      [path.join(repoRoot, "bin", "xtrinode.ts"), "gitops", "sync", "--specs", specs, "--target", remote, "--branch", "main", "--push"],
      { stdio: "ignore" },
    );
    cliNoop.push(performance.now() - cliStart);
    console.log(`run ${run + 1}/${RUNS}: first ${a.ms.toFixed(0)} ms, no-op ${b.ms.toFixed(0)} ms, change ${c.ms.toFixed(0)} ms`);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

const machine = [
  `nproc ${os.cpus().length}`,
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} (shared machine)`,
  `memory ${(os.totalmem() / 2 ** 30).toFixed(0)}Gi`,
  `node ${process.version}`,
  execSync("git --version").toString().trim(),
  new Date().toISOString(),
].join("; ");
const m = { first: median(first), noop: median(noop), change: median(change) };
const section = [
  "<!-- bench:gitops:start -->",
  "## gitops sync (bench/gitops, `npm run bench:gitops`)",
  "",
  `Machine: ${machine}.`,
  `${RUNTIMES} generated runtimes in ${NAMESPACES} namespaces (one third KEDA, the rest fixed workers; one secret-backed catalog each), a local spec repository and a fresh bare repository as the remote per run; \`gitopsSync\` in-process: load + render + tree, fetch the branch, compare blob ids (\`git ls-tree\`), one \`git fast-import\` commit, push. ${RUNS} runs, median.`,
  "",
  "| step | median (ms) | min (ms) | max (ms) | goal |",
  "| --- | ---: | ---: | ---: | --- |",
  `| first sync (empty remote) | ${m.first.toFixed(0)} | ${Math.min(...first).toFixed(0)} | ${Math.max(...first).toFixed(0)} | ≤ 10000: ${m.first <= 10_000 ? "met" : "NOT met"} |`,
  `| no-op sync | ${m.noop.toFixed(0)} | ${Math.min(...noop).toFixed(0)} | ${Math.max(...noop).toFixed(0)} | ≤ 3000 and no commit: ${m.noop <= 3000 && noopCommits === 0 ? "met" : "NOT met"} (${noopCommits} commits) |`,
  `| no-op sync, \`xtrinode gitops sync\` process | ${median(cliNoop).toFixed(0)} | ${Math.min(...cliNoop).toFixed(0)} | ${Math.max(...cliNoop).toFixed(0)} | (includes Node start-up and loading every CLI module) |`,
  `| one-runtime change | ${m.change.toFixed(0)} | ${Math.min(...change).toFixed(0)} | ${Math.max(...change).toFixed(0)} | commit touches ${median(changeFiles)} files (worker Deployment, values.yaml, metadata) |`,
  "<!-- bench:gitops:end -->",
].join("\n");

let results = existsSync(resultsFile)
  ? readFileSync(resultsFile, "utf8")
  : "# Benchmark results\n\nOne section per benchmark; each benchmark rewrites only its own section.\n";
const pattern = /<!-- bench:gitops:start -->[\s\S]*<!-- bench:gitops:end -->/;
results = pattern.test(results) ? results.replace(pattern, section) : `${results.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsFile, results);
console.log(section);
