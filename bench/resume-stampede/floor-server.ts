// Reference point for bench/resume-stampede, not product code: a bare node:http server that answers
// every request at once with the API server's 202 RESUMING answer — no Koa, auth, Kubernetes or
// metrics. Its p99 under the same stampede is the floor this machine sets (connection handling, the
// load generator and the servers sharing the cores); the gap above it is the API server's own work.
//
//   node bench/resume-stampede/floor-server.ts   (prints {"event":"listening","url":…})
import http from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from(JSON.stringify({ state: "RESUMING", retryAfterSeconds: 5 }));
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(202, { "content-type": "application/json; charset=utf-8", "retry-after": "5", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 5_000;
server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () =>
  console.log(JSON.stringify({ event: "listening", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
);
process.once("SIGTERM", () => process.exit(0));
