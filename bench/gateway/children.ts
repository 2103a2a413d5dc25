// Child processes of the gateway benchmarks.
import { spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Clock ticks per second of /proc/<pid>/stat CPU times (sysconf(_SC_CLK_TCK)). */
export const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** The live process ids of `pid` and its descendants (/proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${tree[i]}/task`);
    } catch {
      continue; // exited
    }
    for (const task of tasks) {
      try {
        for (const child of readFileSync(`/proc/${tree[i]}/task/${task}/children`, "utf8").trim().split(/\s+/))
          if (child) tree.push(Number(child));
      } catch {
        // task gone
      }
    }
  }
  return tree;
}

/** User + system CPU (ms) used so far by `pid` and its live descendants, all threads (utime + stime). */
export function processTreeCpuMs(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      ticks += cpuTicksOf(`/proc/${member}/stat`);
    } catch {
      // exited between listing and reading
    }
  }
  return (ticks * 1000) / clockTicks;
}

/** utime + stime (clock ticks) of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file. */
export function cpuTicksOf(statFile: string): number {
  const stat = readFileSync(statFile, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return Number(fields[11]) + Number(fields[12]); // fields 14 (utime) and 15 (stime)
}
