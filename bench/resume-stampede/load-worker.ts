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
   * -1: "warm": one already-open connection per request, all requests written at once.
   */
  connections: number;
  /**
   * raw (default): requests written on raw sockets from prepared bytes, so the load generator's own
   * CPU (it shares the machine with the servers) stays small; node-http: node:http requests (agents).
   */
  client?: "raw" | "node-http";
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
      request(job.urls[i % job.urls.length], {
        method: "POST",
        token: job.token,
        agent: job.connections > 0 ? agents[i % agents.length] : undefined,
      }),
    ),
  );
  return summary(
    answers.map((a) => ({ status: a.status, retryAfter: a.headers["retry-after"] !== undefined, ms: a.ms })),
    started,
  );
}

interface Answer {
  status: number;
  retryAfter: boolean;
  ms: number;
}

/**
 * Reads one HTTP/1.1 response (Content-Length framed, as the API server answers) from a socket and
 * resolves with status, Retry-After presence and latency since `started`. Leaves the socket open.
 */
function readAnswer(socket: net.Socket, started: () => number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let received = "";
    const onClose = () => reject(new Error("connection closed before the answer"));
    const onData = (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, headerEnd))?.[1] ?? 0);
      if (received.length - headerEnd - 4 < length) return;
      const ms = performance.now() - started();
      socket.off("data", onData);
      socket.off("error", reject);
      socket.off("close", onClose);
      resolve({ status: Number(received.slice(9, 12)), retryAfter: /\r\nretry-after:/i.test(received.slice(0, headerEnd)), ms });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", onClose);
  });
}

function connect(target: URL): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

function requestBytes(target: URL, token: string, connection: "close" | "keep-alive"): Buffer {
  return Buffer.from(
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${token}\r\nContent-Length: 0\r\nConnection: ${connection}\r\n\r\n`,
    "latin1",
  );
}

function summary(answers: Answer[], started: number): LoadResult {
  return {
    statuses: answers.map((a) => a.status),
    retryAfter: answers.filter((a) => a.retryAfter).length,
    latenciesMs: answers.map((a) => a.ms),
    wallMs: performance.now() - started,
  };
}

/** -1: one already-open connection per request, every request written at once. */
async function warm(job: LoadJob): Promise<LoadResult> {
  const targets = job.urls.map((url) => new URL(url));
  const sockets = await Promise.all(Array.from({ length: job.requests }, (_, i) => connect(targets[i % targets.length])));
  const bytes = targets.map((target) => requestBytes(target, job.token, "close"));
  const started = performance.now();
  const answers = await Promise.all(
    sockets.map((socket, i) => {
      const answer = readAnswer(socket, () => started);
      socket.write(bytes[i % bytes.length]);
      return answer.finally(() => socket.destroy());
    }),
  );
  return summary(answers, started);
}

/** 0: a new connection per request, all connecting at once; latency includes the connect. */
async function freshConnections(job: LoadJob): Promise<LoadResult> {
  const targets = job.urls.map((url) => new URL(url));
  const bytes = targets.map((target) => requestBytes(target, job.token, "close"));
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: job.requests }, async (_, i) => {
      const begun = performance.now();
      const socket = await connect(targets[i % targets.length]);
      const answer = readAnswer(socket, () => begun);
      socket.write(bytes[i % bytes.length]);
      return answer.finally(() => socket.destroy());
    }),
  );
  return summary(answers, started);
}

// Keep-alive pools survive between jobs of the same shape, like a client's connection pool.
let pools: net.Socket[][] = [];
let poolsFor = "";

/** N > 0: N keep-alive connections per target; the target's requests queue for them (latency includes the wait). */
async function pooled(job: LoadJob): Promise<LoadResult> {
  const targets = job.urls.map((url) => new URL(url));
  const key = `${job.urls.map((url) => new URL(url).host).join(",")}/${job.connections}`;
  if (key !== poolsFor || pools.some((pool) => pool.some((socket) => socket.destroyed))) {
    for (const socket of pools.flat()) socket.destroy();
    pools = await Promise.all(targets.map((target) => Promise.all(Array.from({ length: job.connections }, () => connect(target)))));
    poolsFor = key;
  }
  const bytes = targets.map((target) => requestBytes(target, job.token, "keep-alive"));
  const started = performance.now();
  const answers: Answer[] = [];
  // Request i goes to target i % targets; each target's requests share its connections in turn.
  const queues = targets.map((_, t) => Array.from({ length: Math.ceil((job.requests - t) / targets.length) }, () => t));
  await Promise.all(
    pools.flatMap((pool, t) =>
      pool.map(async (socket) => {
        while (queues[t].pop() !== undefined) {
          const answer = readAnswer(socket, () => started);
          socket.write(bytes[t]);
          answers.push(await answer);
        }
      }),
    ),
  );
  return summary(answers, started);
}

parentPort!.on("message", async (job: LoadJob) => {
  const mode = job.client === "node-http" ? viaAgents : job.connections < 0 ? warm : job.connections > 0 ? pooled : freshConnections;
  parentPort!.postMessage(await mode(job));
});
