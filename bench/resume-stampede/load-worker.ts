// The benchmark's load generator, on its own thread so that sending and timing 1,000 requests does
// not share an event loop with the Kubernetes API test server the API servers call during the stampede.
import http from "node:http";
import { parentPort } from "node:worker_threads";
import { request } from "../../test/apiserver/http.ts";

export interface LoadJob {
  urls: string[];
  token: string;
  requests: number;
  /** Keep-alive sockets per target; 0 = a new connection per request. */
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

parentPort!.on("message", async (job: LoadJob) => {
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
  const result: LoadResult = {
    statuses: answers.map((a) => a.status),
    retryAfter: answers.filter((a) => a.headers["retry-after"] !== undefined).length,
    latenciesMs: answers.map((a) => a.ms),
    wallMs: performance.now() - started,
  };
  parentPort!.postMessage(result);
});
