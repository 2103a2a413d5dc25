// The benchmark's load generator, on its own thread so that sending and timing 1,000 requests does
// not share an event loop with the Kubernetes API test server the API servers call during the stampede.
import http from "node:http";
import net from "node:net";
import { parentPort } from "node:worker_threads";
import { request } from "../../test/apiserver/http.ts";

export interface LoadJob {
  urls: string[];
  token: string;
  requests: number;
  /**
   * > 0: that many keep-alive sockets per target (requests queue for a socket, as behind a client pool);
   * 0: a new connection per request (connect time included);
   * -1: "warm": one already-open connection per request, all requests written at once (raw sockets, so
   *     the client's own cost stays small against the server's).
   */
  connections: number;
}

export interface LoadResult {
  statuses: number[];
  retryAfter: number;
  latenciesMs: number[];
  wallMs: number;
}

let agents: http.Agent[] = [];
let agentsFor = "";

async function viaAgents(job: LoadJob): Promise<LoadResult> {
  const key = `${job.urls.length}/${job.connections}`;
  if (key !== agentsFor) {
    for (const agent of agents) agent.destroy();
    agents = job.urls.map(() => new http.Agent({ keepAlive: true, maxSockets: job.connections }));
    agentsFor = key;
  }
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: job.requests }, (_, i) =>
      request(job.urls[i % job.urls.length], { method: "POST", token: job.token, agent: job.connections > 0 ? agents[i % agents.length] : undefined }),
    ),
  );
  return {
    statuses: answers.map((a) => a.status),
    retryAfter: answers.filter((a) => a.headers["retry-after"] !== undefined).length,
    latenciesMs: answers.map((a) => a.ms),
    wallMs: performance.now() - started,
  };
}

/** One request on an open socket; resolves with status, Retry-After presence and latency from the write. */
function exchange(socket: net.Socket, bytes: Buffer): Promise<{ status: number; retryAfter: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    let received = "";
    let started = 0;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, headerEnd))?.[1] ?? 0);
      if (received.length - headerEnd - 4 < length) return;
      const ms = performance.now() - started;
      socket.destroy();
      resolve({ status: Number(received.slice(9, 12)), retryAfter: /\r\nretry-after:/i.test(received.slice(0, headerEnd)), ms });
    });
    socket.once("error", reject);
    started = performance.now();
    socket.write(bytes);
  });
}

async function warm(job: LoadJob): Promise<LoadResult> {
  const targets = job.urls.map((url) => new URL(url));
  const sockets = await Promise.all(
    Array.from({ length: job.requests }, (_, i) => {
      const target = targets[i % targets.length];
      return new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(Number(target.port), target.hostname, () => resolve(socket));
        socket.setNoDelay(true);
        socket.once("error", reject);
      });
    }),
  );
  const requests = targets.map((target) =>
    Buffer.from(`POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${job.token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, "latin1"),
  );
  const started = performance.now();
  const answers = await Promise.all(sockets.map((socket, i) => exchange(socket, requests[i % requests.length])));
  return {
    statuses: answers.map((a) => a.status),
    retryAfter: answers.filter((a) => a.retryAfter).length,
    latenciesMs: answers.map((a) => a.ms),
    wallMs: performance.now() - started,
  };
}

parentPort!.on("message", async (job: LoadJob) => {
  parentPort!.postMessage(job.connections < 0 ? await warm(job) : await viaAgents(job));
});
