// Preloaded into a gateway process by bench/gateway/memory.ts (`node --import <this file>`): where
// the resident memory goes. Once a second, and on SIGUSR2, it appends one JSON line to the file
// named by XTRINODE_BENCH_MEMORY_PROBE (with --workers every process appends to it; each line names its pid): process.memoryUsage() (rss, V8 heap total/used, external,
// array buffers) and V8's heap statistics (committed per space, malloced memory). On SIGUSR2 it
// first runs a full GC when the process has --expose-gc, so that line's heapUsed is the live data.
// Bench only: nothing in gateway/ imports it.
import { appendFileSync } from "node:fs";
import v8 from "node:v8";

const file = process.env.XTRINODE_BENCH_MEMORY_PROBE;
const MiB = 1024 * 1024;
const round = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

function sample(reason: "tick" | "signal"): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (reason === "signal" && gc) gc();
  const usage = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, round(space.space_size)]));
  const line = {
    pid: process.pid,
    reason,
    afterGc: reason === "signal" && gc !== undefined,
    at: Date.now(),
    rss: round(usage.rss),
    heapTotal: round(usage.heapTotal),
    heapUsed: round(usage.heapUsed),
    external: round(usage.external),
    arrayBuffers: round(usage.arrayBuffers),
    malloced: round(heap.malloced_memory),
    heapLimit: round(heap.heap_size_limit),
    spaces,
  };
  appendFileSync(file!, JSON.stringify(line) + "\n");
}

if (file) {
  setInterval(() => sample("tick"), 1000).unref();
  process.on("SIGUSR2", () => sample("signal"));
}
