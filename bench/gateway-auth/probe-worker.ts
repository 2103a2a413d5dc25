// Worker thread of bench/gateway-auth/run.ts: GETs a URL every `intervalMs` on its own event loop
// (the flood in the main thread must not delay the probe's own timing) until told to stop; posts
// the latencies (ms) and the failure count.
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { url, intervalMs, from } = workerData as { url: string; intervalMs: number; from: string };
const latencies: number[] = [];
let failures = 0;
let stopping = false;
parentPort!.on("message", () => (stopping = true));

function probe(): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { localAddress: from, agent: false, timeout: 30_000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode === 200));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(false));
  });
}

while (!stopping) {
  const start = performance.now();
  if (!(await probe())) failures++;
  latencies.push(performance.now() - start);
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
parentPort!.postMessage({ latencies, failures });
