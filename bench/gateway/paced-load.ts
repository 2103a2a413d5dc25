// Open-loop load at a steady rate (the way wrk2 measures): request k is sent at start + k/rate
// whether or not earlier answers have come back, so a latency percentile is the one a target shows
// AT that rate. (autocannon's rate option is a per-connection budget per second: each connection
// sends its share as fast as it can and then waits for the next second, which measures latency of
// short saturating bursts, not of a steady rate.)
// Requests are the steps of the 3-request Trino flow: a slot takes the next nextUri of a flow whose
// previous answer has arrived, else starts a new flow with a POST.
import http from "node:http";
import { performance } from "node:perf_hooks";

export interface PacedResult {
  /** Requests answered 2xx. */
  ok: number;
  failed: number;
  /** Requests per second actually sent. */
  sentRate: number;
  p50: number;
  p99: number;
  /** Every 2xx request's latency (ms), ascending. */
  latencies: Float64Array;
}

const NEXT_URI = /"nextUri":"([^"]+)"/;

/** The p-th percentile of ascending latencies (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** A keep-alive agent for pacedFlowLoad; pass one to keep connections across several calls. */
export function pacedAgent(maxSockets = 64): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, noDelay: true } as http.AgentOptions); // noDelay reaches net.connect
}

export function pacedFlowLoad(url: string, options: { rate: number; seconds: number; agent?: http.Agent }): Promise<PacedResult> {
  const target = new URL(url);
  const agent = options.agent ?? pacedAgent();
  const latencies: number[] = [];
  const readyPaths: string[] = [];
  let failed = 0;
  let sent = 0;
  let outstanding = 0;

  const send = (method: "GET" | "POST", path: string) => {
    sent++;
    outstanding++;
    const chunks: Buffer[] = [];
    const request = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        method,
        path,
        agent,
        headers: { "x-trino-user": "bench", ...(method === "POST" ? { "content-length": 8 } : {}) },
      },
      (response) => {
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          outstanding--;
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            failed++;
            return;
          }
          latencies.push(performance.now() - startedAt);
          const next = NEXT_URI.exec(Buffer.concat(chunks).toString("utf8"))?.[1];
          if (next) readyPaths.push(next.replace(/^https?:\/\/[^/]+/, ""));
        });
      },
    );
    request.on("error", () => {
      outstanding--;
      failed++;
    });
    const startedAt = performance.now();
    request.end(method === "POST" ? "SELECT 1" : undefined);
  };

  return new Promise((resolve) => {
    const start = performance.now();
    const endAt = start + options.seconds * 1000;
    const ticker = setInterval(() => {
      const now = performance.now();
      const due = Math.min(Math.floor(((Math.min(now, endAt) - start) * options.rate) / 1000), Math.round(options.seconds * options.rate));
      while (sent < due) {
        const next = readyPaths.shift();
        if (next) send("GET", next);
        else send("POST", "/v1/statement");
      }
      if (now < endAt) return;
      clearInterval(ticker);
      const drainDeadline = now + 5000;
      const finish = () => {
        if (outstanding > 0 && performance.now() < drainDeadline) {
          setTimeout(finish, 10);
          return;
        }
        if (!options.agent) agent.destroy();
        const sorted = Float64Array.from(latencies).sort();
        resolve({
          ok: latencies.length,
          failed: failed + outstanding,
          sentRate: sent / options.seconds,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          latencies: sorted,
        });
      };
      finish();
    }, 1);
  });
}
