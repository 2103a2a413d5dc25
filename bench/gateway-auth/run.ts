// `npm run bench:gateway-auth [-- --record] [-- --baseline REV]`: issue 13 items 1 and 4 against
// real `xtrinode gateway` processes on 127.0.0.1, this tree against a baseline tree (REV, default
// the commit before the fixes, extracted with `git archive` into a temporary folder).
//  1. Wrong-password flood: 1,000 Basic logins with wrong passwords, 20 concurrent, while /healthz
//     is probed every 50 ms and two good users log in every 100 ms. Two shapes: all from one client
//     address, and spread over 250 addresses (per-address back-off barely helps there; guesses at
//     unknown user names are never throttled by name).
//  2. Event-loop delay of 100 bcrypt checks at concurrency 20 in one process: bcryptjs sync, bcryptjs
//     async (its own chunking) and the gateway's worker pool (PasswordVerifier).
//  3. Memory: 40 connections each sending all but the last byte of a 10 MB statement; gateway RSS.
// Source addresses 127.x.y.z are all local on Linux: the gateway sees distinct clients.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { parseArgs } from "node:util";
import bcrypt from "bcryptjs";
import yaml from "js-yaml";
import { PasswordVerifier } from "../../gateway/password-verifier.ts";
import { gatewayArgs, killAllChildren, repoRoot, spawnReady, type ChildUnderTest } from "../../test/support/process.ts";
import { basicAuth, loopbackRequest, postStatement } from "../../test/security/loopback-client.ts";
import { writeRoutesFile } from "../../test/support/routes-file.ts";

const { values } = parseArgs({
  options: { record: { type: "boolean", default: false }, baseline: { type: "string", default: "09c0536" } },
});
const runtime = "team-a/analytics";
const floodCount = 1000;
const concurrency = 20;
const bcryptCost = 10; // bcryptjs' default, what `htpasswd -B` writes
const users = ["alice", "bob", "carol", "dave", "erin"];
const targets = ["alice", "bob", "carol"];

const work = mkdtempSync(path.join(os.tmpdir(), "xtrinode-bench-auth-"));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(samples: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
}

/** CPU seconds (user + system) of a process so far (/proc, Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((candidate) => candidate.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** The baseline tree: `git archive REV` in a temporary folder, sharing this tree's node_modules. */
function baselineTree(rev: string): string {
  const dir = path.join(work, "baseline");
  mkdirSync(dir);
  execFileSync("sh", ["-c", `git -C "${repoRoot}" archive "${rev}" | tar -x -C "${dir}"`]);
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

async function startGateway(tree: string, config: Record<string, unknown>, label: string): Promise<{ url: string; child: ChildUnderTest }> {
  const routesFile = path.join(work, "routes.yaml");
  writeRoutesFile(routesFile, [{ namespace: "team-a", name: "analytics", backend: "http://127.0.0.1:9", state: "PAUSED" }]);
  const configFile = path.join(work, `${label}.yaml`);
  writeFileSync(configFile, yaml.dump(config));
  // One process (`--workers 1`); a baseline from before --workers (gateway/workers.ts) always runs one.
  const workers = existsSync(path.join(tree, "gateway", "workers.ts")) ? 1 : undefined;
  const child = await spawnReady(path.join(tree, "bin", "xtrinode.ts"), gatewayArgs({ routesFile, configFile, workers }));
  return { url: String(child.ready.url), child };
}

interface FloodResult {
  wallMs: number;
  health: ReturnType<typeof summary>;
  healthFailures: number;
  login: ReturnType<typeof summary>;
  loginStatuses: Record<string, number>;
  floodStatuses: Record<string, number>;
  cpuMsPerGuess: number;
}

/** Probes /healthz every 10 ms from a worker thread (its own event loop) until stop(). */
function healthProbe(url: string): { stop(): Promise<{ latencies: number[]; failures: number }> } {
  const worker = new Worker(new URL("./probe-worker.ts", import.meta.url), {
    workerData: { url: `${url}/healthz`, intervalMs: 10, from: "127.0.0.3" },
  });
  const result = new Promise<{ latencies: number[]; failures: number }>((resolve) => worker.once("message", resolve));
  return {
    async stop() {
      worker.postMessage("stop");
      const outcome = await result;
      await worker.terminate();
      return outcome;
    },
  };
}

/** /healthz latencies of an idle gateway for `ms` (the reference of the flood rows). */
async function idleHealth(url: string, ms: number): Promise<ReturnType<typeof summary>> {
  const prober = healthProbe(url);
  await sleep(ms);
  return summary((await prober.stop()).latencies);
}

async function flood(url: string, pid: number, addresses: number): Promise<FloodResult> {
  const floodStatuses: Record<string, number> = {};
  const loginStatuses: Record<string, number> = {};
  const login: number[] = [];
  let sent = 0;
  let done = false;
  const cpuBefore = cpuSeconds(pid);
  const started = performance.now();
  const guesser = async () => {
    while (sent < floodCount) {
      const index = sent++;
      const user = index % 2 === 0 ? targets[index % targets.length] : `unknown-${index}`;
      const from = addresses === 1 ? "127.0.0.2" : `127.0.${1 + (Math.floor(index / 250) % 250)}.${1 + (index % 250)}`;
      const status = await postStatement(url, runtime, basicAuth(user, `wrong-${index}`), from).then(
        (answer) => String(answer.status),
        () => "error",
      );
      floodStatuses[status] = (floodStatuses[status] ?? 0) + 1;
    }
  };
  const goodUser = async (user: string, from: string) => {
    while (!done) {
      const start = performance.now();
      const status = await postStatement(url, runtime, basicAuth(user, `${user}-secret`), from).then(
        (answer) => String(answer.status),
        () => "error",
      );
      login.push(performance.now() - start);
      loginStatuses[status] = (loginStatuses[status] ?? 0) + 1;
      await sleep(100);
    }
  };
  const prober = healthProbe(url);
  const background = [goodUser("dave", "127.0.0.4"), goodUser("erin", "127.0.0.5")];
  await Promise.all(Array.from({ length: concurrency }, guesser));
  const wallMs = performance.now() - started;
  done = true;
  await Promise.all(background);
  const health = await prober.stop();
  return {
    wallMs,
    health: summary(health.latencies),
    healthFailures: health.failures,
    login: summary(login),
    loginStatuses,
    floodStatuses,
    cpuMsPerGuess: ((cpuSeconds(pid) - cpuBefore) * 1000) / floodCount,
  };
}

/** Event-loop delay while 100 bcrypt checks run at concurrency 20, in this process. */
async function loopDelay(mode: "sync" | "async" | "worker-pool", hash: string): Promise<{ p99: number; max: number; wallMs: number }> {
  const verifier = mode === "worker-pool" ? new PasswordVerifier(Math.min(4, Math.max(1, os.availableParallelism() - 1)), 64) : undefined;
  if (verifier) await verifier.verify("warm-up", hash);
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < 100) {
        next++;
        if (mode === "sync") {
          bcrypt.compareSync("wrong", hash);
          await new Promise((resolve) => setImmediate(resolve));
        } else if (mode === "async") await bcrypt.compare("wrong", hash);
        else await verifier!.verify("wrong", hash);
      }
    }),
  );
  histogram.disable();
  await verifier?.close();
  return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, wallMs: performance.now() - started };
}

/** 40 connections each send all but the last byte of a 10 MB statement; RSS growth of the gateway. */
async function bodyMemory(url: string, pid: number): Promise<{ before: number; peak: number; answered: number }> {
  const size = 10 * 1024 * 1024;
  const { hostname, port } = new URL(url);
  await sleep(500);
  const before = rssMiB(pid);
  const sockets: net.Socket[] = [];
  let answered = 0;
  await Promise.all(
    Array.from(
      { length: 40 },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: hostname, port: Number(port) }, () => {
            socket.write(
              `POST /v1/statement HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-Trino-User: mallory\r\nX-Trino-XTrinode: ${runtime}\r\nContent-Length: ${size}\r\n\r\n`,
            );
            socket.write(Buffer.alloc(size - 1, "x"), () => resolve());
          });
          socket.on("data", () => answered++);
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
          sockets.push(socket);
        }),
    ),
  );
  await sleep(1500);
  const peak = rssMiB(pid);
  for (const socket of sockets) socket.destroy();
  return { before, peak, answered };
}

const passwordFile = path.join(work, "password.db");
writeFileSync(passwordFile, users.map((user) => `${user}:${bcrypt.hashSync(`${user}-secret`, bcryptCost)}`).join("\n") + "\n");
const lines: string[] = [];
try {
  const baseline = baselineTree(values.baseline!);
  const trees = [
    { label: "baseline", tree: baseline, config: { auth: { passwordFile } } },
    { label: "fixed", tree: repoRoot, config: { auth: { passwordFile } } },
  ];
  const floods: Array<{ label: string; addresses: number; idle: ReturnType<typeof summary>; result: FloodResult }> = [];
  for (const addresses of [1, 250]) {
    for (const { label, tree, config } of trees) {
      const gateway = await startGateway(tree, config, label);
      // Warm-up: the good users' first logins, as after a day's work.
      await postStatement(gateway.url, runtime, basicAuth("dave", "dave-secret"), "127.0.0.4");
      await postStatement(gateway.url, runtime, basicAuth("erin", "erin-secret"), "127.0.0.5");
      const idle = await idleHealth(gateway.url, 3000);
      const result = await flood(gateway.url, gateway.child.pid, addresses);
      console.error(label, addresses, JSON.stringify({ idle, ...result }));
      floods.push({ label, addresses, idle, result });
      await gateway.child.kill("SIGTERM");
    }
  }
  const hash = bcrypt.hashSync("secret", bcryptCost);
  const delays = [];
  for (const mode of ["sync", "async", "worker-pool"] as const) delays.push({ mode, ...(await loopDelay(mode, hash)) });
  const memory = [];
  for (const { label, tree } of trees) {
    const gateway = await startGateway(tree, {}, `${label}-memory`);
    memory.push({ label, ...(await bodyMemory(gateway.url, gateway.child.pid)) });
    await gateway.child.kill("SIGTERM");
  }

  const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : "—");
  const statuses = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort()
      .map(([status, count]) => `${status}×${count}`)
      .join(", ");
  lines.push("<!-- bench:gateway-auth:start -->");
  lines.push("## gateway logins and statement memory (bench/gateway-auth, `npm run bench:gateway-auth`)");
  lines.push("");
  lines.push(
    `Machine: nproc ${os.availableParallelism()}; memory ${Math.round(os.totalmem() / 2 ** 30)} GiB; CPU ${os.cpus()[0]?.model ?? "unknown"}; node ${process.version}; ${new Date().toISOString()}; load average ${os.loadavg()[0].toFixed(1)} at the end (other work shares this machine). Baseline = \`git archive ${values.baseline}\` (before the fixes), fixed = this tree, default gateway settings plus a password file of ${users.length} users at bcrypt cost ${bcryptCost}. Everything (load, probes, gateway) shares the 2 cores.`,
  );
  lines.push("");
  lines.push(
    `Wrong-password flood: ${floodCount} Basic logins with wrong passwords (half at 3 known users, half at unknown names), ${concurrency} concurrent, each on a new connection; meanwhile /healthz every 10 ms (from a worker thread of the bench, so the flood does not delay the probe's own clock) and two good users (already logged in once) every 100 ms. One run per row; latencies are client-observed. Idle = the same probe for 3 s just before the flood, against the same gateway process (the reference).`,
  );
  lines.push("");
  lines.push(
    "| gateway | client addresses | flood wall (s) | idle /healthz p50 / p99 (ms) | /healthz p50 / p99 / max during the flood (ms) | p99 flood / idle | good-user login p50 / p99 (ms) | good-user answers | flood answers | gateway CPU per guess (ms) |",
  );
  lines.push("| --- | ---: | ---: | --- | --- | ---: | --- | --- | --- | ---: |");
  for (const { label, addresses, idle, result } of floods) {
    lines.push(
      `| ${label} | ${addresses} | ${(result.wallMs / 1000).toFixed(1)} | ${ms(idle.p50)} / ${ms(idle.p99)} | ${ms(result.health.p50)} / ${ms(result.health.p99)} / ${ms(result.health.max)}${result.healthFailures ? ` (${result.healthFailures} failed)` : ""} | ${(result.health.p99 / idle.p99).toFixed(1)}× | ${ms(result.login.p50)} / ${ms(result.login.p99)} | ${statuses(result.loginStatuses)} | ${statuses(result.floodStatuses)} | ${result.cpuMsPerGuess.toFixed(2)} |`,
    );
  }
  lines.push("");
  lines.push(
    `Event-loop delay while 100 bcrypt checks (cost ${bcryptCost}) run at concurrency ${concurrency} in one process (what a /healthz would wait):`,
  );
  lines.push("");
  lines.push("| bcrypt as | loop delay p99 (ms) | max (ms) | wall for 100 checks (ms) |");
  lines.push("| --- | ---: | ---: | ---: |");
  for (const delay of delays)
    lines.push(
      `| ${delay.mode === "sync" ? "bcryptjs compareSync on the loop (baseline)" : delay.mode === "async" ? "bcryptjs compare (async, chunked on the loop)" : "worker pool (gateway/password-verifier.ts)"} | ${ms(delay.p99)} | ${ms(delay.max)} | ${delay.wallMs.toFixed(0)} |`,
    );
  lines.push("");
  lines.push(
    "Statement bodies: 40 connections each send all but the last byte of a 10 MB statement (default settings: statements.maxBytes 10 MiB, memoryBudgetBytes 128 MiB, bodyTimeoutMs 30 s); gateway RSS before and 1.5 s after the last byte was written.",
  );
  lines.push("");
  lines.push("| gateway | RSS before (MiB) | RSS with 40 bodies pending (MiB) | growth (MiB) | connections answered early (refused) |");
  lines.push("| --- | ---: | ---: | ---: | ---: |");
  for (const row of memory)
    lines.push(
      `| ${row.label} | ${row.before.toFixed(0)} | ${row.peak.toFixed(0)} | ${(row.peak - row.before).toFixed(0)} | ${row.answered} |`,
    );
  lines.push("");
  lines.push(
    "The budget bounds the statement bytes the gateway keeps (12 bodies of ~10 MB fit in 128 MiB, the other 28 connections are answered XTRINODE_GATEWAY_BUSY and their bodies read and dropped); RSS above that is, presumably, the dropped 64 KB chunks awaiting garbage collection and socket buffers (not investigated further).",
  );
  lines.push("<!-- bench:gateway-auth:end -->");
} finally {
  await killAllChildren();
  rmSync(work, { recursive: true, force: true });
}

const section = lines.join("\n");
console.log(section);
if (values.record) {
  const file = path.join(repoRoot, "bench/RESULTS.md");
  let text = readFileSync(file, "utf8");
  const pattern = /<!-- bench:gateway-auth:start -->[\s\S]*?<!-- bench:gateway-auth:end -->/;
  text = pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  console.error(`recorded in ${file}`);
}
process.exit(0);
