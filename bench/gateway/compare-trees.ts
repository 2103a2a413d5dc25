// Before/after for gateway changes: CPU per proxied request of the gateway of several source trees
// (e.g. `git archive <commit>` unpacked next to this one) and of the minimal node:http proxy (the
// floor), in ONE run, rounds interleaved with the target order rotating, as bench:gateway's CPU
// phase measures it (user+system CPU of the process from /proc/<pid>/stat over the 2xx responses of
// a slice; follow-ups: each connection polls one query's nextUri; new statements: POST only).
// Prints per target the median µs/request, the median of the per-round ratios to the minimal proxy
// (and to the first tree), and every round's figure. Writes nothing.
//
//   node bench/gateway/compare-trees.ts [--rounds 9] [--seconds 2] [--connections 50] [--paths follow-up,statement] before=/tmp/base after=.
//   ('name=tree|--node-flag …' runs that tree with those node flags, e.g. to compare V8 heap settings)
//
// A tree needs bin/xtrinode.ts and node_modules (a symbolic link to this one's will do). Each gateway
// runs with --workers 1: the process measured is the one serving (with workers, the primary serves none).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
// @ts-ignore autocannon ships no type declarations
import autocannon from "autocannon";
import { gatewayArgs } from "../../test/support/process.ts";
import { followUpRequests } from "./follow-up-load.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "9" },
    seconds: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    paths: { type: "string", default: "follow-up,statement" },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const paths = values.paths.split(",");
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(path.join(os.tmpdir(), "xtrinode-compare-trees-"));
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

function start(args: string[], cwd: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, NODE_NO_WARNINGS: "1", XTRINODE_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} in ${cwd} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.includes('"listening"')) resolve({ child, url: JSON.parse(line).url });
    });
  });
}

/** User + system CPU of a process, ms (/proc/<pid>/stat, 100 ticks/s). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function slice(url: string, pid: number, which: string): Promise<number> {
  let served = 0;
  const requests = which === "statement" ? [{ method: "POST", path: "/v1/statement", body: "SELECT 1" }] : followUpRequests;
  return new Promise((resolve, reject) => {
    const before = cpuMs(pid);
    const instance = autocannon(
      { url, connections, duration: seconds, headers: { "x-trino-user": "bench" }, requests },
      (error: Error | null, result: any) => {
        if (error) return reject(error);
        if (result.non2xx || result.errors) console.error(`  ${url} ${which}: non-2xx ${result.non2xx}, errors ${result.errors}`);
        resolve(((cpuMs(pid) - before) * 1000) / Math.max(1, served));
      },
    );
    instance.on("response", (_client: unknown, status: number) => {
      if (status >= 200 && status < 300) served++;
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const backend = await start(["fixtures/trino-server/main.ts", "--port", "0", "--max-queries", "20000"], repo);
const routes = path.join(work, "routes.yaml");
writeFileSync(
  routes,
  `apiVersion: xtrinode.io/v1alpha1\nkind: GatewayRoutes\nroutes:\n  - {namespace: bench, name: trino, backend: "${backend.url}", state: RUNNING, default: true}\n`,
);
const targets: Array<{ name: string; url: string; pid: number; slices: Record<string, number[]> }> = [];
const minimal = await start(["bench/gateway/minimal-proxy.ts", backend.url], repo);
targets.push({ name: "minimal node:http proxy", url: minimal.url, pid: minimal.child.pid!, slices: {} });
for (const spec of positionals) {
  // name=tree, optionally name=tree|node flags (e.g. V8 heap flags: one tree, several settings).
  const [name, target] = spec.includes("=") ? [spec.slice(0, spec.indexOf("=")), spec.slice(spec.indexOf("=") + 1)] : [spec, spec];
  const [tree, flags = ""] = target.split("|");
  const nodeFlags = flags.split(/\s+/).filter(Boolean);
  const gateway = await start([...nodeFlags, "bin/xtrinode.ts", ...gatewayArgs({ routesFile: routes, workers: 1 })], path.resolve(tree));
  targets.push({ name: `gateway ${name}`, url: gateway.url, pid: gateway.child.pid!, slices: {} });
}
for (const target of targets) for (const which of paths) await slice(target.url, target.pid, which); // warm-up
const loadAtStart = os.loadavg();
for (let round = 0; round < rounds; round++) {
  for (const which of paths) {
    for (let k = 0; k < targets.length; k++) {
      const target = targets[(k + round) % targets.length];
      (target.slices[which] ??= []).push(await slice(target.url, target.pid, which));
    }
  }
}
const ratios = (a: number[], b: number[]) => a.map((value, i) => value / b[i]);
console.log(
  `${new Date().toISOString()}, nproc ${os.availableParallelism()}, node ${process.version}; ${rounds} rounds × ${seconds} s, ${connections} connections; load average ${loadAtStart.map((x) => x.toFixed(1)).join(" / ")} at start, ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" / ")} at end`,
);
for (const which of paths) {
  console.log(
    `\n${which}: target | CPU µs/request (median) | × minimal proxy (median of rounds; spread) | × ${targets[1]?.name ?? "-"} (median of rounds) | rounds`,
  );
  for (const target of targets) {
    const toFloor = ratios(target.slices[which], targets[0].slices[which]);
    const toFirst = targets[1] ? ratios(target.slices[which], targets[1].slices[which]) : [NaN];
    console.log(
      `${target.name} | ${median(target.slices[which]).toFixed(1)} | ${median(toFloor).toFixed(2)} (${Math.min(...toFloor).toFixed(2)}–${Math.max(...toFloor).toFixed(2)}) | ${median(toFirst).toFixed(2)} | ${target.slices[which].map((v) => v.toFixed(0)).join(" ")}`,
    );
  }
}
process.exit(0);
