// CPU profile of the gateway's follow-up path (issue 18): one gateway (`node --cpu-prof`, default
// config, one RUNNING route) in front of the Trino protocol test server; autocannon keeps
// --connections connections polling one query's nextUri each (follow-up-load.ts, as bench:gateway's CPU phase) for
// --seconds; the gateway is then stopped (SIGTERM: the profile is written on exit) and the profile's
// self time is summed per function and per file. Prints the top entries; writes nothing else.
//
// --minimal profiles bench/gateway/minimal-proxy.ts instead (the floor), for comparison.
// --path statement profiles new statements instead (every request a POST /v1/statement, as
// bench:gateway's statement slices).
// --prefill S first sends new statements for S seconds that are never polled: up to sticky.maxQueries
// queries stay in flight, as bench:gateway's statement slices leave them for its follow-up slices.
// --threads takes no profile: after a 3-s warm-up it reads the CPU time of each thread of the
// process from /proc/<pid>/task before and after the load and prints it per 2xx response (main
// thread, V8's worker threads (garbage collection, compilation), libuv's pool): where a difference
// in CPU per request against --minimal lies. This is how the per-poll reordering of in-flight
// queries was found (bench/RESULTS.md, "Session 4").
//
//   node bench/gateway/profile-follow-up.ts [--seconds 20] [--connections 50] [--top 25] [--minimal]
//                                           [--path follow-up|statement] [--prefill 0] [--threads]
import { spawn, type ChildProcess } from "node:child_process";
import { gatewayArgs } from "../../test/support/process.ts";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
// @ts-ignore autocannon ships no type declarations
import autocannon from "autocannon";
import { followUpRequests } from "./follow-up-load.ts";
import { writeRoutesFile } from "../../test/support/routes-file.ts";
import { clockTicks, cpuTicksOf } from "./children.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    connections: { type: "string", default: "50" },
    top: { type: "string", default: "25" },
    minimal: { type: "boolean", default: false },
    path: { type: "string", default: "follow-up" },
    prefill: { type: "string", default: "0" },
    threads: { type: "boolean", default: false },
  },
});
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(path.join(os.tmpdir(), "xtrinode-profile-gateway-"));
const started: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** Starts a process of this repository and resolves with the URL of its `{"event":"listening"}` line. */
function startListening(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, {
    cwd: repo,
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.includes('"listening"')) return;
      resolve({ child, url: JSON.parse(line).url });
    });
  });
}

const backend = await startListening(["fixtures/trino-server/main.ts", "--port", "0"]);
const routesFile = path.join(work, "routes.yaml");
writeRoutesFile(routesFile, [{ namespace: "bench", name: "trino", backend: backend.url, state: "RUNNING", default: true }]);
if (values.path !== "follow-up" && values.path !== "statement") throw new Error(`--path: follow-up or statement, not ${values.path}`);
const requests = values.path === "statement" ? [{ method: "POST", path: "/v1/statement", body: "SELECT 1" }] : followUpRequests;
const profileDir = path.join(work, "profile");
const profiled = values.minimal
  ? ["bench/gateway/minimal-proxy.ts", backend.url]
  : ["bin/xtrinode.ts", ...gatewayArgs({ routesFile, workers: 1 })];
const gateway = await startListening([...(values.threads ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]), ...profiled]);
/** autocannon's result for `seconds` of `load` against the profiled process. */
const send = (seconds: number, load: unknown[]): Promise<any> =>
  new Promise((resolve, reject) =>
    autocannon(
      {
        url: gateway.url,
        connections: Number(values.connections),
        duration: seconds,
        headers: { "x-trino-user": "bench" },
        requests: load,
      },
      (error: Error | null, answer: unknown) => (error ? reject(error) : resolve(answer)),
    ),
  );
if (Number(values.prefill) > 0) {
  const prefill = await send(Number(values.prefill), [{ method: "POST", path: "/v1/statement", body: "SELECT 1" }]);
  console.log(`prefill: ${prefill["2xx"]} new statements, never polled`);
}
if (values.threads) {
  await send(3, requests); // warm-up
  const before = threadCpuTicks(gateway.child.pid!);
  const result = await send(Number(values.seconds), requests);
  const after = threadCpuTicks(gateway.child.pid!);
  const served = result["2xx"];
  const perThread = [...after]
    .map(([name, ticks]) => [name, ((ticks - (before.get(name) ?? 0)) * 1e6) / clockTicks / served] as const)
    .filter(([, micros]) => micros > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = perThread.reduce((sum, [, micros]) => sum + micros, 0);
  console.log(
    `${values.minimal ? "minimal proxy" : "gateway"}, ${values.path}: ${served} 2xx (${Math.round(served / Number(values.seconds))}/s); ` +
      `CPU ${total.toFixed(1)} µs per 2xx: ${perThread.map(([name, micros]) => `${name} ${micros.toFixed(1)}`).join(", ")}`,
  );
  process.exit(0);
}
const result = await send(Number(values.seconds), requests);
const exited = new Promise((resolve) => gateway.child.once("exit", resolve));
gateway.child.kill("SIGTERM");
await exited;
backend.child.kill("SIGTERM");

/** utime + stime ticks of each thread of `pid`, summed by thread name (the main thread as "main"). */
function threadCpuTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? "main" : readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      ticks.set(name, (ticks.get(name) ?? 0) + cpuTicksOf(`/proc/${pid}/task/${tid}/stat`));
    } catch {
      // the thread ended between listing and reading
    }
  }
  return ticks;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
// The largest profile: `xtrinode gateway` may write a short one before it restarts itself with its
// V8 flags (gateway/node-flags.ts), and the one of the serving process after it.
const file = readdirSync(profileDir)
  .filter((name) => name.endsWith(".cpuprofile"))
  .sort((a, b) => statSync(path.join(profileDir, b)).size - statSync(path.join(profileDir, a)).size)[0];
if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
const profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } = JSON.parse(
  readFileSync(path.join(profileDir, file), "utf8"),
);
const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
const selfByFunction = new Map<string, number>();
const selfByFile = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const { functionName, url, lineNumber } = nodeById.get(id)!.callFrame;
  const micros = profile.timeDeltas[i] ?? 0;
  const where = url.replace(`file://${repo}/`, "").replace(/^.*node_modules\//, "node_modules/");
  const functionKey = `${functionName || "(anonymous)"} ${where}${where ? `:${lineNumber + 1}` : ""}`;
  selfByFunction.set(functionKey, (selfByFunction.get(functionKey) ?? 0) + micros);
  const fileKey = where ? where.replace(/^(node:[^/]+|node_modules\/(@[^/]+\/)?[^/]+).*$/, "$1") : functionName;
  selfByFile.set(fileKey, (selfByFile.get(fileKey) ?? 0) + micros);
  total += micros;
});
const top = Number(values.top);
const table = (entries: Map<string, number>) =>
  [...entries]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, micros]) => `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join("\n");
console.log(
  `${result.requests.total} requests (${Math.round(result.requests.average)} req/s, non-2xx ${result.non2xx}); ${(total / 1e6).toFixed(1)} s sampled`,
);
console.log(`\nself time by function:\n${table(selfByFunction)}`);
console.log(`\nself time by file or package:\n${table(selfByFile)}`);
